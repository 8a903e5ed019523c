// Contract test: the collector's metric stores behind the alerting engine's MetricSource, evaluated
// by the engine's own rule code (alerting/src/rules), so a change on either side shows here.
import { describe, expect, it } from 'vitest';
import { evaluateRule } from '../../../alerting/src/rules/evaluate.ts';
import { compileRule, type Rule } from '../../../alerting/src/rules/schema.ts';
import { SpanMetrics } from '../traces/span-metrics.ts';
import type { SpanRecord } from '../traces/span.ts';
import { metricSourceOf } from './alerting-source.ts';
import { MetricStore } from './store.ts';

const T0 = Date.UTC(2030, 0, 1, 12);

function rule(raw: Record<string, unknown>): Rule {
  const { rule, problems } = compileRule({ name: 'R', kind: 'metric', window: '5m', ...raw }, { defaults: { defaultIntervalMs: 15_000, flapping: { enabled: false, window: 21, high: 20, low: 5 } }, source: 'test' });
  if (!rule) throw new Error(JSON.stringify(problems));
  return rule;
}

function spans(n: number, ms: number): SpanRecord[] {
  const start = BigInt(T0) * 1_000_000n;
  return Array.from({ length: n }, () => ({
    traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), parentSpanId: null, name: 'GET /pay', kind: 2, startNs: start, endNs: start + BigInt(ms * 1e6),
    service: 'shop', job: 'shop', instance: 'i-1', statusCode: 0, statusMessage: '', attributes: {}, events: [], links: [], resource: {}, scope: {},
  }));
}

describe('metricSourceOf: collector metric stores as the alerting MetricSource', () => {
  const clock = { now: T0 };
  const options = { maxSeries: 1000, staleAfterMs: 600_000, sampleWindowMs: 3_600_000, sampleResolutionMs: 15_000, onSeriesLimit: 'drop' as const, exponential: { maxScale: 2, maxBuckets: 64 }, now: () => clock.now };
  const otlp = new MetricStore(options);
  const spanStore = new MetricStore({ ...options, targetInfo: false });
  const sm = new SpanMetrics(spanStore);
  sm.record(spans(10, 5));
  otlp.apply([{ name: 'queue_depth', otelName: 'queue.depth', help: '', type: 'gauge', labels: { job: 'shop' }, temporality: 'cumulative', timeNs: 1n, value: 3 }]);
  clock.now += 60_000;
  sm.record(spans(100, 300));
  otlp.apply([{ name: 'queue_depth', otelName: 'queue.depth', help: '', type: 'gauge', labels: { job: 'shop' }, temporality: 'cumulative', timeNs: 2n, value: 42 }]);
  const source = metricSourceOf(otlp, spanStore);

  it('a percentile rule over span-metric buckets sees the increase in the window', async () => {
    const r = await evaluateRule(rule({ selector: 'traces_span_metrics_duration_seconds{service_name="shop"}', aggregation: 'p95', threshold: 0.25 }), { metrics: source }, clock.now);
    expect(r.kind).toBe('data');
    if (r.kind !== 'data') return;
    expect(r.instances).toHaveLength(1);
    expect(r.instances[0].value).toBeGreaterThan(0.2);
    expect(r.instances[0].value).toBeLessThanOrEqual(0.4);
    expect(r.instances[0].cond).toBe('breach');
  });

  it('a rate rule over the calls counter and a last-value rule over an OTLP gauge (by its OTel name)', async () => {
    const rate = await evaluateRule(rule({ selector: 'traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER"}', aggregation: 'rate', threshold: 1 }), { metrics: source }, clock.now);
    expect(rate.kind === 'data' && rate.instances[0].value).toBeCloseTo(100 / 60, 6);
    const last = await evaluateRule(rule({ selector: 'queue.depth{job="shop"}', aggregation: 'last', threshold: 40 }), { metrics: source }, clock.now);
    expect(last.kind === 'data' && last.instances[0]).toMatchObject({ value: 42, cond: 'breach' });
  });
});

describe('metricSourceOf: exponential histograms of several series', () => {
  it('a percentile rule merges instances whose ranges differ (one le list per answer)', async () => {
    const clock = { now: T0 };
    const store = new MetricStore({ maxSeries: 100, staleAfterMs: 600_000, sampleWindowMs: 3_600_000, sampleResolutionMs: 15_000, onSeriesLimit: 'drop', exponential: { maxScale: 2, maxBuckets: 64 }, now: () => clock.now });
    // instance a observes 0.031–0.044 s, instance b 0.5–0.71 s (scale 2: four buckets per power of two), 20 each per export.
    const point = (instance: string, offset: number, timeNs: bigint) => ({
      name: 'latency_seconds', otelName: 'latency', help: '', type: 'histogram' as const, labels: { job: 'shop', instance }, temporality: 'delta' as const, timeNs,
      exponential: { scale: 2, zeroThreshold: 0, zeroCount: 0, negativeCount: 0, offset, positive: [10, 10], count: 20, sum: 1 },
    });
    store.apply([point('a', -20, 1n), point('b', -4, 1n)]);
    clock.now += 60_000;
    store.apply([point('a', -20, 2n), point('b', -4, 2n)]);
    const source = metricSourceOf(store);
    const p95 = await evaluateRule(rule({ selector: 'latency_seconds{job="shop"}', aggregation: 'p95', threshold: 0.5 }), { metrics: source }, clock.now);
    expect(p95).toMatchObject({ kind: 'data' }); // was: "histogram bucket bounds differ between series of group {}"
    if (p95.kind !== 'data') return;
    expect(p95.instances[0].value).toBeGreaterThan(0.59);
    expect(p95.instances[0].value).toBeLessThanOrEqual(0.71);
    const p50 = await evaluateRule(rule({ selector: 'latency_seconds{job="shop"}', aggregation: 'p50', threshold: 0.5 }), { metrics: source }, clock.now);
    expect(p50.kind === 'data' && p50.instances[0].value).toBeLessThan(0.045);
  });
});
