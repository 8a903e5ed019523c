// The delivery contract with an in-process sink: cursor, per-item outcomes, bisection, bounds
// and policies, retention interplay, shutdown.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeriscopeError } from '../errors.ts';
import { Retention } from '../store/retention.ts';
import { logHarness, testDeliveryOptions, testRecord } from './describe-exporter.ts';
import type { ExportResult } from './result.ts';
import type { BatchResult, LogItem, LogSink } from './sink.ts';

type Behaviour = (items: LogItem[]) => BatchResult;

/** Stores what it accepts; `behaviour` decides each answer (default: success). */
class FakeSink implements LogSink {
  readonly type = 'fake';
  readonly endpoint = 'fake://backend';
  readonly deliveries = new Map<number, number>();
  readonly requests: number[][] = [];
  behaviour: Behaviour = () => ({ result: { status: 'success' } });
  delayMs = 0;
  estimateBytes = (_bodyBytes: number) => 100;
  async send(items: LogItem[]): Promise<BatchResult> {
    this.requests.push(items.map((i) => i.id));
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const answer = this.behaviour(items);
    items.forEach((item, i) => {
      const r = answer.items?.[i] ?? answer.result;
      if (r.status === 'success') this.deliveries.set(item.id, (this.deliveries.get(item.id) ?? 0) + 1);
    });
    return answer;
  }
}

const down: Behaviour = () => ({ result: { status: 'retryable', error: 'network error: connect ECONNREFUSED' } });

