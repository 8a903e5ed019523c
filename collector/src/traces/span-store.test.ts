import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database.ts';
import { allowRunningCheck } from '../store/running-check.ts';
import { LogStore } from '../store/log-store.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { Retention } from '../store/retention.ts';
import { SpanStore } from './span-store.ts';
import { searchTraces } from './trace-search.ts';
import type { SpanRecord } from './span.ts';

let dir: string;
let db: DatabaseSync;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'periscope-spans-'));
  db = openDatabase(dir, 'normal');
  allowRunningCheck(db); // as the query thread's connection, where searches run
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const BASE = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z in ns

function span(traceId: string, spanId: string, startMs: number, durMs: number, extra: Partial<SpanRecord> = {}): SpanRecord {
  const startNs = BASE + BigInt(startMs) * 1_000_000n + 123n; // sub-µs digits must survive
  return {
    traceId, spanId, parentSpanId: null, name: 'op', kind: 2, startNs, endNs: startNs + BigInt(durMs) * 1_000_000n,
    service: 'shop', job: 'shop', instance: 'i-1', statusCode: 0, statusMessage: '', attributes: { a: 1 }, events: [], links: [], resource: { 'host.name': 'h' }, scope: { name: 's' }, ...extra,
  };
}

const T1 = '1'.repeat(32);
const T2 = '2'.repeat(32);
const T3 = '3'.repeat(32);

