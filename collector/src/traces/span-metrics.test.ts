import { describe, expect, it } from 'vitest';
import { MetricStore } from '../metrics/store.ts';
import { SpanMetrics, bucketIndex } from './span-metrics.ts';
import type { SpanRecord } from './span.ts';

function span(name: string, ms: number, extra: Partial<SpanRecord> = {}): SpanRecord {
  const start = 1_700_000_000_000_000_000n;
  return {
    traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), parentSpanId: null, name, kind: 2, startNs: start, endNs: start + BigInt(Math.round(ms * 1e6)),
    service: 'shop', job: 'shop', instance: 'i-1', statusCode: 0, statusMessage: '', attributes: {}, events: [], links: [], resource: {}, scope: {}, ...extra,
  };
}

function store() {
  return new MetricStore({ maxSeries: 1000, staleAfterMs: 300_000, sampleWindowMs: 3_600_000, sampleResolutionMs: 15_000, onSeriesLimit: 'drop', exponential: { maxScale: 2, maxBuckets: 64 }, targetInfo: false });
}

describe('span metrics', () => {
  it('bucketIndex: le is inclusive, beyond the last bound is +Inf', () => {
    expect(bucketIndex([0.1, 1], 0.1)).toBe(0);
    expect(bucketIndex([0.1, 1], 0.5)).toBe(1);
    expect(bucketIndex([0.1, 1], 2)).toBe(2);
  });

  it('counts calls and durations per service, span name, kind and status, across batches', () => {
    const m = store();
    const sm = new SpanMetrics(m, [0.01, 0.1, 1]);
    sm.record([span('GET /a', 5), span('GET /a', 50), span('GET /a', 500, { statusCode: 2 }), span('SELECT', 2, { kind: 3 })]);
    sm.record([span('GET /a', 5)]);
    const text = m.render();
    const L = 'instance="i-1",job="shop",service_name="shop"';
    expect(text).toContain(`traces_span_metrics_calls_total{${L},span_kind="SPAN_KIND_SERVER",span_name="GET /a",status_code="STATUS_CODE_UNSET"} 3\n`);
    expect(text).toContain(`traces_span_metrics_calls_total{${L},span_kind="SPAN_KIND_SERVER",span_name="GET /a",status_code="STATUS_CODE_ERROR"} 1\n`);
    expect(text).toContain(`traces_span_metrics_calls_total{${L},span_kind="SPAN_KIND_CLIENT",span_name="SELECT",status_code="STATUS_CODE_UNSET"} 1\n`);
    const ok = `${L},span_kind="SPAN_KIND_SERVER",span_name="GET /a",status_code="STATUS_CODE_UNSET"`;
    expect(text).toContain(`traces_span_metrics_duration_seconds_bucket{${ok},le="0.01"} 2\n`);
    expect(text).toContain(`traces_span_metrics_duration_seconds_bucket{${ok},le="0.1"} 3\n`);
    expect(text).toContain(`traces_span_metrics_duration_seconds_bucket{${ok},le="+Inf"} 3\n`);
    expect(text).toContain(`traces_span_metrics_duration_seconds_sum{${ok}} 0.06\n`);
    expect(text).toContain(`traces_span_metrics_duration_seconds_count{${ok}} 3\n`);
  });

  it('spans without a service count as unknown_service and carry no job/instance', () => {
    const m = store();
    new SpanMetrics(m).record([span('x', 1, { service: null, job: null, instance: null })]);
    expect(m.render()).toContain('traces_span_metrics_calls_total{service_name="unknown_service",span_kind="SPAN_KIND_SERVER",span_name="x",status_code="STATUS_CODE_UNSET"} 1\n');
  });

  it('alert rules can select them by name and labels', () => {
    const m = store();
    new SpanMetrics(m).record([span('GET /a', 5, { statusCode: 2 })]);
    const [s] = m.select('traces_span_metrics_calls_total', [{ name: 'status_code', op: '=', value: 'STATUS_CODE_ERROR' }], 60_000, Date.now());
    expect(s.samples.map((x) => x.v)).toEqual([1]);
  });
});
