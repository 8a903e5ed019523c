// Fan-out through the real collector process to the Loki and Elasticsearch test servers:
// every accepted record reaches every exporter once; Loki 400s and ES per-item failures go to
// the dead letters with the backend's reason; replay after the cause is fixed; health; metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startElasticsearchServer, type ElasticsearchServer } from './servers/elasticsearch.ts';
import { startLokiServer, type LokiServer } from './servers/loki.ts';

let collector: CollectorProcess;
let loki: LokiServer;
let es: ElasticsearchServer;
const API_KEY = 'ZXMta2V5LWZvci10ZXN0cw==';
const run = `run${Date.now()}`;

async function post(records: unknown[]) {
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body: records.map((r) => JSON.stringify(r)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
  return { status: res.status, json: (await res.json()) as any };
}

async function get(path: string) {
  const res = await fetch(collector.url + path);
  return { status: res.status, json: (await res.json()) as any };
}

const messages = (entries: Array<{ line: string }>) => entries.map((e) => e.line).filter((l) => l.includes(run)).sort();

beforeAll(async () => {
  loki = await startLokiServer({ requireTenant: true, limits: { maxLineSize: 500, rejectOldSamplesMaxAgeMs: 3_600_000 } });
  es = await startElasticsearchServer({ auth: { apiKey: API_KEY } });
  collector = await startCollectorProcess({
    configYaml: `
store:
  search:
    indexInterval: 1s
exporters:
  - type: loki
    name: loki-a
    url: ${loki.url}
    tenant: team-a
    batch: { wait: 50ms, maxRecords: 100 }
    # Loki itself must refuse (not the exporter's own checks): the 400 path is what is tested.
    limits: { maxLineSize: "0", rejectOlderThan: "0s" }
    retry: { initialBackoff: 50ms, maxBackoff: 500ms }
  - type: loki
    name: loki-b
    url: ${loki.url}/loki/api/v1/push
    tenant: team-b
    format: json
    batch: { wait: 50ms }
    labels: { static: { env: test } }
  - type: elasticsearch
    name: es
    url: ${es.url}
    auth: { apiKey: ${API_KEY} }
    batch: { wait: 50ms, maxRecords: 100 }
    retry: { initialBackoff: 50ms, maxBackoff: 500ms }
`,
  });
});

afterAll(async () => {
  expect(await collector?.stop()).toBe(0);
  await loki?.close();
  await es?.close();
});

describe('fan-out', () => {
  const valid = Array.from({ length: 300 }, (_, i) => ({
    appName: ['checkout', 'payments', 'search'][i % 3],
    level: ['info', 'warning', 'err', 'debug'][i % 4],
    hostname: `web-${i % 2}`,
    msg: `${run} record ${i}`,
    traceId: i % 5 === 0 ? '0af7651916cd43dd8448eb211c80319c' : undefined,
    // W3C trace flags: sampled, and not sampled
    traceFlags: i % 5 === 0 ? (i % 10 === 0 ? '01' : '00') : undefined,
    attributes: { i, route: '/api/orders' },
  }));
  const tooLong = { appName: 'checkout', msg: `${run} ${'x'.repeat(600)}` };
  const tooOld = { appName: 'checkout', msg: `${run} from two hours ago`, timestamp: new Date(Date.now() - 2 * 3_600_000).toISOString() };

  beforeAll(async () => {
    const res = await post([...valid, tooLong, tooOld]);
    expect(res.json).toEqual({ accepted: 302, rejected: [] });
  });

  it('every accepted record reaches every exporter exactly once', async () => {
    await waitFor(() => messages(loki.entries('team-a')).length === 300 && messages(loki.entries('team-b')).length === 300 && es.docs('logs-periscope-default').length >= 302);
    const expected = valid.map((r) => r.msg).sort();
    expect(messages(loki.entries('team-a'))).toEqual(expected);
    expect(messages(loki.entries('team-b'))).toEqual(expected);
    const docs = es.docs('logs-periscope-default');
    expect(docs.map((d) => String(d.source.message)).filter((m) => m.includes(run)).sort()).toEqual([...expected, tooLong.msg, tooOld.msg].sort());
    // labels per the label policy, the rest as structured metadata
    const a = loki.entries('team-a').find((e) => e.line === `${run} record 0`)!;
    expect(a.labels).toEqual({ service_name: 'checkout', level: 'info', host: 'web-0' });
    expect(a.metadata).toMatchObject({ trace_id: '0af7651916cd43dd8448eb211c80319c', flags: '1', i: '0', route: '/api/orders' });
    // as Loki's own OTLP ingestion: flags 0 (not sampled) are left out
    expect(loki.entries('team-a').find((e) => e.line === `${run} record 5`)!.metadata).not.toHaveProperty('flags');
    expect(loki.entries('team-b').find((e) => e.line === `${run} record 0`)!.labels).toEqual({ service_name: 'checkout', level: 'info', host: 'web-0', env: 'test' });
    expect(loki.pushes.some((p) => p.tenant === 'team-b' && p.format === 'json')).toBe(true);
    expect(docs.find((d) => d.source.message === `${run} record 2`)!.source).toMatchObject({ log: { level: 'err' }, service: { name: 'search' }, host: { name: 'web-0' }, labels: { i: '2', route: '/api/orders' } });
  });

  it('Loki 400s are dead letters with Loki’s reason, listed by GET /api/v1/deadletter', async () => {
    const { json } = (await waitFor(async () => {
      const r = await get('/api/v1/deadletter?exporter=loki-a');
      return r.json.total === 2 ? r : undefined;
    }))!;
    expect(json.items.map((l: any) => l.record.msg).sort()).toEqual([tooLong.msg, tooOld.msg].sort());
    const reasons = json.items.map((l: any) => l.reason).sort();
    expect(reasons[0]).toMatch(/^HTTP 400: Max entry size '500' bytes exceeded for stream '\{level="info", service_name="checkout"\}' while adding an entry with length '\d+' bytes$/);
    expect(reasons[1]).toMatch(/^HTTP 400: entry for stream '.*' has timestamp too old: .*, oldest acceptable timestamp is: /);
    expect(json.items.every((l: any) => l.exporter === 'loki-a' && l.status === 400)).toBe(true);
    expect(json.nextCursor).toBeNull();
    // paged: one letter per page, oldest first, the cursor of page 1 leads to page 2
    const page1 = (await get('/api/v1/deadletter?exporter=loki-a&limit=1')).json;
    expect(page1).toMatchObject({ total: 2, items: [{ id: json.items[0].id }], nextCursor: String(json.items[0].id) });
    const page2 = (await get(`/api/v1/deadletter?exporter=loki-a&limit=1&cursor=${page1.nextCursor}`)).json;
    expect(page2).toMatchObject({ total: 2, items: [{ id: json.items[1].id }], nextCursor: null });
    const badCursor = await get('/api/v1/deadletter?cursor=abc');
    expect(badCursor.status).toBe(400);
    expect(badCursor.json.error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_CURSOR', details: { key: 'cursor' } });
    // loki-b sends one large batch: bisecting it takes a few more round trips
    await waitFor(async () => (await get('/api/v1/deadletter?exporter=loki-b')).json.total === 2);
    expect((await get('/api/v1/deadletter?exporter=es')).json.total).toBe(0);
    const bad = await get('/api/v1/deadletter?exporter=nope');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_QUERY', details: { key: 'exporter' } });
  });

  it('POST /api/v1/deadletter/replay re-sends them once the cause is fixed', async () => {
    const replay = (body: unknown) => fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // a misspelt key is refused, not read as "every exporter"; ids naming no letter are said
    const typo = await replay({ exportr: 'loki-b' });
    expect(typo.status).toBe(400);
    expect(((await typo.json()) as any).error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_QUERY', details: { key: 'exportr' } });
    expect(await (await replay({ exporter: 'loki-b', ids: [999_999] })).json()).toEqual({ replayed: 0, failed: [], remaining: 2, notFound: [999_999] });
    const still = await (await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki-b' }) })).json() as any;
    expect(still).toMatchObject({ replayed: 0, remaining: 2 });
    expect(still.failed[0].reason).toMatch(/^HTTP 400: /);

    loki.limits.maxLineSize = 0;
    loki.limits.rejectOldSamplesMaxAgeMs = 0;
    // and a wider out-of-order window (max_chunk_age): the record is two hours behind its stream
    loki.limits.outOfOrderWindowMs = 0;
    const res = await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki-a' }) });
    expect(await res.json()).toEqual({ replayed: 2, failed: [], remaining: 0 });
    expect(messages(loki.entries('team-a'))).toHaveLength(302);
    expect((await get('/api/v1/deadletter?exporter=loki-b')).json.total).toBe(2); // only what was asked
  });

  it('Elasticsearch per item: 429 retried for those items only, 400 dead-lettered with ES’s reason', async () => {
    const attempts = new Map<string, number>();
    es.itemFault = (doc, id) => {
      const msg = String(doc.message);
      attempts.set(msg, (attempts.get(msg) ?? 0) + 1);
      if (msg.includes('retry-me') && attempts.get(msg)! <= 2) return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' };
      if (msg.includes('bad-map')) return { status: 400, type: 'mapper_parsing_exception', reason: `failed to parse field [labels.size] of type [long] in document with id '${id}'` };
      return undefined;
    };
    try {
      const records = Array.from({ length: 20 }, (_, i) => ({ appName: 'es-items', msg: `${run} es ${i}${i % 4 === 0 ? ' retry-me' : ''}${i === 7 ? ' bad-map' : ''}` }));
      expect((await post(records)).json.accepted).toBe(20);
      const letters = await waitFor(async () => {
        const r = await get('/api/v1/deadletter?exporter=es');
        return r.json.total === 1 ? r.json.items : undefined;
      });
      expect(letters[0]).toMatchObject({ status: 400, record: { msg: `${run} es 7 bad-map` } });
      expect(letters[0].reason).toMatch(/^HTTP 400: mapper_parsing_exception: failed to parse field \[labels\.size\] of type \[long\] in document with id '[\w-]+'$/);
      await waitFor(() => es.docs().filter((d) => String(d.source.message).includes(`${run} es `)).length === 19);
      for (const [msg, n] of attempts) expect(n).toBe(msg.includes('retry-me') ? 3 : 1);
    } finally {
      es.itemFault = undefined;
    }
  });
});

describe('health and metrics', () => {
  it('/health/dependencies shows each backend; /health/detailed has the queues', async () => {
    const deps = await get('/health/dependencies');
    expect(deps.status).toBe(200);
    expect(deps.json.status).toBe('up');
    expect(deps.json.dependencies['loki-a']).toMatchObject({ type: 'loki', status: 'up', circuit: 'closed', endpoint: `${loki.url}/loki/api/v1/push` });
    expect(deps.json.dependencies.es).toMatchObject({ type: 'elasticsearch', status: 'up', endpoint: `${es.url}/_bulk` });
    const detailed = await get('/health/detailed');
    const exporters = detailed.json.components.exporters.exporters;
    expect(Object.keys(exporters)).toEqual(['loki-a', 'loki-b', 'es']);
    await waitFor(async () => (await get('/health/detailed')).json.components.exporters.exporters.es.queue.records === 0);
    expect(exporters['loki-a']).toMatchObject({ type: 'loki', policy: 'backpressure', circuit: 'closed', queue: { records: expect.any(Number) } });
    expect(exporters['loki-b'].deadLetters).toBe(2);
  });

  it('/metrics has per-exporter sent, failed, retried, dropped, queue, age, circuit and dead letters', async () => {
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
    expect(value(/periscope_exporter_sent_items_total\{exporter="loki-a",type="loki"\} (\d+)/)).toBeGreaterThanOrEqual(302);
    expect(value(/periscope_exporter_sent_items_total\{exporter="es",type="elasticsearch"\} (\d+)/)).toBeGreaterThanOrEqual(321);
    expect(value(/periscope_exporter_failed_requests_total\{exporter="loki-a",type="loki",class="permanent"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/periscope_exporter_retried_requests_total\{exporter="es",type="elasticsearch"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/periscope_exporter_dead_lettered_items_total\{exporter="es",type="elasticsearch"\} (\d+)/)).toBe(1);
    expect(value(/periscope_exporter_dead_letters\{exporter="loki-b",type="loki"\} (\d+)/)).toBe(2);
    expect(text).toMatch(/periscope_exporter_queue_items\{exporter="loki-a",type="loki"\} \d+/);
    expect(text).toMatch(/periscope_exporter_oldest_unsent_age_seconds\{exporter="es",type="elasticsearch"\} [\d.]+/);
    expect(text).toContain('periscope_exporter_circuit_state{exporter="loki-b",type="loki",state="closed"} 1');
    expect(text).toMatch(/periscope_exporter_dropped_items_total\{exporter="loki-a",type="loki",reason="overflow"\} 0/);
  });
});

describe('discarding dead letters', () => {
  it('DELETE /api/v1/deadletter discards an exporter\'s letters (or listed ids); never all by accident', async () => {
    const del = async (query: string) => {
      const res = await fetch(`${collector.url}/api/v1/deadletter${query}`, { method: 'DELETE' });
      return { status: res.status, json: (await res.json()) as any };
    };
    expect(await del('')).toMatchObject({ status: 400, json: { error: { code: 'PERISCOPE_ERR_BAD_QUERY' } } });
    const before = (await get('/api/v1/deadletter')).json.total;
    const [first] = (await get('/api/v1/deadletter?exporter=loki-b&limit=1')).json.items;
    expect(await del(`?ids=${first.id}`)).toEqual({ status: 200, json: { deleted: 1, remaining: before - 1 } });
    // remaining: of the exporter named, as replay's (the other exporters' letters are not its)
    expect(before - 2).toBeGreaterThan(0);
    expect(await del('?exporter=loki-b')).toEqual({ status: 200, json: { deleted: 1, remaining: 0 } });
    expect((await get('/api/v1/deadletter')).json.total).toBe(before - 2);
    expect((await get('/api/v1/deadletter?exporter=loki-b')).json.total).toBe(0);
  });
});

describe('a second-precision clock', () => {
  it('identical lines of one second all reach Loki: none is taken for a re-sent duplicate', async () => {
    // RFC 3164 syslog and many agents stamp whole seconds; Loki drops an entry equal in stream,
    // time and line to one it has. 1200 such records: with 1000 sub-µs slots, 200 were dropped.
    const second = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString();
    const line = 'GET /health 200 (second-precision burst)';
    const res = await post(Array.from({ length: 1200 }, () => ({ appName: 'burst', hostname: 'h', msg: line, timestamp: second })));
    expect(res.json).toEqual({ accepted: 1200, rejected: [] });
    await waitFor(() => es.docs('logs-periscope-default').filter((d) => d.source.message === line).length === 1200); // delivered by then
    await waitFor(() => loki.entries('team-a').filter((e) => e.line === line).length === 1200, 10_000);
  });
});

describe('replays at once', () => {
  it('two replays at once send each letter once: the second leaves the first one\'s letters to it', async () => {
    loki.limits.maxLineSize = 500; // Loki refuses the next records for a while
    const long = 'x'.repeat(600);
    expect((await post([1, 2].map((i) => ({ appName: 'twice', msg: `${run} twice ${i} ${long}` })))).json.accepted).toBe(2);
    await waitFor(async () => (await get('/api/v1/deadletter?exporter=loki-a')).json.total === 2);
    loki.limits.maxLineSize = 0;
    const duplicates = loki.duplicates;
    loki.http.responseDelayMs = 300; // both requests are in progress at once
    try {
      const replay = async () => (await (await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki-a' }) })).json()) as any;
      const [a, b] = await Promise.all([replay(), replay()]);
      expect(a.replayed + b.replayed).toBe(2);
      // the one that came second leaves them to the first, and says so
      const second = a.replayed === 2 ? b : a;
      expect(second.failed.map((f: { reason: string }) => f.reason)).toEqual(['another replay in progress is sending it', 'another replay in progress is sending it']);
      expect((await get('/api/v1/deadletter?exporter=loki-a')).json.total).toBe(0);
      expect(loki.duplicates).toBe(duplicates); // none pushed twice
      expect(messages(loki.entries('team-a')).filter((m) => m.includes(' twice '))).toHaveLength(2);
    } finally {
      loki.http.responseDelayMs = 0;
    }
  });
});

describe('a replay and a DELETE at once', () => {
  it('the DELETE leaves the letters a replay is sending to it: none is both delivered and counted as discarded', async () => {
    loki.limits.maxLineSize = 500;
    const long = 'z'.repeat(600);
    expect((await post([1, 2].map((i) => ({ appName: 'both', msg: `${run} both ${i} ${long}` })))).json.accepted).toBe(2);
    await waitFor(async () => (await get('/api/v1/deadletter?exporter=loki-a')).json.total === 2);
    loki.limits.maxLineSize = 0;
    const discarded = async () => Number((await (await fetch(`${collector.url}/metrics`)).text()).match(/periscope_exporter_dead_letters_discarded_total\{exporter="loki-a",type="loki",reason="deleted"\} (\d+)/)?.[1] ?? 0);
    const before = await discarded();
    loki.http.responseDelayMs = 60_000; // Loki stores the push and answers when the test says
    let replay: Promise<any> | undefined;
    try {
      replay = fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki-a' }) }).then((r) => r.json());
      // Loki stored the replay's push (another exporter's held answer is not the replay's)
      await waitFor(() => messages(loki.entries('team-a')).filter((m) => m.includes(' both ')).length === 2);
      const res = await fetch(`${collector.url}/api/v1/deadletter?exporter=loki-a`, { method: 'DELETE' });
      expect(await res.json()).toEqual({ deleted: 0, remaining: 2, replaying: 2 });
    } finally {
      loki.http.responseDelayMs = 0;
      loki.http.releaseHeld();
    }
    expect(await replay).toMatchObject({ replayed: 2, failed: [], remaining: 0 });
    expect(await discarded()).toBe(before);
    expect(messages(loki.entries('team-a')).filter((m) => m.includes(' both '))).toHaveLength(2);
  });
});

describe('a replay whose client goes away', () => {
  it('stops, so the next replay sends its letters instead of finding them in progress', async () => {
    loki.limits.maxLineSize = 500;
    const long = 'y'.repeat(600);
    expect((await post([1, 2].map((i) => ({ appName: 'gone', msg: `${run} gone ${i} ${long}` })))).json.accepted).toBe(2);
    await waitFor(async () => (await get('/api/v1/deadletter?exporter=loki-a')).json.total === 2);
    loki.limits.maxLineSize = 0;
    const replay = async (signal?: AbortSignal) => (await (await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki-a' }), signal })).json()) as any;
    loki.http.responseDelayMs = 15_000; // Loki stores the push and answers much later
    const client = new AbortController();
    const first = replay(client.signal).catch(() => undefined);
    try {
      await waitFor(() => loki.http.heldAnswers > 0);
      client.abort(); // the client gives up waiting
      await first;
    } finally {
      loki.http.responseDelayMs = 0;
    }
    // The next replay (at once, or when the first one has ended) sends them itself.
    const answer = await waitFor(async () => {
      const r = await replay();
      return r.replayed === 2 || r.remaining === 0 ? r : undefined;
    });
    expect(answer).toMatchObject({ replayed: 2, failed: [], remaining: 0 });
  });
});
