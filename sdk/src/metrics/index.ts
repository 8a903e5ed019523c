// Metrics pillar: an OpenTelemetry MeterProvider with a periodic OTLP/HTTP protobuf (gzip) export to
// {endpoint}/v1/metrics every exportIntervalMs (cumulative temporality, what Prometheus expects),
// optionally a Prometheus pull endpoint for the app itself (prometheus.ts),
// and the runtime metrics of runtime.ts.
//
// Contract:
// - Registers the meter provider globally (instrumentations record into it) unless the app did.
// - Metric exports run with tracing suppressed, so the http instrumentation does not trace them.
// - A Prometheus port that cannot be bound (EADDRINUSE, EACCES) is reported through `onWarning`;
//   it never throws and OTLP export goes on.
// - Data points the collector refuses in an accepted export (OTLP partial success) are counted
//   (counters.rejectedPoints) and reported through `onWarning`, at most once a minute: a
//   cumulative series the collector refuses is refused again at every export.
// - flush(deadlineAt): final collection + export and shutdown of every reader (the Prometheus
//   server closes), bounded by the deadline, never rejects.

import { context, metrics, type Meter } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationType,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type AggregationOption,
  type IMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { ResolvedOptions } from '../options.ts';
import { untilDeadline, type ExportAgents, type ExportCounters } from '../otel/common.ts';
import { startRuntimeMetrics, type RuntimeMetrics } from './runtime.ts';
import { createPrometheusReader } from './prometheus.ts';
import { dropUnsendableHeaders } from '../otel/exporter-headers.ts';
import { observePartialSuccess, rejectionWarner, type ObservedExportResult } from '../otel/partial-success.ts';

export interface Metrics {
  provider: MeterProvider;
  meter: Meter;
  runtime: RuntimeMetrics | undefined;
  counters: MetricCounters;
  flush(deadlineAt: number): Promise<void>;
}

/** exported/failed count metric EXPORTS (requests); rejectedPoints the data points the collector refused in exports it took. */
export interface MetricCounters extends ExportCounters {
  rejectedPoints: number;
}

export interface MetricsHooks {
  onWarning(message: string, details: Record<string, unknown>): void;
  /** An export failed, with the exporter's error (told to the app once per cause: logs/delivery-problem.ts). */
  onExportFailure?(error: unknown): void;
}

/** Suppresses tracing around each export and counts the outcomes. */
function wrapExporter(inner: PushMetricExporter, counters: MetricCounters, hooks: MetricsHooks): PushMetricExporter {
  const warnRejected = rejectionWarner(hooks.onWarning, 'metric data points');
  return {
    export(data, done) {
      context.with(suppressTracing(context.active()), () =>
        inner.export(data, (result: ObservedExportResult) => {
          if (result.code === ExportResultCode.SUCCESS) counters.exported++;
          else {
            counters.failed++;
            hooks.onExportFailure?.(result.error);
          }
          if (result.rejection) {
            counters.rejectedPoints += result.rejection.rejected;
            warnRejected(result.rejection);
          }
          done(result);
        }),
      );
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    selectAggregationTemporality: inner.selectAggregationTemporality?.bind(inner),
    selectAggregation: inner.selectAggregation?.bind(inner),
  };
}

/** Histograms as base-2 exponential histograms (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION), other instruments as by default. */
function exponentialHistograms(instrumentType: InstrumentType): AggregationOption {
  return instrumentType === InstrumentType.HISTOGRAM ? { type: AggregationType.EXPONENTIAL_HISTOGRAM } : { type: AggregationType.DEFAULT };
}

export function startMetrics(
  opts: ResolvedOptions,
  resource: Resource,
  agents: ExportAgents,
  timeoutMillis: number,
  hooks: MetricsHooks,
): Metrics {
  const counters: MetricCounters = { exported: 0, failed: 0, rejectedPoints: 0 };
  // The reader refuses a timeout longer than its interval; the exporter (its retries included)
  // gives up by then too, so a failed export is counted. Nothing is lost with it: the next export
  // carries the cumulative values again. The reader's own wait is opts.metrics.exportTimeoutMs
  // (OTEL_METRIC_EXPORT_TIMEOUT), already at most the interval.
  const exporter = new OTLPMetricExporter({
    url: opts.metrics.url,
    headers: opts.metrics.headers,
    compression: opts.metrics.gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    timeoutMillis: Math.min(timeoutMillis, opts.metrics.exportIntervalMs),
    ...(opts.metrics.exponentialHistograms ? { aggregationPreference: exponentialHistograms } : {}),
    httpAgentOptions: agents.factory(opts.metrics.tls),
  });
  observePartialSuccess(exporter);
  dropUnsendableHeaders(exporter);
  const readers: IMetricReader[] = [
    new PeriodicExportingMetricReader({
      exporter: wrapExporter(exporter, counters, hooks),
      exportIntervalMillis: opts.metrics.exportIntervalMs,
      exportTimeoutMillis: opts.metrics.exportTimeoutMs,
    }),
  ];
  if (opts.prometheus) {
    const { port, host } = opts.prometheus;
    readers.push(
      createPrometheusReader(port, host, (err) =>
        hooks.onWarning('prometheus endpoint not started', { port, host, error: String((err as Error)?.message ?? err) }),
      ),
    );
  }
  const provider = new MeterProvider({ resource, readers });
  const ownsGlobal = metrics.setGlobalMeterProvider(provider);

  const runtime = opts.metrics.runtime
    ? startRuntimeMetrics(provider.getMeter('@periscope/sdk'), opts.metrics.leak && {
        ...opts.metrics.leak,
        onSuspected: (slopeBytesPerMin) =>
          hooks.onWarning('heap used after major GC keeps rising: possible memory leak', {
            msgId: 'heap-leak-suspected',
            slopeBytesPerMin: Math.round(slopeBytesPerMin),
            thresholdBytesPerMin: opts.metrics.leak!.slopeBytesPerMin,
            windowMs: opts.metrics.leak!.windowMs,
          }),
      })
    : undefined;

  async function flush(deadlineAt: number): Promise<void> {
    try {
      await untilDeadline(provider.shutdown({ timeoutMillis: Math.max(1, deadlineAt - Date.now()) }), deadlineAt);
    } finally {
      runtime?.stop();
      if (ownsGlobal) metrics.disable();
    }
  }

  return { provider, meter: provider.getMeter(opts.service), runtime, counters, flush };
}