describe('span store', () => {
  it('stores spans with exact nanosecond times; a resent span is skipped and not returned as new', () => {
    const store = new SpanStore(db);
    const a = span(T1, 'a'.repeat(16), 0, 100);
    expect(store.append([a, span(T1, 'b'.repeat(16), 10, 20, { parentSpanId: 'a'.repeat(16), statusCode: 2, statusMessage: 'x' })])).toHaveLength(2);
    expect(store.append([a])).toEqual([]);
    expect(store.count()).toBe(2);
    const [root, child] = store.trace(T1, 100).spans;
    expect(root).toMatchObject({
      spanId: 'a'.repeat(16), parentSpanId: null, kind: 'SPAN_KIND_SERVER', service: 'shop', instance: 'i-1',
      startTime: '2026-01-01T00:00:00.000000Z', startTimeUnixNano: '1767225600000000123', endTimeUnixNano: '1767225600100000123', durationMs: 100,
      status: { code: 'STATUS_CODE_UNSET', message: '' }, attributes: { a: 1 }, resource: { 'host.name': 'h' }, scope: { name: 's' },
    });
    expect(child).toMatchObject({ parentSpanId: 'a'.repeat(16), status: { code: 'STATUS_CODE_ERROR', message: 'x' } });
  });

  it('search: a filter matching no span still calls into JavaScript as it reads, so a query thread past its timeout can be stopped', () => {
    const store = new SpanStore(db);
    const spans = Array.from({ length: 10_000 }, (_, i) => span(i.toString(16).padStart(32, '0'), i.toString(16).padStart(16, '0'), i, 1));
    store.append(spans);
    let calls = 0;
    db.function('periscope_running', { deterministic: false }, () => (calls++, 1));
    expect(searchTraces(db, { attributes: [{ key: 'a', value: 'none' }], limit: 10 }).traces).toEqual([]);
    // One call per 256 spans read (terminate() takes effect at the next).
    expect(calls).toBeGreaterThanOrEqual(Math.floor(10_000 / 256) - 1);
  });

  it('search: by service, operation, duration and time; newest first; one entry per trace with a summary', () => {
    const store = new SpanStore(db);
    store.append([
      span(T1, '1'.repeat(16), 0, 500, { name: 'GET /a' }),
      span(T1, '2'.repeat(16), 100, 20, { name: 'SELECT', parentSpanId: '1'.repeat(16), service: 'db', statusCode: 2 }),
      span(T2, '3'.repeat(16), 60_000, 30, { name: 'GET /a' }),
      span(T3, '4'.repeat(16), 120_000, 900, { name: 'GET /b', service: 'other' }),
    ]);
    expect(searchTraces(db, { limit: 10 }).traces.map((t) => t.traceId)).toEqual([T3, T2, T1]);
    expect(searchTraces(db, { service: 'shop', operation: 'GET /a', limit: 10 }).traces.map((t) => t.traceId)).toEqual([T2, T1]);
    expect(searchTraces(db, { minDurationNs: 100e6, limit: 10 }).traces.map((t) => t.traceId)).toEqual([T3, T1]);
    expect(searchTraces(db, { service: 'db', limit: 10 }).traces.map((t) => t.traceId)).toEqual([T1]);
    const start = Number(BASE / 1000n) + 30_000_000;
    expect(searchTraces(db, { startMicros: start, endMicros: start + 60_000_000, limit: 10 }).traces.map((t) => t.traceId)).toEqual([T2]);
    expect(searchTraces(db, { limit: 2 }).traces).toHaveLength(2);
    const [t1] = searchTraces(db, { operation: 'SELECT', limit: 1 }).traces;
    expect(t1).toEqual({ traceId: T1, rootService: 'shop', rootName: 'GET /a', startTime: '2026-01-01T00:00:00.000000Z', durationMs: 500, spanCount: 2, errorCount: 1, services: ['db', 'shop'] });
  });

  it('search summary: the root is the span without a parent, else the earliest whose parent has not arrived', () => {
    const store = new SpanStore(db);
    store.append([
      span(T1, '2'.repeat(16), 10, 20, { name: 'child', parentSpanId: '1'.repeat(16) }), // its parent never arrived
      span(T1, '3'.repeat(16), 5, 50, { name: 'orphan', parentSpanId: 'f'.repeat(16), service: 'edge' }),
      span(T2, '5'.repeat(16), 0, 10, { name: 'inner', parentSpanId: '4'.repeat(16) }),
      span(T2, '4'.repeat(16), 1, 40, { name: 'root' }),
    ]);
    const byId = new Map(searchTraces(db, { limit: 10 }).traces.map((t) => [t.traceId, t]));
    expect(byId.get(T1)).toMatchObject({ rootService: 'edge', rootName: 'orphan', spanCount: 2, durationMs: 50 });
    expect(byId.get(T2)).toMatchObject({ rootService: 'shop', rootName: 'root', spanCount: 2, durationMs: 41 });
  });

  it('a span lasting longer than 2^53 ns (104 days) is searched and read back for the warm-up', () => {
    const store = new SpanStore(db);
    const long = { ...span(T1, 'a'.repeat(16), 0, 0), startNs: 1_000_000_000n, endNs: BASE }; // 1970 → 2026
    store.append([long]);
    expect(searchTraces(db, { limit: 10 }).traces.map((t) => t.traceId)).toEqual([T1]);
    const [timing] = store.timingsAfter(0, Number.MAX_SAFE_INTEGER, 0, 10);
    expect(timing.durationNs).toBeCloseTo(Number(BASE - 1_000_000_000n), -6);
  });

  it('retention deletes spans past traces.retention.maxAge, independently of the logs', async () => {
    const store = new SpanStore(db);
    new LogStore(db);
    const now = Number(BASE / 1_000_000n) + 10 * 86_400_000;
    store.append([span(T1, 'a'.repeat(16), 0, 1), span(T2, 'b'.repeat(16), 9 * 86_400_000, 1)]);
    const retention = new Retention(db, { maxAgeMs: 30 * 86_400_000, maxBytes: 1e12, schedule: '* * * * *', tables: [{ table: 'spans', maxAgeMs: 7 * 86_400_000 }] }, () => now);
    await retention.run();
    expect(store.trace(T1, 10).spans).toEqual([]);
    expect(store.trace(T2, 10).spans).toHaveLength(1);
    expect(retention.tableDeleted.spans).toEqual({ age: 1, size: 0 });
  });

  it('retention never frees the newest position: a span export cursor past it sees the next spans', async () => {
    const store = new SpanStore(db);
    new LogStore(db);
    const now = Number(BASE / 1_000_000n) + 30 * 86_400_000;
    store.append([span(T1, 'a'.repeat(16), 0, 1), span(T1, 'b'.repeat(16), 1, 1)]); // both past maxAge
    const cursor = store.lastId();
    await new Retention(db, { maxAgeMs: 1e12, maxBytes: 1e12, schedule: '* * * * *', tables: [{ table: 'spans', maxAgeMs: 7 * 86_400_000 }] }, () => now).run();
    expect(store.readAfter(0, 10).map((r) => r.span.spanId)).toEqual(['b'.repeat(16)]);
    store.append([span(T2, 'c'.repeat(16), 29 * 86_400_000, 1)]);
    expect(store.readAfter(cursor, 10).map((r) => r.span.spanId)).toEqual(['c'.repeat(16)]);
  });

  // Spans may each be up to traces.maxSpanBytes (1 MiB): read by count alone, a trace of such spans
  // or an export batch of 2 000 of them was gigabytes in memory.
  it('trace and readAfter stop at a bound on the spans\' stored text, the first span always, and say when there is more', () => {
    const store = new SpanStore(db);
    const big = { attributes: { v: 'x'.repeat(10_000) } };
    store.append([0, 1, 2, 3, 4].map((i) => span(T1, String(i + 1).repeat(16), i, 1, big)));
    const cut = store.trace(T1, 100, 25_000);
    expect(cut.spans.map((s) => s.spanId)).toEqual(['1'.repeat(16), '2'.repeat(16)]);
    expect(cut.truncated).toBe(true);
    expect(store.trace(T1, 100, 10).spans).toHaveLength(1);
    expect(store.trace(T1, 3).truncated).toBe(true);
    expect(store.trace(T1, 5)).toMatchObject({ truncated: false, spans: { length: 5 } });
    expect(store.readAfter(0, 100, 25_000)).toHaveLength(2);
    expect(store.readAfter(0, 100, 10)).toHaveLength(1);
    expect(store.readAfter(0, 100)).toHaveLength(5);
  });

  it('retention size rule: the table holding the oldest row loses rows first', async () => {
    const store = new SpanStore(db);
    const logs = new LogStore(db);
    const now = Number(BASE / 1_000_000n) + 86_400_000;
    const big = { blob: 'x'.repeat(2000) };
    store.append(Array.from({ length: 300 }, (_, i) => span(T1, i.toString(16).padStart(16, '0'), i, 1, { attributes: big })));
    const t = new Date(now - 1000).toISOString();
    logs.append(LogBatch.fromRecords(Array.from({ length: 10 }, () => ({ timestamp: t, severity: 6, level: 'info' as const, facility: 1, msg: 'recent' })), Array(10).fill((now - 1000) * 1000)));
    const onDeleted = (table: string, rows: number) => (table === 'spans' ? store : logs).noteDeleted(rows);
    const retention = new Retention(db, { maxAgeMs: 1e12, maxBytes: 200_000, schedule: '* * * * *', tables: [{ table: 'spans', maxAgeMs: 1e12 }], onDeleted }, () => now);
    await retention.run();
    expect(store.count()).toBe(1); // CHUNK deletes the 299 oldest spans at once; the newest row is never deleted
    expect(logs.count()).toBe(10);
    expect(retention.tableDeleted.spans.size).toBe(299);
  });
});