async function until(fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function metric(h: ReturnType<typeof logHarness>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await h.registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

const harnesses: Array<ReturnType<typeof logHarness>> = [];
function harness() {
  const h = logHarness();
  harnesses.push(h);
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

describe('cursor', () => {
  it('delivers every record once, in order of positions, and persists the cursor; a restart resumes after it', async () => {
    const h = harness();
    const sink = new FakeSink();
    const options = testDeliveryOptions('x', { batch: { maxRecords: 7, maxBytes: 1 << 20, waitMs: 1 } });
    let d = h.delivery(sink, options);
    d.start();
    h.append(Array.from({ length: 50 }, () => testRecord()));
    await until(() => d.cursor === 50);
    expect(h.kv.get('exporter:x:cursor')).toBe('50');
    await d.shutdown();
    h.append(Array.from({ length: 10 }, () => testRecord()));
    d = h.delivery(sink, options);
    d.start();
    await until(() => d.cursor === 60);
    await d.shutdown();
    expect([...sink.deliveries.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect([...sink.deliveries.values()].every((n) => n === 1)).toBe(true);
    expect(sink.requests.every((ids) => ids.length <= 7)).toBe(true);
  });

  it('a new exporter starts at the end of the log (startFrom: end) or at its beginning', async () => {
    const h = harness();
    h.append([testRecord(), testRecord()]);
    const atEnd = new FakeSink();
    const fromStart = new FakeSink();
    const a = h.delivery(atEnd, testDeliveryOptions('end'));
    const b = h.delivery(fromStart, testDeliveryOptions('begin', { startFrom: 'beginning' }));
    a.start();
    b.start();
    h.append([testRecord()]);
    await until(() => a.cursor === 3 && b.cursor === 3);
    await Promise.all([a.shutdown(), b.shutdown()]);
    expect([...atEnd.deliveries.keys()]).toEqual([3]);
    expect([...fromStart.deliveries.keys()].sort()).toEqual([1, 2, 3]);
  });
});

describe('a failing database', () => {
  // SQLITE_FULL on a full disk, for one: the loop ended, and the exporter delivered nothing more
  // until the collector restarted, while its health said up.
  it('a write of the cursor that fails once: delivery starts again from the cursor, nothing is skipped', async () => {
    const h = harness();
    const sink = new FakeSink();
    const options = testDeliveryOptions('x', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 } });
    const set = h.kv.set.bind(h.kv);
    let failures = 0;
    h.kv.set = (key, value) => {
      if (key === 'exporter:x:cursor' && value !== '0' && failures++ === 0) throw new Error('database or disk is full'); // the first move
      set(key, value);
    };
    const d = h.delivery(sink, options);
    d.start();
    h.append(Array.from({ length: 20 }, () => testRecord()));
    await until(() => d.cursor === 20);
    await d.shutdown();
    expect(failures).toBeGreaterThan(0);
    expect(h.kv.get('exporter:x:cursor')).toBe('20');
    expect([...sink.deliveries.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

describe('a full disk that lasts', () => {
  it('a cursor that cannot be saved: delivery goes on from the cursor in memory, each record sent once, and saves it once it can', async () => {
    const h = harness();
    const sink = new FakeSink();
    const options = testDeliveryOptions('x', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 } });
    const set = h.kv.set.bind(h.kv);
    let full = true;
    h.kv.set = (key, value) => {
      if (key === 'exporter:x:cursor' && value !== '0' && full) throw new Error('database or disk is full');
      set(key, value);
    };
    const lines: string[] = [];
    const log = (level: string) => (_obj: object, msg?: string) => void lines.push(`${level} ${msg ?? ''}`);
    const d = h.delivery(sink, options, { info: log('info'), warn: log('warn'), error: log('error') });
    d.start();
    h.append(Array.from({ length: 20 }, () => testRecord()));
    await until(() => d.cursor === 20);
    // Not a loop restart per batch (a second each, the batches in flight sent again)
    expect([...sink.deliveries.values()]).toEqual(Array(20).fill(1));
    expect(lines.filter((l) => l.includes('delivery loop failed'))).toEqual([]);
    expect(lines.filter((l) => l.includes('cannot save its cursor'))).toHaveLength(1);
    expect(h.kv.get('exporter:x:cursor')).toBe('0');
    full = false;
    h.append([testRecord()]);
    await until(() => h.kv.get('exporter:x:cursor') === '21');
    await d.shutdown();
  });
});

describe('reading the log', () => {
  it('a batch full by bytes leaves at once; the rest waits for batch.wait', async () => {
    const h = harness();
    const sink = new FakeSink(); // 100 bytes per record: maxBytes 5 000 -> full at 50
    const d = h.delivery(sink, testDeliveryOptions('full', { batch: { maxRecords: 1000, maxBytes: 5000, waitMs: 600_000 } }));
    d.start();
    h.append(Array.from({ length: 120 }, () => testRecord()));
    await until(() => d.cursor === 100);
    expect(sink.requests.map((ids) => ids.length)).toEqual([50, 50]);
    await d.shutdown(); // flushes the 20 left
    expect(sink.requests.map((ids) => ids.length)).toEqual([50, 50, 20]);
  });

  it('batch.maxBytes counts UTF-8 bytes: batches of mostly non-ASCII records stay under it too', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.estimateBytes = (bodyBytes: number) => bodyBytes; // as the Loki sink
    const maxBytes = 8000;
    const d = h.delivery(sink, testDeliveryOptions('utf8', { batch: { maxRecords: 1000, maxBytes, waitMs: 1 } }));
    const records = Array.from({ length: 60 }, (_, i) => testRecord({ msg: `${i} ${'日本語のログ'.repeat(60)}` })); // ~1.1 KB in UTF-8, ~400 UTF-16 units
    const bytesOf = new Map(records.map((r, i) => [i + 1, Buffer.byteLength(JSON.stringify(r))]));
    d.start();
    h.append(records);
    await until(() => d.cursor === 60);
    await d.shutdown();
    const sizes = sink.requests.map((ids) => ids.reduce((n, id) => n + bytesOf.get(id)!, 0));
    expect(sink.deliveries.size).toBe(60);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxBytes);
    expect(sink.requests.length).toBeLessThanOrEqual(Math.ceil(60 / Math.floor(maxBytes / Math.max(...bytesOf.values()))));
  });

  it('a backlog is read back in order, each row once, about one batch per read when maxBytes cuts the batches', async () => {
    const h = harness();
    const sink = new FakeSink(); // 100 bytes per record: maxBytes 5 000 -> batches of 50
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('reads', { batch: { maxRecords: 1000, maxBytes: 5000, waitMs: 1 } }));
    const fromLog: number[] = [];
    const limits: number[] = [];
    const readAfter = h.store.readAfter.bind(h.store);
    h.store.readAfter = ((afterId, limit, make) => {
      limits.push(limit);
      const rows = readAfter(afterId, limit, make);
      for (const row of rows) fromLog.push((row as { id: number }).id);
      return rows;
    }) as typeof h.store.readAfter;
    d.start();
    for (let b = 0; b < 20; b++) h.append(Array.from({ length: 100 }, () => testRecord())); // an outage's backlog
    await until(() => sink.requests.length > 0);
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 2000);
    h.append(Array.from({ length: 30 }, () => testRecord())); // caught up: read back as well
    await until(() => d.cursor === 2030);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(2030);
    expect([...sink.deliveries.values()].every((n) => n === 1)).toBe(true);
    expect(sink.requests.every((ids) => ids.length <= 50)).toBe(true);
    // rows past a batch's byte cut serve the next batch instead of being read again
    expect(fromLog).toEqual(Array.from({ length: 2030 }, (_, i) => i + 1));
    // reads sized to a batch (50 records and a margin), not to maxRecords (1 000)
    expect(Math.max(...limits)).toBeLessThan(100);
  });
});

describe('per-item outcomes', () => {
  it('re-sends only the items that failed retryably; permanent ones become dead letters with the reason', async () => {
    const h = harness();
    const sink = new FakeSink();
    const tries = new Map<number, number>();
    sink.behaviour = (items) => ({
      result: { status: 'success', httpStatus: 200 },
      items: items.map((it): ExportResult => {
        const n = (tries.get(it.id) ?? 0) + 1;
        tries.set(it.id, n);
        if (it.record.msg === 'mapping error') return { status: 'permanent', httpStatus: 400, error: 'HTTP 400: mapper_parsing_exception: failed to parse [x]' };
        if (it.id % 3 === 0 && n < 3) return { status: 'retryable', httpStatus: 429, error: 'HTTP 429: es_rejected_execution_exception' };
        return { status: 'success', httpStatus: 201 };
      }),
    });
    const d = h.delivery(sink, testDeliveryOptions('items'));
    d.start();
    const records = Array.from({ length: 20 }, () => testRecord());
    records[4] = testRecord({ msg: 'mapping error' });
    h.append(records);
    await until(() => d.cursor === 20);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(19);
    for (const [id, n] of tries) expect(n).toBe(id === 5 ? 1 : id % 3 === 0 ? 3 : 1);
    const letters = h.deadLetters.list({ limit: 10 });
    expect(letters).toEqual([expect.objectContaining({ exporter: 'items', logId: 5, status: 400, reason: 'HTTP 400: mapper_parsing_exception: failed to parse [x]', record: records[4] })]);
    expect(await metric(h, 'periscope_exporter_dead_lettered_items_total')).toBe(1);
    expect(await metric(h, 'periscope_exporter_sent_items_total')).toBe(19);
  });

  it('a record refused again after a restart updates its letter and is not counted as dead-lettered twice', async () => {
    const h = harness();
    const sink = new FakeSink();
    // Record 1 is retried (the cursor stays at 0) while record 8, in the next batch, is refused for good.
    let holdFirst = true;
    sink.behaviour = (items) => ({
      result: { status: 'success' },
      items: items.map((i) =>
        i.record.msg === 'bad' ? { status: 'permanent' as const, httpStatus: 400, error: 'HTTP 400: bad' } : holdFirst && i.id === 1 ? { status: 'retryable' as const, httpStatus: 429, error: 'HTTP 429' } : { status: 'success' as const },
      ),
    });
    const options = testDeliveryOptions('dl-restart', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 } });
    let d = h.delivery(sink, options);
    d.start();
    h.append(Array.from({ length: 10 }, (_, i) => testRecord({ msg: i === 7 ? 'bad' : `good ${i}` })));
    await until(() => h.deadLetters.count('dl-restart') === 1);
    await d.shutdown();
    expect(d.cursor).toBe(0);
    holdFirst = false;
    d = h.delivery(sink, options); // the next start sends both batches again
    d.start();
    await until(() => d.cursor === 10);
    await d.shutdown();
    expect(h.deadLetters.list({ limit: 10 })).toEqual([expect.objectContaining({ logId: 8, attempts: 2 })]);
    expect(await metric(h, 'periscope_exporter_dead_lettered_items_total')).toBe(1);
  });

  it('a dead-letter write that fails once (a full disk): delivery starts again from the cursor instead of ending the process', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = (items) => ({
      result: { status: 'success' },
      items: items.map((i) => (i.record.msg === 'bad' ? { status: 'permanent' as const, httpStatus: 400, error: 'HTTP 400: bad' } : { status: 'success' as const })),
    });
    const add = h.deadLetters.add.bind(h.deadLetters);
    let failures = 0;
    h.deadLetters.add = (...args) => {
      if (failures++ === 0) throw new Error('database or disk is full');
      return add(...args);
    };
    const d = h.delivery(sink, testDeliveryOptions('dl', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 } }));
    d.start();
    h.append(Array.from({ length: 20 }, (_, i) => testRecord({ msg: i === 7 ? 'bad' : `good ${i}` })));
    await until(() => d.cursor === 20);
    await d.shutdown();
    expect(failures).toBe(2);
    expect(h.deadLetters.list({ limit: 10 })).toEqual([expect.objectContaining({ logId: 8, reason: 'HTTP 400: bad' })]);
    expect([...sink.deliveries.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1).filter((id) => id !== 8));
  });

  it('a whole-batch 400 that may come from some entries is bisected until the bad ones are alone', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = (items) => {
      const bad = items.filter((i) => i.record.msg.startsWith('bad'));
      if (bad.length === 0) return { result: { status: 'success' } };
      return { result: { status: 'permanent', httpStatus: 400, error: `HTTP 400: ${bad.map((b) => `line too long: ${b.record.msg}`).join('; ')}` }, bisect: true };
    };
    const d = h.delivery(sink, testDeliveryOptions('bisect', { batch: { maxRecords: 64, maxBytes: 1 << 20, waitMs: 1 } }));
    d.start();
    h.append(Array.from({ length: 64 }, (_, i) => testRecord({ msg: i === 9 || i === 50 ? `bad ${i}` : `good ${i}` })));
    await until(() => d.cursor === 64);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(62);
    expect([...sink.deliveries.values()].every((n) => n === 1)).toBe(true);
    expect(h.deadLetters.list({ limit: 10 }).map((l) => l.reason)).toEqual(['HTTP 400: line too long: bad 9', 'HTTP 400: line too long: bad 50']);
    expect(sink.requests.length).toBeLessThan(30); // ~2·log2(64) per bad record, not 64
  });

  it('records the sink refuses before sending (check) are dead-lettered with status 0 and never sent', async () => {
    const h = harness();
    const sink = new FakeSink();
    (sink as LogSink).check = (item) => (item.record.msg.length > 10 ? `line too long: ${item.record.msg.length}` : undefined);
    const d = h.delivery(sink, testDeliveryOptions('check'));
    d.start();
    h.append([testRecord({ msg: 'short' }), testRecord({ msg: 'a very long line' })]);
    await until(() => d.cursor === 2);
    await d.shutdown();
    expect(sink.requests.flat()).toEqual([1]);
    expect(h.deadLetters.list({ limit: 10 })).toEqual([expect.objectContaining({ logId: 2, status: 0, reason: 'line too long: 16' })]);
  });
});

