// A backend down for a while under load, through the real collector process: nothing lost, no
// duplicates in Elasticsearch, the other exporter and ingest unaffected; and the two overflow
// policies at the backlog bound (back-pressure 429 + Retry-After, drop lowest severity first).
import { afterEach, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startElasticsearchServer, type ElasticsearchServer } from './servers/elasticsearch.ts';
import { startLokiServer, type LokiServer } from './servers/loki.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(yaml: string): Promise<CollectorProcess> {
  const c = await startCollectorProcess({ configYaml: `store:\n  search:\n    indexInterval: 1s\n${yaml}` });
  cleanup.push(async () => expect(await c.stop()).toBe(0));
  return c;
}

async function post(c: CollectorProcess, records: unknown[]) {
  const res = await fetch(`${c.url}/api/v1/logs`, { method: 'POST', body: records.map((r) => JSON.stringify(r)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as any };
}

async function metric(c: CollectorProcess, re: RegExp): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? Number.NaN);
}

const fast = 'retry: { initialBackoff: 50ms, maxBackoff: 300ms }\n    circuitBreaker: { failureThreshold: 3, openDuration: 200ms, maxOpenDuration: 500ms }';

describe('outage of one backend under load', () => {
  it('Loki down for a while: zero lost, zero duplicates in Elasticsearch, ES and ingest keep going', async () => {
    const loki: LokiServer = await startLokiServer();
    const es: ElasticsearchServer = await startElasticsearchServer();
    cleanup.push(() => loki.close(), () => es.close());
    const c = await start(`exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms, maxRecords: 500 }
    ${fast}
  - type: elasticsearch
    name: es
    url: ${es.url}
    batch: { wait: 50ms, maxRecords: 500 }
    ${fast}
`);
    const sent: string[] = [];
    const statuses = new Set<number>();
    let stop = false;
    let n = 0;
    const load = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 200 }, () => ({ appName: 'outage', level: 'info', msg: `rec ${n++}` }));
        const res = await post(c, batch);
        statuses.add(res.status);
        if (res.status === 200) sent.push(...batch.map((r) => r.msg));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(() => sent.length >= 2000);
    await loki.setFault({ mode: 'down' });
    const downAt = sent.length;
    const esBefore = es.docs().length;
    // Meanwhile ES keeps receiving (it would time out here if Loki's outage held it back) …
    await waitFor(() => es.docs().length > esBefore + 3000, 60_000);
    await waitFor(() => sent.length >= downAt + 5000, 60_000);
    // … Loki is reported down or degraded, ingest keeps answering 200.
    const deps = (await (await fetch(`${c.url}/health/dependencies`)).json()) as any;
    expect(deps.dependencies.loki.status).toMatch(/^(down|degraded)$/);
    expect(deps.dependencies.loki.lastError).toMatch(/ECONNREFUSED/);
    expect(deps.dependencies.loki.since).toEqual(expect.any(String));
    expect(deps.dependencies.es.status).toBe('up');
    expect(await metric(c, /periscope_exporter_queue_items\{exporter="loki",type="loki"\} (\d+)/)).toBeGreaterThan(1000);
    await loki.setFault({ mode: 'none' });
    await waitFor(() => sent.length >= downAt + 7000, 60_000);
    stop = true;
    await load;
    expect([...statuses]).toEqual([200]);
    await waitFor(() => loki.entries().length >= sent.length && es.docs().length >= sent.length, 60_000);
    const expected = [...sent].sort();
    expect(loki.entries().map((e) => e.line).sort()).toEqual(expected);
    const docs = es.docs();
    expect(docs.map((d) => String(d.source.message)).sort()).toEqual(expected);
    expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
    expect(await metric(c, /periscope_exporter_retried_requests_total\{exporter="loki",type="loki"\} (\d+)/)).toBeGreaterThan(0);
    // The collector's log tells the whole story: failing, circuit open, then recovered; and no
    // line per request (thousands were served).
    const log = c.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
    const messages = log.map((l) => l.msg);
    expect(messages).toContain('exporter loki: backend failing, retrying');
    expect(messages).toContainEqual(expect.stringMatching(/^exporter loki: circuit open: sending paused, next probe in \d+ s/));
    expect(messages).toContain('exporter loki: backend answering again');
    expect(messages).toContain('exporter loki: circuit closed: sending again');
    expect(messages.filter((m) => /request/.test(m))).toEqual([]);
  });
});

