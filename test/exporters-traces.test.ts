// Spans → Elasticsearch traces data stream (exporters[].traces.enabled): the real collector
// process, OTLP/HTTP JSON in, the Elasticsearch test server (per-item statuses, 409 on a known
// _id, data stream rules) out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startElasticsearchServer, type ElasticsearchServer } from './servers/elasticsearch.ts';

const STREAM = 'traces-periscope-default';
let es: ElasticsearchServer;
let collector: CollectorProcess;

function config(url: string): string {
  return `traces:
  retention: { maxAge: 3650d }
exporters:
  - type: elasticsearch
    name: es
    url: ${url}
    batch: { wait: 100ms }
    retry: { initialBackoff: 50ms, maxBackoff: 200ms }
    labels: { env: test }
    traces: { enabled: true }
`;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** One OTLP/JSON request: a SERVER root span and `children` CLIENT spans under it. */
async function postTrace(
  c: CollectorProcess,
  traceNo: number,
  children: Array<{ name: string; error?: boolean; note?: string }>,
  start = 1_772_359_200_000_000_000n + BigInt(traceNo) * 1_000_000_000n,
): Promise<string> {
  const traceId = hex(0xabc000 + traceNo, 32);
  const root = hex(traceNo * 100, 16);
  const span = (spanId: string, name: string, kind: number, extra: object) => ({
    traceId, spanId, name, kind, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 2_500_000n), ...extra,
  });
  const res = await fetch(`${c.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }, { key: 'service.instance.id', value: { stringValue: 'pod-1' } }] },
        scopeSpans: [{
          scope: { name: 'test-scope', version: '1.0.0' },
          spans: [
            span(root, 'GET /orders', 2, { attributes: [{ key: 'http.method', value: { stringValue: 'GET' } }, { key: 'http.status_code', value: { intValue: '200' } }] }),
            ...children.map((child, i) =>
              span(hex(traceNo * 100 + i + 1, 16), child.name, 3, {
                parentSpanId: root,
                status: child.error ? { code: 2, message: 'connection refused' } : { code: 1 },
                events: child.error ? [{ timeUnixNano: String(start + 1_000_000n), name: 'exception', attributes: [{ key: 'exception.type', value: { stringValue: 'ECONNREFUSED' } }] }] : [],
                ...(child.note ? { attributes: [{ key: 'note', value: { stringValue: child.note } }] } : {}),
              }),
            ),
          ],
        }],
      }],
    }),
  });
  expect(res.status).toBe(200);
  return traceId;
}

const spanDocs = () => es.docs(STREAM);

beforeAll(async () => {
  es = await startElasticsearchServer();
  collector = await startCollectorProcess({ configYaml: config(es.url) });
});

afterAll(async () => {
  await collector?.stop();
  await es?.close();
});

describe('Elasticsearch traces data stream', () => {
  it('ships each stored span once, with ECS trace fields, into a data stream from its own template', async () => {
    const traceId = await postTrace(collector, 1, [{ name: 'SELECT orders' }, { name: 'POST payment', error: true }]);
    await waitFor(() => spanDocs().filter((d) => (d.source.trace as any).id === traceId).length === 3);
    expect(es.templates.get('periscope-traces')?.index_patterns).toEqual([STREAM]);

    const docs = spanDocs().filter((d) => (d.source.trace as any).id === traceId);
    const root = docs.find((d) => (d.source.span as any).name === 'GET /orders')!;
    const failed = docs.find((d) => (d.source.span as any).name === 'POST payment')!;
    expect(root.id).toBe(`${traceId}-${hex(100, 16)}`);
    expect(root.source).toMatchObject({
      '@timestamp': '2026-03-01T10:00:01.000000Z',
      trace: { id: traceId },
      span: { id: hex(100, 16), name: 'GET /orders', kind: 'server', status: { code: 'unset' } },
      event: { duration: 2_500_000, outcome: 'unknown' },
      service: { name: 'checkout', instance: { id: 'pod-1' } },
      labels: { env: 'test', http_method: 'GET', http_status_code: '200' },
      periscope: { scope: { name: 'test-scope', version: '1.0.0' } },
    });
    expect(root.source.parent).toBeUndefined();
    expect(failed.source).toMatchObject({
      parent: { id: hex(100, 16) },
      span: { kind: 'client', status: { code: 'error', message: 'connection refused' } },
      event: { outcome: 'failure' },
      periscope: { events: [{ name: 'exception', attributes: { 'exception.type': 'ECONNREFUSED' } }] },
    });
  });

  it('per item: 429 retried for those spans only, 400 dead-lettered with the reason and replayed once fixed, the rest delivered', async () => {
    const attempts = new Map<string, number>();
    es.itemFault = (doc, id, index) => {
      if (index !== STREAM) return undefined;
      const name = String((doc.span as any).name);
      attempts.set(id, (attempts.get(id) ?? 0) + 1);
      if (name === 'retry-me' && attempts.get(id)! <= 2) return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' };
      if (name === 'bad-map') return { status: 400, type: 'mapper_parsing_exception', reason: `failed to parse field [span.name] in document with id '${id}'` };
      return undefined;
    };
    try {
      const traceId = await postTrace(collector, 2, [{ name: 'retry-me' }, { name: 'bad-map' }, { name: 'fine' }]);
      await waitFor(() => spanDocs().filter((d) => (d.source.trace as any).id === traceId).length === 3);
      const names = spanDocs().filter((d) => (d.source.trace as any).id === traceId).map((d) => (d.source.span as any).name).sort();
      expect(names).toEqual(['GET /orders', 'fine', 'retry-me']);
      expect(attempts.get(`${traceId}-${hex(201, 16)}`)).toBe(3); // retry-me: two 429s, then created
      expect(attempts.get(`${traceId}-${hex(203, 16)}`)).toBe(1); // fine: sent once
      const metrics = await (await fetch(`${collector.url}/metrics`)).text();
      expect(metrics).toMatch(/periscope_exporter_dead_lettered_items_total\{exporter="es:traces",type="elasticsearch"\} 1\n/);
      expect(metrics).toMatch(/periscope_exporter_retried_requests_total\{exporter="es:traces",type="elasticsearch"\} [2-9]/);
      const deps = (await (await fetch(`${collector.url}/health/dependencies`)).json()) as any;
      expect(Object.keys(deps.dependencies ?? deps)).toContain('es:traces');

      // the refused span waits in the dead letters with Elasticsearch's reason and the document as sent
      const badId = `${traceId}-${hex(202, 16)}`;
      const listed = (await (await fetch(`${collector.url}/api/v1/deadletter?exporter=es:traces`)).json()) as any;
      expect(listed.total).toBe(1);
      expect(listed.items[0]).toMatchObject({ exporter: 'es:traces', kind: 'span', documentId: badId, status: 400 });
      expect(listed.items[0].reason).toMatch(/^HTTP 400: mapper_parsing_exception: failed to parse field \[span\.name\]/);
      expect(listed.items[0].document).toMatchObject({ trace: { id: traceId }, span: { name: 'bad-map' } });

      // still refused: the letter stays, with one more attempt
      const again = (await (await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"exporter":"es:traces"}' })).json()) as any;
      expect(again).toMatchObject({ replayed: 0, remaining: 1, failed: [{ exporter: 'es:traces' }] });

      // backend down during a replay: the answer says so; the letter keeps the refusal to fix
      await es.setFault({ mode: 'down' });
      const down = (await (await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"exporter":"es:traces"}' })).json()) as any;
      expect(down.failed[0].reason).toMatch(/^network error/);
      const kept = (await (await fetch(`${collector.url}/api/v1/deadletter?exporter=es:traces`)).json()) as any;
      expect(kept.items[0]).toMatchObject({ status: 400, reason: listed.items[0].reason, attempts: listed.items[0].attempts + 2 });
      await es.setFault({ mode: 'none' });

      // cause fixed: replayed into the data stream once, and gone from the dead letters
      es.itemFault = undefined;
      const replay = (await (await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"exporter":"es:traces"}' })).json()) as any;
      expect(replay).toEqual({ replayed: 1, failed: [], remaining: 0 });
      const docs = spanDocs().filter((d) => (d.source.trace as any).id === traceId);
      expect(docs.map((d) => (d.source.span as any).name).sort()).toEqual(['GET /orders', 'bad-map', 'fine', 'retry-me']);
      expect(docs.filter((d) => d.id === badId)).toHaveLength(1);
    } finally {
      es.itemFault = undefined;
    }
  });

  it('spans that traces retention deletes while Elasticsearch is down are counted as dropped; the backlog shows its size and age', async () => {
    const es2 = await startElasticsearchServer();
    const yaml = `store:\n  retention: { schedule: '* * * * * *' }\n${config(es2.url).replace('maxAge: 3650d', 'maxAge: 30d')}    circuitBreaker: { openDuration: 200ms, maxOpenDuration: 500ms }\n`;
    const c = await startCollectorProcess({ configYaml: yaml });
    const agoNs = (seconds: number) => BigInt(Date.now() - seconds * 1000) * 1_000_000n;
    try {
      await es2.setFault({ mode: 'down' });
      // the exporter takes A and keeps retrying it; B (started in March, past 30 d) and C wait in the store
      const a = await postTrace(c, 20, [{ name: 'a child' }], agoNs(3600));
      const b = await postTrace(c, 21, [{ name: 'b child' }]);
      const cTrace = await postTrace(c, 22, [{ name: 'c child' }], agoNs(60));
      await waitFor(async () => (await fetch(`${c.url}/api/v1/traces/${b}`)).status === 404, 20_000);

      const exporters = ((await (await fetch(`${c.url}/health/detailed`)).json()) as any).components.exporters.exporters;
      const queue = exporters['es:traces'].queue;
      expect(queue.spans).toBeGreaterThanOrEqual(4); // A and C (positions: B's gap is counted until passed)
      expect(queue.bytes).toBeGreaterThan(0);
      expect(queue.oldestAgeSeconds).toBeGreaterThanOrEqual(3600); // A started an hour ago
      expect(queue.oldestAgeSeconds).toBeLessThan(3600 + 300);

      await es2.setFault({ mode: 'none' });
      await waitFor(() => es2.docs(STREAM).length === 4);
      const traces = new Set(es2.docs(STREAM).map((d) => (d.source.trace as any).id));
      expect(traces).toEqual(new Set([a, cTrace]));
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      expect(metrics).toMatch(/periscope_exporter_dropped_items_total\{exporter="es:traces",type="elasticsearch",reason="retention"\} 2\n/);
      expect(metrics).toMatch(/periscope_exporter_oldest_unsent_age_seconds\{exporter="es:traces",type="elasticsearch"\} 0\n/);
    } finally {
      await c.stop();
      await es2.close();
    }
  });

  it('a request refused as too large (413) is sent again in halves; only a span too large alone is dead-lettered', async () => {
    // Elasticsearch refuses a body over http.max_content_length with 413 (no per-item answer).
    const es2 = await startElasticsearchServer({ maxBodyBytes: 16 * 1024 });
    const c = await startCollectorProcess({ configYaml: config(es2.url) });
    try {
      const children = Array.from({ length: 40 }, (_, i) => ({ name: i === 17 ? 'huge' : `child ${i}`, note: i === 17 ? 'x'.repeat(20_000) : undefined }));
      const traceId = await postTrace(c, 30, children);
      await waitFor(async () => ((await (await fetch(`${c.url}/api/v1/deadletter?exporter=es:traces`)).json()) as any).total === 1);
      await waitFor(() => es2.docs(STREAM).length === 40);
      const names = es2.docs(STREAM).map((d) => (d.source.span as any).name);
      expect(new Set(names).size).toBe(40);
      expect(names).not.toContain('huge');
      expect(es2.http.log.filter((r) => r.status === 413).length).toBeGreaterThan(1);
      const letter = ((await (await fetch(`${c.url}/api/v1/deadletter?exporter=es:traces`)).json()) as any).items[0];
      expect(letter).toMatchObject({ kind: 'span', status: 413, documentId: `${traceId}-${hex(3018, 16)}` });
    } finally {
      await c.stop();
      await es2.close();
    }
  });

  it("requests stay under the exporter's batch.maxBytes: only a span too large alone meets 413", async () => {
    const es2 = await startElasticsearchServer({ maxBodyBytes: 16 * 1024 });
    const c = await startCollectorProcess({ configYaml: config(es2.url).replace('batch: { wait: 100ms }', 'batch: { wait: 100ms, maxBytes: 8KiB }') });
    try {
      // Six notes of 2 100 CJK characters: 6.3 KB of UTF-8 each, so one per 8 KiB request. Counted
      // in UTF-16 units, three would fit in one, a request over the server's 16 KiB: more 413s.
      const note = (i: number) => (i === 17 ? 'x'.repeat(20_000) : i >= 20 && i < 26 ? '日本語'.repeat(700) : undefined);
      const children = Array.from({ length: 40 }, (_, i) => ({ name: i === 17 ? 'huge' : `child ${i}`, note: note(i) }));
      await postTrace(c, 31, children);
      await waitFor(async () => ((await (await fetch(`${c.url}/api/v1/deadletter?exporter=es:traces`)).json()) as any).total === 1);
      await waitFor(() => es2.docs(STREAM).length === 40);
      const bulks = es2.http.log.filter((r) => r.url.includes('_bulk'));
      expect(bulks.filter((r) => r.status === 413)).toHaveLength(1);
      expect(bulks.length).toBeGreaterThan(3); // about 40 documents of 700 bytes in 8 KiB requests, and the large one alone
    } finally {
      await c.stop();
      await es2.close();
    }
  });

  it('after kill -9 and a restart on the same data, delivery resumes without a duplicate', async () => {
    const before = spanDocs().length;
    await collector.kill();
    collector = await startCollectorProcess({ configYaml: config(es.url), dataDir: collector.dataDir });
    const traceId = await postTrace(collector, 3, [{ name: 'after restart' }]);
    await waitFor(() => spanDocs().filter((d) => (d.source.trace as any).id === traceId).length === 2);
    // Anything re-sent after the restart met 409 on its _id: every span is there exactly once.
    const ids = spanDocs().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(before + 2);
  });
});