describe('bounds and policies', () => {
  it('backpressure: at the bound ingest is refused with 429 + Retry-After, retention keeps what the exporter needs; recovery drains all', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('bp', { queue: { maxRecords: 30, maxBytes: 1 << 30, maxAgeMs: 3_600_000, policy: 'backpressure' } }));
    d.start();
    h.ingest.setAdmission(() => {
      const o = d.overload();
      return o && { message: `exporter ${o.exporter} at its bound (${o.bound})`, retryAfterSeconds: o.retryAfterSeconds, details: o };
    });
    let refused: PeriscopeError | undefined;
    let accepted = 0;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        h.append(Array.from({ length: 10 }, () => testRecord()));
        accepted += 10;
      } catch (err) {
        refused = err as PeriscopeError;
      }
    }
    expect(accepted).toBe(40); // the append that crossed the bound was accepted; the next one refused
    expect(refused).toBeInstanceOf(PeriscopeError);
    expect(refused).toMatchObject({ code: 'PERISCOPE_ERR_OVERLOADED', statusCode: 429, details: { exporter: 'bp', bound: 'records' } });
    expect(refused!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(d.health().overloaded).toBe('records');

    // Retention under pressure (tiny maxBytes) must not delete anything the exporter still needs.
    const retention = new Retention(h.db, { maxAgeMs: 0, maxBytes: 0, schedule: '* * * * *' });
    retention.setGuard({ protectedFromId: () => d.protectedFromId(), beforeDelete: (ids) => d.beforeRetentionDelete(ids, () => []) });
    await retention.run();
    expect(h.store.count()).toBe(40);

    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 40);
    expect(d.overload()).toBeUndefined();
    h.append([testRecord()]); // accepted again
    await until(() => d.cursor === 41);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(41);
  });

  it('backpressure: Retry-After is the time to deliver a tenth of the bound reached (bytes here), not of queue.maxRecords', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.delayMs = 100; // a backend slower than ingest
    // The bytes bound holds about 40 records; queue.maxRecords (10 million by default) is far away.
    const recordBytes = Buffer.byteLength(JSON.stringify(testRecord()));
    const d = h.delivery(sink, testDeliveryOptions('bp-bytes', { batch: { maxRecords: 10, maxBytes: 1 << 20, waitMs: 1 }, concurrency: 1, queue: { maxRecords: 10_000_000, maxBytes: 40 * recordBytes, maxAgeMs: 3_600_000, policy: 'backpressure' } }));
    d.start();
    let overload: ReturnType<typeof d.overload>;
    // Until the delivery rate is measured (the first 5 s answer stands for "not measured yet").
    for (let deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      h.append(Array.from({ length: 10 }, () => testRecord()));
      await new Promise((r) => setTimeout(r, 20));
      overload = d.overload();
      if (overload?.bound === 'bytes' && overload.retryAfterSeconds !== 5) break;
    }
    await d.shutdown();
    expect(overload).toMatchObject({ bound: 'bytes' });
    // A tenth of ~40 records at the rate this sink delivers takes well under a second: the
    // senders are told to come back in 1 s, not in 60 (0.1 × 10 million records at that rate).
    expect(overload!.retryAfterSeconds).toBeLessThanOrEqual(2);
  });

  it('drop: over the bound, the lowest severities are skipped first and every skip is counted', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('drop', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 }, queue: { maxRecords: 150, maxBytes: 1 << 30, maxAgeMs: 3_600_000, policy: 'drop' } }));
    d.start();
    h.append([testRecord({ severity: 3 })]);
    await until(() => sink.requests.length > 0); // the first batches are in flight (stuck)
    const records = Array.from({ length: 300 }, (_, i) => testRecord({ severity: [7, 6, 3][i % 3] }));
    h.append(records);
    await until(() => d.health().dropRule !== null);
    expect(d.health().dropRule).toMatchObject({ minSeverity: 6 });
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 301);
    await d.shutdown();
    const delivered = [...sink.deliveries.keys()].map((id) => h.store.readAfter(id - 1, 1, (_id, _micros, severity) => severity)[0]);
    expect(delivered.filter((s) => s === 3)).toHaveLength(101); // every err record
    const droppedOverflow = await metric(h, 'periscope_exporter_dropped_items_total', { reason: 'overflow' });
    expect(droppedOverflow + sink.deliveries.size).toBe(301);
    expect(droppedOverflow).toBeGreaterThanOrEqual(180); // debug and info records were skipped
  });

  it('drop: a skipped record is counted once, also when the next start reads it again before the cursor passed it', async () => {
    const h = harness();
    const sink = new FakeSink();
    // The backend is down until the drop rule is made, then takes records up to position 150 only:
    // the batches read past it are retried, and the records skipped between them were counted
    // while the cursor cannot pass them.
    let up = false;
    sink.behaviour = (items) => (up && items.every((i) => i.id <= 150) ? { result: { status: 'success' } } : down(items));
    const options = testDeliveryOptions('drop-restart', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 }, concurrency: 2, queue: { maxRecords: 150, maxBytes: 1 << 30, maxAgeMs: 3_600_000, policy: 'drop' } });
    let d = h.delivery(sink, options);
    d.start();
    h.append(Array.from({ length: 300 }, (_, i) => testRecord({ severity: [7, 6, 3][i % 3] })));
    await until(() => d.health().dropRule !== null);
    up = true;
    await until(() => d.cursor > 140 && d.health().inFlightBatches === 2 && sink.requests.filter((ids) => ids.some((id) => id > 150)).length > 4);
    await d.shutdown();
    expect(d.cursor).toBeLessThanOrEqual(150);
    // The next start reads from the cursor again. Same counters: across a restart Prometheus adds
    // the new process's increase to the old one's.
    sink.behaviour = () => ({ result: { status: 'success' } });
    d = h.delivery(sink, options);
    d.start();
    await until(() => d.cursor === 300);
    await d.shutdown();
    const overflow = await metric(h, 'periscope_exporter_dropped_items_total', { reason: 'overflow' });
    expect(overflow).toBeGreaterThan(0);
    expect(overflow + sink.deliveries.size).toBe(300);
  });

  it('drop: records stuck in flight count in the choice, so a later emerg record is kept while debug ones go', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const logged: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const at = (level: string) => (fields: object, msg?: string) => void logged.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
    const d = h.delivery(sink, testDeliveryOptions('drop-stuck', { batch: { maxRecords: 100, maxBytes: 1 << 20, waitMs: 1 }, concurrency: 2, queue: { maxRecords: 150, maxBytes: 1 << 30, maxAgeMs: 3_600_000, policy: 'drop' } }), { info: at('info'), warn: at('warn'), error: at('error') });
    d.start();
    h.append(Array.from({ length: 200 }, () => testRecord({ severity: 3 })));
    // Both flights (all 200 err records) are read and retried against the dead backend.
    await until(() => new Set(sink.requests.flat()).size === 200);
    await until(() => d.health().dropRule !== null);
    expect(d.health().dropRule).toMatchObject({ minSeverity: 3 });
    // 100 debug and 20 emerg records wait behind the stuck flights.
    h.append(Array.from({ length: 120 }, (_, i) => testRecord({ severity: i % 6 === 0 ? 0 : 7 })));
    await until(() => d.health().dropRule?.uptoId === 320);
    const health = d.health();
    expect(health.dropRule).toMatchObject({ minSeverity: 3 });
    expect(health.queue.records).toBe(220); // the debug records the rule skips are no longer counted
    expect(health.overloaded).toBe('records'); // records in flight cannot be skipped
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 320);
    const delivered = [...sink.deliveries.keys()].map((id) => h.store.readAfter(id - 1, 1, (_id, _micros, severity) => severity)[0]);
    expect(delivered.filter((s) => s === 0)).toHaveLength(20);
    expect(delivered.filter((s) => s === 3)).toHaveLength(200);
    expect(delivered).toHaveLength(220);
    expect(await metric(h, 'periscope_exporter_dropped_items_total', { reason: 'overflow' })).toBe(100);
    await until(() => d.health().dropRule === null); // under the bound again: no longer dropping
    expect(d.health().queue.records).toBe(0);
    await d.shutdown(); // writes the summaries held back
    // Every dropped record is in a warning, its count in `count` (before: only in the metric).
    const dropped = logged.filter((l) => l.msg.startsWith('exporter drop-stuck: ') && / record\(s\) dropped, not delivered: the backlog was over its bound/.test(l.msg));
    expect(dropped.every((l) => l.level === 'warn' && l.fields.reason === 'overflow')).toBe(true);
    expect(dropped.reduce((n, l) => n + (l.fields.count as number), 0)).toBe(100);
  });

  it('drop: records that retention deletes before they were sent are counted (reason retention)', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const logged: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const at = (level: string) => (fields: object, msg?: string) => void logged.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
    const d = h.delivery(sink, testDeliveryOptions('drop-ret', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 }, concurrency: 1, queue: { maxRecords: 1000, maxBytes: 1 << 30, maxAgeMs: 3_600_000, policy: 'drop' } }), { info: at('info'), warn: at('warn'), error: at('error') });
    d.start();
    h.append(Array.from({ length: 50 }, () => testRecord({ timestamp: '2020-01-01T00:00:00.000000Z' })));
    await until(() => sink.requests.length > 0);
    const retention = new Retention(h.db, { maxAgeMs: 86_400_000, maxBytes: 1 << 30, schedule: '* * * * *', onDeleted: (_table, rows) => h.store.noteDeleted(rows) });
    const severities = (ids: number[]) => h.db.prepare('SELECT id, severity FROM logs WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids)) as Array<{ id: number; severity: number }>;
    retention.setGuard({ protectedFromId: () => d.protectedFromId(), beforeDelete: (ids) => d.beforeRetentionDelete(ids, severities) });
    await retention.run();
    expect(h.store.count()).toBe(1); // retention keeps the newest row (it holds the position)
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 50);
    await d.shutdown();
    // the 5 in flight were delivered from memory and the kept newest one from the log; the 44
    // unread ones retention deleted are counted as dropped
    expect(sink.deliveries.size).toBe(6);
    expect(await metric(h, 'periscope_exporter_dropped_items_total', { reason: 'retention' })).toBe(44);
    // … and logged as lost, a warning (before: only counted, nothing in the log).
    expect(logged.filter((l) => /dropped/.test(l.msg))).toEqual([
      { level: 'warn', fields: { exporter: 'drop-ret', reason: 'retention', count: 44 }, msg: 'exporter drop-ret: 44 record(s) dropped, not delivered: deleted by store retention before they were delivered' },
    ]);
  });
});

