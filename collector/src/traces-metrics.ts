import type { FastifyInstance } from 'fastify';
import type { DatabaseSync } from 'node:sqlite';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import type { ComponentHealth } from './api/health.ts';
import { parseBytes, parseDuration } from './config/units.ts';
import type { MetricsConfig } from './metrics/config.ts';
import { createTelemetryMetrics } from './metrics/self-metrics.ts';
import { MetricStore } from './metrics/store.ts';
import { registerOtlpMetricsRoute, registerOtlpTracesRoute } from './receivers/otlp/signals.ts';
import type { StoreQueries } from './store/store-queries.ts';
import { registerTraceRoutes } from './traces/api.ts';
import type { TracesConfig } from './traces/config.ts';
import { SlowOperations } from './traces/slowest.ts';
import { SpanMetrics } from './traces/span-metrics.ts';
import { SpanStore } from './traces/span-store.ts';
import type { SpanRecord } from './traces/span.ts';

/**
 * Traces and metrics over OTLP (docs/traces-and-metrics.md), composed from their parts:
 * POST /v1/traces → span store (SQLite, durable before the 200) → span metrics + slow operations;
 * POST /v1/metrics → metric store (memory); both metric stores rendered on /metrics, read by
 * alert rules (metricSourceOf) and remote write (MetricStore.samples).
 * Lifecycle: start() runs the expiry timer and rebuilds the slow-operation view from the stored
 * spans in the background; shutdown() stops both and is safe twice and before start().
 */
export function createTracesAndMetrics(db: DatabaseSync, config: { traces: TracesConfig; metrics: MetricsConfig }, registry: Registry) {
  const m = config.metrics;
  const t = config.traces;
  const spans = new SpanStore(db);
  const metricStore = new MetricStore({
    maxSeries: m.maxSeries,
    staleAfterMs: parseDuration(m.staleAfter),
    sampleWindowMs: parseDuration(m.sampleWindow),
    sampleResolutionMs: parseDuration(m.sampleResolution),
    onSeriesLimit: m.onSeriesLimit,
    exponential: m.exponentialHistograms,
    // Rendered by the self-metrics registry and by the span-metrics store respectively.
    isReserved: (name) => name.startsWith('periscope_') || name.startsWith('traces_span_metrics_'),
  });
  const spanMetricsStore = new MetricStore({
    maxSeries: t.spanMetrics.maxSeries,
    staleAfterMs: parseDuration(t.spanMetrics.staleAfter),
    sampleWindowMs: parseDuration(m.sampleWindow),
    sampleResolutionMs: parseDuration(m.sampleResolution),
    onSeriesLimit: 'drop',
    exponential: m.exponentialHistograms,
    targetInfo: false,
  });
  const spanMetrics = new SpanMetrics(spanMetricsStore, t.spanMetrics.buckets);
  const slow = new SlowOperations({ maxWindowMs: parseDuration(t.slowest.maxWindow), maxOperations: t.slowest.maxOperations });
  const selfMetrics = createTelemetryMetrics(registry, { otlp: metricStore, span_metrics: spanMetricsStore }, () => spans.count(), slow);
  // Spans already stored when the collector starts are replayed into the slow-operation view; later ones arrive live.
  const warmUpUntilId = spans.lastId();

  const onStored = (stored: SpanRecord[]) => {
    if (t.spanMetrics.enabled) spanMetrics.record(stored);
    slow.record(
      stored.map((s) => ({ traceId: s.traceId, spanId: s.spanId, service: s.service, name: s.name, startMs: Number(s.startNs / 1_000_000n), durationNs: Number(s.endNs - s.startNs) })),
    );
  };

  let timer: NodeJS.Timeout | undefined;
  let warmUp: Promise<void> | undefined;
  let stopping = false;

  async function replay(): Promise<void> {
    let after = 0;
    const since = (Date.now() - slow.maxWindowMs) * 1000;
    while (!stopping) {
      const batch = spans.timingsAfter(after, warmUpUntilId, since, 5000);
      if (batch.length === 0) return;
      slow.record(batch);
      after = batch[batch.length - 1].id;
      await yieldToLoop();
    }
  }

  return {
    spans,
    metricStore,
    spanMetricsStore,
    slow,
    /** Tables for Retention's policy.tables. */
    retentionTables: [{ table: 'spans', maxAgeMs: parseDuration(t.retention.maxAge) }],

    registerRoutes(app: FastifyInstance, logs: StoreQueries): void {
      registerOtlpTracesRoute(app, {
        sink: spans,
        onStored,
        metrics: selfMetrics,
        limits: { maxAttributeValueBytes: parseBytes(t.maxAttributeValueBytes), maxSpanBytes: parseBytes(t.maxSpanBytes) },
      });
      registerOtlpMetricsRoute(app, { store: metricStore, metrics: selfMetrics, limits: { maxLabelValueLength: m.maxLabelValueLength } });
      registerTraceRoutes(app, { logs, slow });
    },

    /** Exposition text appended to /metrics, in pieces (MetricStore.renderPieces). */
    *exposition(): Generator<string> {
      yield* metricStore.renderPieces();
      yield* spanMetricsStore.renderPieces();
    },

    health(): Record<string, ComponentHealth> {
      return {
        traces: { status: 'up', spans: spans.count(), slowOperations: slow.operationCount, slowOperationSpansDropped: slow.dropped, spanMetricSeries: spanMetricsStore.seriesCount },
        metrics: { status: 'up', series: metricStore.seriesCount, maxSeries: m.maxSeries, dropped: metricStore.dropped },
      };
    },

    start(): void {
      if (timer || stopping) return;
      timer = setInterval(() => {
        metricStore.expire();
        spanMetricsStore.expire();
        slow.prune();
      }, 15_000);
      timer.unref();
      warmUp = replay().catch(() => {});
    },

    async shutdown(): Promise<void> {
      stopping = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await warmUp;
    },
  };
}

export type TracesAndMetrics = ReturnType<typeof createTracesAndMetrics>;
