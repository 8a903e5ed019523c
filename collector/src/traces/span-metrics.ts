// RED metrics derived from spans, like the OpenTelemetry Collector's spanmetrics connector
// (https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/connector/spanmetricsconnector),
// with its Prometheus names, which the dashboards and recording rules read
// (dashboards/src/, deploy/prometheus/rules/recording.yml):
//
//   traces_span_metrics_calls_total{service_name, span_name, span_kind, status_code, job, instance}
//   traces_span_metrics_duration_seconds_bucket{…, le} / _sum / _count
//
// span_kind and status_code are the OTLP enum names (SPAN_KIND_SERVER, STATUS_CODE_ERROR);
// `job` and `instance` come from the span's resource like for OTLP metrics. Every stored span is
// counted once (the span store drops resent spans before this runs). Durations are end − start.

import type { Labels, MetricPoint, MetricStore } from '../metrics/store.ts';
import { SPAN_KIND_NAMES, STATUS_CODE_NAMES, type SpanRecord } from './span.ts';
import { lowerBound } from '../../../alerting/src/sorted-search.ts';

export const CALLS_METRIC = 'traces_span_metrics_calls_total';
export const DURATION_METRIC = 'traces_span_metrics_duration_seconds';

/** The spanmetrics connector's default buckets (2 ms … 15 s), in seconds. */
export const DEFAULT_DURATION_BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15];

interface Aggregate {
  labels: Labels;
  calls: number;
  counts: number[];
  sum: number;
}

/** Index of the bucket holding `v`: the first bound >= v (Prometheus `le` is inclusive), else the +Inf bucket. */
export function bucketIndex(bounds: readonly number[], v: number): number {
  return lowerBound(bounds, v, 0);
}

export class SpanMetrics {
  readonly #store: MetricStore;
  readonly #bounds: number[];

  constructor(store: MetricStore, bucketsSeconds: readonly number[] = DEFAULT_DURATION_BUCKETS) {
    this.#store = store;
    this.#bounds = [...bucketsSeconds].sort((a, b) => a - b);
  }

  /** Aggregates the batch per (resource, service, span name, kind, status) and adds it to the store as deltas. */
  record(spans: readonly SpanRecord[]): void {
    if (spans.length === 0) return;
    const groups = new Map<string, Aggregate>();
    for (const s of spans) {
      const service = s.service ?? 'unknown_service';
      const kind = SPAN_KIND_NAMES[s.kind] ?? SPAN_KIND_NAMES[0];
      const status = STATUS_CODE_NAMES[s.statusCode] ?? STATUS_CODE_NAMES[0];
      const key = `${s.job ?? ''}\u0000${s.instance ?? ''}\u0000${service}\u0000${s.name}\u0000${kind}\u0000${status}`;
      let g = groups.get(key);
      if (!g) {
        const labels: Labels = { service_name: service, span_name: s.name, span_kind: kind, status_code: status };
        if (s.job !== null) labels.job = s.job;
        if (s.instance !== null) labels.instance = s.instance;
        g = { labels, calls: 0, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0 };
        groups.set(key, g);
      }
      const seconds = Number(s.endNs - s.startNs) / 1e9;
      g.calls++;
      g.counts[bucketIndex(this.#bounds, seconds)]++;
      g.sum += seconds;
    }
    const points: MetricPoint[] = [];
    for (const g of groups.values()) {
      points.push({
        name: CALLS_METRIC,
        otelName: 'traces.span.metrics.calls',
        help: 'Spans received, by service, operation (span name), span kind and status code (span metrics).',
        type: 'counter',
        labels: g.labels,
        temporality: 'delta',
        timeNs: 0n,
        value: g.calls,
      });
      points.push({
        name: DURATION_METRIC,
        otelName: 'traces.span.metrics.duration',
        help: 'Span durations in seconds, by service, operation (span name), span kind and status code (span metrics).',
        type: 'histogram',
        labels: g.labels,
        temporality: 'delta',
        timeNs: 0n,
        histogram: { bounds: this.#bounds, counts: g.counts, count: g.calls, sum: g.sum },
      });
    }
    this.#store.apply(points);
  }
}