describe('the log of records refused for good', () => {
  it('a backend refusing every record, dead letters at their bound: the refusals and the letters deleted for room are warnings whose counts add up (one line a batch, and none for the deleted, before)', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = () => ({ result: { status: 'permanent', error: 'HTTP 400: entry too far behind', httpStatus: 400 } });
    const logged: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const at = (level: string) => (fields: object, msg?: string) => void logged.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
    const d = h.delivery(sink, testDeliveryOptions('refused', { batch: { maxRecords: 10, maxBytes: 1 << 20, waitMs: 1 }, concurrency: 1, deadLetterMax: 50 }), { info: at('info'), warn: at('warn'), error: at('error') });
    d.start();
    h.append(Array.from({ length: 200 }, () => testRecord()));
    await until(() => d.cursor === 200);
    await d.shutdown(); // writes the summaries held back
    const sum = (re: RegExp) => logged.filter((l) => re.test(l.msg)).reduce((n, l) => n + (l.fields.count as number), 0);
    const refusals = logged.filter((l) => /refused permanently/.test(l.msg));
    expect(refusals.length).toBeLessThanOrEqual(2); // the first batch's, and a summary of the 19 others
    expect(sum(/record\(s\) refused permanently, moved to the dead letters/)).toBe(200);
    expect(sum(/oldest dead letter\(s\) deleted to keep deadLetter.maxRecords/)).toBe(150);
    expect(logged.filter((l) => /dead letter/.test(l.msg)).every((l) => l.level === 'warn' && l.fields.exporter === 'refused')).toBe(true);
    expect(await metric(h, 'periscope_exporter_dropped_items_total', { reason: 'deadletter_full' })).toBe(150);
  });
});

