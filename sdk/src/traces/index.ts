// Tracing pillar: an OpenTelemetry TracerProvider exporting OTLP/HTTP protobuf (gzip) to
// {endpoint}/v1/traces (OTLP spec: https://opentelemetry.io/docs/specs/otlp/#otlphttp).
//
// Contract:
// - Registers the global context manager (AsyncLocalStorage, context.ts), W3C trace-context + baggage
//   propagators and the tracer provider, so instrumentations and `trace.getActiveSpan()` (the log
//   mixin) see the active span. A global an app registered before init() is left alone.
// - Head sampling: ParentBased(root = TraceIdRatio(sampleRatio)); a remote parent's decision wins,
//   so a distributed trace is kept or dropped as a whole.
// - Spans are batched off the request path (BatchSpanProcessor: at most 2048 queued — the bound on
//   memory when the collector is down — sent every flushIntervalMs or per 512). A span ended while
//   2048 wait is dropped and counted (stats().spans.dropped).
// - flush(deadlineAt) exports what is queued and shuts the provider down; bounded by the deadline,
//   never rejects. After it the tracer is a no-op and the globals this module set are released.

import { context, propagation, trace, TraceFlags, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, ExportResultCode, W3CBaggagePropagator, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { Resource } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { ResolvedOptions } from '../options.ts';
import { untilDeadline, type ExportAgents, type ExportCounters } from '../otel/common.ts';
import { PeriscopeContextManager } from './context.ts';

export interface Traces {
  provider: TracerProvider;
  tracer: Tracer;
  counters: SpanCounters;
  flush(deadlineAt: number): Promise<void>;
}

/** Spans exported, failed, and dropped because the queue was full (the collector slow or down). */
export interface SpanCounters extends ExportCounters {
  dropped: number;
}

const MAX_QUEUE_SIZE = 2048;

/**
 * A BatchSpanProcessor whose queue bound is kept here, so the spans dropped at it are counted:
 * the OTel processor drops them with only a diag message. A span is queued from its end until its
 * batch is handed to the exporter; this bound is the processor's own, so it never drops itself.
 */
function countingBatchProcessor(inner: SpanExporter, counters: SpanCounters, scheduledDelayMillis: number, exportTimeoutMillis: number): SpanProcessor {
  let queued = 0;
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      queued -= spans.length;
      inner.export(spans, (result) => {
        if (result.code === ExportResultCode.SUCCESS) counters.exported += spans.length;
        else counters.failed += spans.length;
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  const batch = new BatchSpanProcessor({ exporter, maxQueueSize: MAX_QUEUE_SIZE, maxExportBatchSize: 512, scheduledDelayMillis, exportTimeoutMillis });
  let shutDown = false;
  return {
    onStart: (span, parentContext) => batch.onStart(span, parentContext),
    onEnd(span) {
      // the same spans the batch processor itself ignores
      if (shutDown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      if (queued >= MAX_QUEUE_SIZE) {
        counters.dropped++;
        return;
      }
      queued++;
      batch.onEnd(span);
    },
    forceFlush: () => batch.forceFlush(),
    shutdown() {
      shutDown = true;
      return batch.shutdown();
    },
  };
}

export function startTraces(opts: ResolvedOptions, resource: Resource, agents: ExportAgents, timeoutMillis: number): Traces {
  const counters: SpanCounters = { exported: 0, failed: 0, dropped: 0 };
  const exporter = new OTLPTraceExporter({
    url: `${opts.endpoint}/v1/traces`,
    compression: CompressionAlgorithm.GZIP,
    timeoutMillis,
    httpAgentOptions: agents.factory,
  });
  const ratio = opts.traces.sampleRatio;
  const provider = new TracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [countingBatchProcessor(exporter, counters, opts.flushIntervalMs, timeoutMillis)],
  });

  const contextManager = new PeriscopeContextManager();
  const ownsContext = context.setGlobalContextManager(contextManager.enable());
  if (!ownsContext) contextManager.disable();
  const ownsPropagation = propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const ownsTrace = trace.setGlobalTracerProvider(provider);

  async function flush(deadlineAt: number): Promise<void> {
    try {
      await untilDeadline(
        provider.forceFlush({ timeoutMillis: Math.max(1, deadlineAt - Date.now()) }).then(() => provider.shutdown()),
        deadlineAt,
      );
    } finally {
      if (ownsTrace) trace.disable();
      if (ownsPropagation) propagation.disable();
      if (ownsContext) context.disable();
    }
  }

  return { provider, tracer: provider.getTracer(opts.service), counters, flush };
}
