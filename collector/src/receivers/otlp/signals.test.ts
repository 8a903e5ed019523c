// The traces/metrics OTLP routes in-process (Fastify inject): the status codes under pressure and
// the merged partial-success answer. The real process and real exporters: test/otlp-traces-metrics.test.ts.
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../http/server.ts';
import { createTelemetryMetrics } from '../../metrics/self-metrics.ts';
import { MetricStore, type MetricStoreOptions } from '../../metrics/store.ts';
import type { SpanRecord } from '../../traces/span.ts';
import { registerOtlpMetricsRoute, registerOtlpTracesRoute } from './signals.ts';

function metricStore(options: Partial<MetricStoreOptions> = {}) {
  return new MetricStore({ maxSeries: 100, staleAfterMs: 300_000, sampleWindowMs: 3_600_000, sampleResolutionMs: 15_000, onSeriesLimit: 'drop', exponential: { maxScale: 2, maxBuckets: 64 }, ...options });
}

const SPAN = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'op', kind: 1, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000100' };
const tracesBody = (spans: unknown[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
const gauge = (name: string, route: string) => ({ name, gauge: { dataPoints: [{ asInt: '1', attributes: [{ key: 'route', value: { stringValue: route } }] }] } });
const metricsBody = (metrics: unknown[]) => JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics }] }] });

function app(setup: (a: ReturnType<typeof createHttpServer>, m: ReturnType<typeof createTelemetryMetrics>) => void) {
  const a = createHttpServer({ bodyLimit: 1 << 20 });
  const registry = new Registry();
  setup(a, createTelemetryMetrics(registry, {}));
  return a;
}

describe('POST /v1/traces', () => {
  it('a store failure is 503 + Retry-After (retryable), and nothing derived is updated', async () => {
    const derived: SpanRecord[][] = [];
    const a = app((x, m) => registerOtlpTracesRoute(x, { sink: { append: () => { throw new Error('disk I/O error'); } }, onStored: (s) => derived.push(s), metrics: m, limits: {} }));
    const res = await a.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: tracesBody([SPAN]) });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(JSON.parse(res.body)).toMatchObject({ code: 14, message: expect.stringContaining('disk I/O error') });
    expect(derived).toEqual([]);
  });

  it('valid spans are committed, invalid ones reported by index; only new spans reach span metrics', async () => {
    const committed: SpanRecord[] = [];
    const derived: SpanRecord[][] = [];
    const a = app((x, m) => registerOtlpTracesRoute(x, {
      sink: { append: (spans) => { const fresh = spans.filter((s) => !committed.some((c) => c.spanId === s.spanId)); committed.push(...fresh); return fresh; } },
      onStored: (s) => derived.push(s),
      metrics: m,
      limits: {},
    }));
    const body = tracesBody([SPAN, { ...SPAN, spanId: 'abcd' }]);
    const send = () => a.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: body });
    const res = await send();
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).partialSuccess).toMatchObject({ rejectedSpans: 1, errorMessage: expect.stringContaining('#1 PERISCOPE_ERR_OTLP_BAD_SPAN_ID') });
    await send();
    expect(committed).toHaveLength(1);
    expect(derived.map((d) => d.length)).toEqual([1, 0]);
  });
});

describe('POST /v1/metrics', () => {
  it('decoder and store rejections are merged into one partial success, in document order', async () => {
    const store = metricStore({ maxSeries: 1 });
    const a = app((x, m) => registerOtlpMetricsRoute(x, { store, metrics: m, limits: {} }));
    const res = await a.inject({
      method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' },
      payload: metricsBody([gauge('a', '/1'), gauge('a', '/2'), { name: 'bad', sum: { aggregationTemporality: 9, dataPoints: [{ asInt: '1' }] } }]),
    });
    expect(res.statusCode).toBe(200);
    const ps = JSON.parse(res.body).partialSuccess;
    expect(ps.rejectedDataPoints).toBe(2);
    expect(ps.errorMessage).toMatch(/#1 PERISCOPE_ERR_METRICS_SERIES_LIMIT.*#2 PERISCOPE_ERR_OTLP_BAD_TEMPORALITY/);
    expect(store.render()).toContain('a{route="/1"} 1');
  });

  it('onSeriesLimit reject: 429 + Retry-After and nothing applied', async () => {
    const store = metricStore({ maxSeries: 1, onSeriesLimit: 'reject' });
    const a = app((x, m) => registerOtlpMetricsRoute(x, { store, metrics: m, limits: {} }));
    const res = await a.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/x-protobuf' }, payload: Buffer.alloc(0) });
    expect(res.statusCode).toBe(200); // empty request: nothing to refuse
    const over = await a.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: metricsBody([gauge('a', '/1'), gauge('a', '/2')]) });
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(over.body)).toMatchObject({ code: 8, message: expect.stringContaining('series') });
    expect(store.seriesCount).toBe(0);
  });

  it('an undecodable body is 400 with a google.rpc.Status', async () => {
    const a = app((x, m) => registerOtlpMetricsRoute(x, { store: metricStore(), metrics: m, limits: {} }));
    const res = await a.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: '{"resourceMetrics": 5}' });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 3 });
  });
});

describe('error shapes', () => {
  it("OTLP endpoints answer a google.rpc.Status, the rest of the API { error: { code } }, and docs/api.md's opening says both", async () => {
    const a = app((x, m) => registerOtlpMetricsRoute(x, { store: metricStore(), metrics: m, limits: {} }));
    const otlp = await a.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: '{"resourceMetrics": 5}' });
    expect(Object.keys(JSON.parse(otlp.body)).sort()).toEqual(['code', 'message']);
    const api = await a.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    expect(JSON.parse(api.body)).toMatchObject({ error: { code: 'PERISCOPE_ERR_NOT_FOUND' } });
    // It said "Errors always have the shape { error: … }": an OTLP client's author read it and parsed the wrong body.
    const opening = readFileSync(new URL('../../../../docs/api.md', import.meta.url), 'utf8').split('\n## ')[0];
    expect(opening).toContain('{ "error": { "code": "PERISCOPE_ERR_…"');
    expect(opening).toContain('google.rpc.Status');
    for (const path of ['/v1/logs', '/v1/traces', '/v1/metrics']) expect(opening).toContain(path);
  });
});