describe('the log of a failing bound check', () => {
  it('a database failing the check every time: one error line, not one per check (one per second, before)', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const logged: Array<{ level: string; msg: string }> = [];
    const at = (level: string) => (_fields: object, msg?: string) => void logged.push({ level, msg: msg ?? '' });
    const d = h.delivery(sink, testDeliveryOptions('check', { batch: { maxRecords: 10, maxBytes: 1 << 20, waitMs: 1 } }), { info: at('info'), warn: at('warn'), error: at('error') });
    d.start();
    h.append(Array.from({ length: 20 }, () => testRecord()));
    await until(() => sink.requests.length > 0);
    const prepare = h.store.db.prepare.bind(h.store.db);
    let failedChecks = 0;
    h.store.db.prepare = ((sql: string) => {
      if (sql.includes('avg(octet_length(body))')) {
        failedChecks++;
        throw new Error('disk I/O error');
      }
      return prepare(sql);
    }) as typeof h.store.db.prepare;
    await until(() => failedChecks >= 10); // the harness checks every 50 ms
    h.store.db.prepare = prepare;
    const lines = logged.filter((l) => /bound check failed/.test(l.msg));
    expect(lines).toEqual([{ level: 'error', msg: 'exporter check: bound check failed (backlog size and drop rule not updated; tried again every second)' }]);
    await d.shutdown();
  });
});

