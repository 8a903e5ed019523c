import { Counter, Gauge, type Registry } from 'prom-client';
import type { DropReason, MetricStore } from './store.ts';

/**
 * The collector's own metrics about OTLP traces and metrics intake, on the shared registry
 * (rendered at /metrics with the rest of the periscope_* families).
 */
export function createTelemetryMetrics(
  registry: Registry,
  stores: Record<string, MetricStore>,
  countSpans?: () => number,
  slow?: { readonly operationCount: number; readonly dropped: number },
) {
  const droppedSeen = new Map<string, number>();
  const expiredSeen = new Map<string, number>();
  if (slow) {
    // The slow-operation view's bound (traces.slowest.maxOperations), alertable like the metric
    // stores' series limit: /health/detailed alone said when span names (a UUID or unnormalized
    // URL in them) filled it and GET /api/v1/traces/slowest began to leave operations out.
    new Gauge({
      name: 'periscope_traces_slow_operations',
      help: 'Operations (service, span name) held for GET /api/v1/traces/slowest (bound: traces.slowest.maxOperations).',
      registers: [registry],
      collect() {
        this.set(slow.operationCount);
      },
    });
    let slowDroppedSeen = 0;
    new Counter({
      name: 'periscope_traces_slow_operation_spans_dropped_total',
      help: 'Spans left out of GET /api/v1/traces/slowest because traces.slowest.maxOperations operations were held (the spans themselves are stored).',
      registers: [registry],
      collect() {
        const inc = slow.dropped - slowDroppedSeen;
        if (inc > 0) this.inc(inc);
        slowDroppedSeen = slow.dropped;
      },
    });
  }
  const series = new Gauge({
    name: 'periscope_metrics_series',
    help: 'Series held by the collector\'s metric stores (otlp: received OTLP metrics, span_metrics: derived from spans).',
    labelNames: ['store'] as const,
    registers: [registry],
    collect() {
      for (const [name, store] of Object.entries(stores)) this.set({ store: name }, store.seriesCount);
    },
  });
  const dropped = new Counter({
    name: 'periscope_metrics_dropped_points_total',
    help: 'Metric data points not applied, by store and reason (series_limit, type_conflict, name_reserved, out_of_order, bucket_layout_changed).',
    labelNames: ['store', 'reason'] as const,
    registers: [registry],
    collect() {
      for (const [name, store] of Object.entries(stores)) {
        for (const [reason, total] of Object.entries(store.dropped) as Array<[DropReason, number]>) {
          const key = `${name}\u0000${reason}`;
          const inc = total - (droppedSeen.get(key) ?? 0);
          if (inc > 0) this.inc({ store: name, reason }, inc);
          droppedSeen.set(key, total);
        }
      }
    },
  });
  const expired = new Counter({
    name: 'periscope_metrics_expired_series_total',
    help: 'Series removed from the metric stores because no point arrived for staleAfter.',
    labelNames: ['store'] as const,
    registers: [registry],
    collect() {
      for (const [name, store] of Object.entries(stores)) {
        const inc = store.expired - (expiredSeen.get(name) ?? 0);
        if (inc > 0) this.inc({ store: name }, inc);
        expiredSeen.set(name, store.expired);
      }
    },
  });
  return {
    series,
    dropped,
    expired,
    spansAccepted: new Counter({
      name: 'periscope_otlp_spans_accepted_total',
      help: 'Spans written to the span store (resent duplicates not counted).',
      registers: [registry],
    }),
    spansRejected: new Counter({
      name: 'periscope_otlp_spans_rejected_total',
      help: 'Spans refused at intake, by reason (error code).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    pointsAccepted: new Counter({
      name: 'periscope_otlp_metric_points_accepted_total',
      help: 'OTLP metric data points applied to the metric store.',
      registers: [registry],
    }),
    pointsRejected: new Counter({
      name: 'periscope_otlp_metric_points_rejected_total',
      help: 'OTLP metric data points refused at intake, by reason (error code).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    storedSpans: new Gauge({
      name: 'periscope_store_spans',
      help: 'Spans held in the embedded store.',
      registers: [registry],
      collect() {
        if (countSpans) this.set(countSpans());
      },
    }),
    otlpRequestsRefused: new Counter({
      name: 'periscope_otlp_refused_requests_total',
      help: 'Whole OTLP traces/metrics requests refused (400 undecodable, 413, 415, 429, 503), by signal and reason.',
      labelNames: ['signal', 'reason'] as const,
      registers: [registry],
    }),
  };
}

export type TelemetryMetrics = ReturnType<typeof createTelemetryMetrics>;