describe('overflow policies at the backlog bound', () => {
  it('backpressure: 429 with Retry-After while the backlog is at its bound, then accepted again after the drain', async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    await loki.setFault({ mode: 'down' });
    const c = await start(`exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms }
    queue: { maxRecords: 1000, policy: backpressure }
    ${fast}
`);
    let accepted = 0;
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const res = await post(c, Array.from({ length: 300 }, (_, k) => ({ appName: 'bp', msg: `bp ${i} ${k}` })));
      if (res.status === 200) accepted += 300;
      else refused = res;
    }
    expect(accepted).toBe(1200); // the batch that crossed the bound was accepted; the next one was not
    expect(refused).toMatchObject({ status: 429, json: { error: { code: 'PERISCOPE_ERR_OVERLOADED', details: { exporter: 'loki', bound: 'records' } } } });
    expect(Number(refused!.retryAfter)).toBeGreaterThanOrEqual(1);
    const health = (await (await fetch(`${c.url}/health/detailed`)).json()) as any;
    expect(health.components.exporters.exporters.loki).toMatchObject({ overloaded: 'records', queue: { records: 1200 } });
    expect(await metric(c, /periscope_receiver_refused_requests_total\{receiver="native",reason="PERISCOPE_ERR_OVERLOADED"\} (\d+)/)).toBe(1);

    // Refused before the body is read: bodies that would be a 400 if parsed get the 429 too.
    const unread = await fetch(`${c.url}/api/v1/logs`, { method: 'POST', body: 'not json\n{', headers: { 'content-type': 'application/x-ndjson' } });
    expect(unread.status).toBe(429);
    expect(Number(unread.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const otlp = await fetch(`${c.url}/v1/logs`, { method: 'POST', body: '{"resourceLogs": [', headers: { 'content-type': 'application/json' } });
    expect(otlp.status).toBe(429);
    expect(Number(otlp.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await otlp.json()).toMatchObject({ code: 8, message: expect.stringContaining('backlog bound') }); // google.rpc.Status RESOURCE_EXHAUSTED
    expect(await metric(c, /periscope_receiver_refused_requests_total\{receiver="otlp",reason="PERISCOPE_ERR_OVERLOADED"\} (\d+)/)).toBe(1);
    // Traces are not held back by a log exporter's backlog.
    const traces = await fetch(`${c.url}/v1/traces`, { method: 'POST', body: '{"resourceSpans": []}', headers: { 'content-type': 'application/json' } });
    expect(traces.status).toBe(200);

    await loki.setFault({ mode: 'none' });
    await waitFor(() => loki.entries().length === 1200);
    await waitFor(async () => (await post(c, [{ appName: 'bp', msg: 'after the drain' }])).status === 200);
    await waitFor(() => loki.entries().length === 1201);
  });

  it('drop: over the bound the lowest severities are dropped first, counted by reason; ingest is never refused', async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    await loki.setFault({ mode: 'down' });
    const c = await start(`exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms, maxRecords: 100 }
    concurrency: 1
    queue: { maxRecords: 1500, policy: drop }
    ${fast}
`);
    for (let i = 0; i < 10; i++) {
      const res = await post(c, Array.from({ length: 300 }, (_, k) => ({ appName: 'drop', level: ['debug', 'info', 'err'][k % 3], msg: `drop ${i} ${k}` })));
      expect(res.status).toBe(200);
    }
    // The bound check runs every second: wait until a rule brought the backlog under the bound,
    // then let Loki back. On a loaded machine the posts can span a check: a rule made after 2400
    // records already brings the last 600 under the bound, and rightly covers only the first 2400.
    const rule = await waitFor(async () => {
      const loki = ((await (await fetch(`${c.url}/health/detailed`)).json()) as any).components.exporters.exporters.loki;
      return loki.dropRule && loki.queue.records <= 1500 ? loki.dropRule : undefined;
    });
    expect(rule.minSeverity).toBe(6); // debug (7) and info (6) go; err (3) stays
    await loki.setFault({ mode: 'none' });
    await waitFor(async () => ((await (await fetch(`${c.url}/health/detailed`)).json()) as any).components.exporters.exporters.loki.queue.records === 0);
    const levels = loki.entries().map((e) => e.labels.level);
    const dropped = await metric(c, /periscope_exporter_dropped_items_total\{exporter="loki",type="loki",reason="overflow"\} (\d+)/);
    expect(levels.filter((l) => l === 'err')).toHaveLength(1000); // nothing important dropped
    // kept: at most the bound, plus the batch that was in flight before any rule
    expect(loki.entries().length).toBeLessThanOrEqual(1500 + 100);
    expect(dropped + loki.entries().length).toBe(3000);
  });
});

describe('a backend refusing every request as configured (401) at start', () => {
  it('Elasticsearch: the index templates refused with the records and spans are installed once the credentials work, before they go in', async () => {
    const es = await startElasticsearchServer();
    cleanup.push(() => es.close());
    await es.setFault({ mode: 'status', status: 401, body: '{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":401}' });
    const c = await start(`exporters:
  - type: elasticsearch
    name: es
    url: ${es.url}
    batch: { wait: 50ms }
    traces: { enabled: true }
    ${fast}
`);
    expect((await post(c, [{ appName: 'tpl', msg: 'waits for the credentials', attributes: { n: 1 } }])).status).toBe(200);
    const now = BigInt(Date.now()) * 1_000_000n;
    const span = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'op', kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n) };
    const traces = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tpl' } }] }, scopeSpans: [{ spans: [span] }] }] }) });
    expect(traces.status).toBe(200);
    await waitFor(() => c.output().includes('delivery waits until they are accepted'));
    await es.setFault({ mode: 'none' });
    await waitFor(() => es.docs('logs-periscope-default').length === 1 && es.docs('traces-periscope-default').length === 1, 30_000);
    // Without them the data streams took the built-in logs-*-* and traces-*-* templates (dynamic mappings) for good.
    expect([...es.templates.keys()].sort()).toEqual(['periscope-logs', 'periscope-traces']);
  });
});