describe('dead-letter replay', () => {
  it('while the circuit is open (backend down) answers at once that the letters were not sent, instead of waiting for the circuit', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('replay-down', { breaker: { failureThreshold: 1, openMs: 10_000, maxOpenMs: 20_000 } }));
    d.start();
    h.deadLetters.add('replay-down', [{ logId: 1, micros: 1, record: testRecord({ msg: 'refused once' }), reason: 'HTTP 400: bad', status: 400 }], 10);
    h.append([testRecord()]); // its delivery fails and opens the circuit for 10 s
    await until(() => d.breaker.state === 'open');
    const letters = h.deadLetters.list({ limit: 10 }) as Parameters<typeof d.replay>[0];
    const started = Date.now();
    const outcome = await d.replay(letters, new AbortController().signal);
    const took = Date.now() - started;
    await d.shutdown();
    expect(outcome.delivered).toEqual([]);
    expect(outcome.failed).toEqual([expect.objectContaining({ result: expect.objectContaining({ status: 'retryable', error: expect.stringMatching(/^network error.*circuit open/) }) })]);
    expect(took).toBeLessThan(5_000);
  });
});

describe('shutdown', () => {
  it('flushes the backlog within the deadline', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.delayMs = 20;
    const d = h.delivery(sink, testDeliveryOptions('flush', { batch: { maxRecords: 10, maxBytes: 1 << 20, waitMs: 60_000 }, shutdownTimeoutMs: 10_000 }));
    d.start();
    h.append(Array.from({ length: 95 }, () => testRecord()));
    await d.shutdown(); // batch.wait is a minute: only the shutdown flush sends them
    expect(d.cursor).toBe(95);
    expect(h.kv.get('exporter:flush:cursor')).toBe('95');
  });

  it('gives up at the deadline when the backend is down, keeping the cursor where delivery stopped', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('dead', { shutdownTimeoutMs: 300 }));
    d.start();
    h.append(Array.from({ length: 5 }, () => testRecord()));
    await until(() => sink.requests.length > 0);
    const t0 = Date.now();
    await d.shutdown();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(h.kv.get('exporter:dead:cursor')).toBe('0');
  });
});

describe('a step of the host wall clock (NTP, a VM resumed, date -s)', () => {
  const realNow = Date.now;
  let step = 0;
  /** Moves Date.now() by `ms` from here on; timers and performance.now() go on as they do. */
  const stepWallClock = (ms: number) => (step = ms);
  beforeEach(() => {
    step = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + step); // before anything keeps Date.now
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const HOUR = 3_600_000;

  it('an hour back does not hold a batch that is not full for an hour (batch.wait is elapsed time)', async () => {
    const h = harness();
    const sink = new FakeSink();
    const d = h.delivery(sink, testDeliveryOptions('step-batch', { batch: { maxRecords: 1000, maxBytes: 1 << 20, waitMs: 200 } }));
    d.start();
    h.append([testRecord(), testRecord(), testRecord()]);
    stepWallClock(-HOUR);
    await until(() => d.cursor === 3);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(3);
  });

  it('an hour back does not keep an open circuit open for an hour', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('step-breaker', { breaker: { failureThreshold: 1, openMs: 300, maxOpenMs: 600 } }));
    d.start();
    h.append([testRecord()]);
    await until(() => d.breaker.state === 'open');
    stepWallClock(-HOUR);
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 1);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(1);
  });

  it('an hour back does not spend the retry budget for an hour', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('step-budget', { budget: { ratio: 0, minPerSecond: 20 } }));
    d.start();
    h.append([testRecord()]);
    await until(() => sink.requests.length >= 2); // retried
    stepWallClock(-HOUR);
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 1);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(1);
  });

  it('two days forward does not drop the waiting records as older than queue.maxAge (policy drop)', async () => {
    const h = harness();
    const sink = new FakeSink();
    sink.behaviour = down;
    const d = h.delivery(sink, testDeliveryOptions('step-age', { batch: { maxRecords: 5, maxBytes: 1 << 20, waitMs: 1 }, queue: { maxRecords: 1000, maxBytes: 1 << 30, maxAgeMs: HOUR, policy: 'drop' } }));
    d.start();
    h.append(Array.from({ length: 5 }, () => testRecord()));
    await until(() => sink.requests.length > 0);
    stepWallClock(48 * HOUR);
    const sent = sink.requests.length;
    await until(() => sink.requests.length >= sent + 2 || d.cursor === 5); // retried with the clock moved (or given up)
    sink.behaviour = () => ({ result: { status: 'success' } });
    await until(() => d.cursor === 5);
    await d.shutdown();
    expect(sink.deliveries.size).toBe(5);
    expect(await metric(h, 'periscope_exporter_dropped_items_total', { reason: 'max_age' })).toBe(0);
  });
});
