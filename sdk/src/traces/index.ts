// Tracing pillar: an OpenTelemetry TracerProvider exporting OTLP/HTTP protobuf (gzip) to
// {endpoint}/v1/traces (OTLP spec: https://opentelemetry.io/docs/specs/otlp/#otlphttp).
//
// Contract:
// - Registers the global context manager (AsyncLocalStorage, context.ts), the propagators of
//   opts.traces.propagators (OTEL_PROPAGATORS; W3C trace-context + baggage by default, none for an
//   empty list) and the tracer provider, so instrumentations and `trace.getActiveSpan()` (the log
//   mixin) see the active span. A global an app registered before init() is left alone.
// - Span limits (attribute value length and count, events, links) are the provider's, set from
//   OTEL_ATTRIBUTE_* / OTEL_SPAN_* (opts.traces.limits).
// - Head sampling: ParentBased(root = TraceIdRatio(sampleRatio)); a remote parent's decision wins,
//   so a distributed trace is kept or dropped as a whole.
// - Spans are batched off the request path (BatchSpanProcessor, sent every scheduledDelayMillis or
//   per maxExportBatchSize: opts.traces.batch, OTEL_BSP_* or flushIntervalMs, 512). A batch the
//   collector could not take (down, overloaded) is held and sent again until it can
//   (retry-queue.ts). At most maxQueueSize spans (2048 by default) wait, queued or held — the bound
//   on memory while the collector is down; a span ended while that many wait is dropped and counted
//   (stats().spans.dropped).
// - Spans the collector refuses one by one in an accepted export (OTLP partial success) count as
//   failed, and `onRejection` hears of them (../otel/partial-success.ts).
// - flush(deadlineAt) exports what is queued and held and shuts the provider down; bounded by the
//   deadline, never rejects. What is still queued or held then (a send in flight included) counts
//   as failed before it returns, so stats() is final when shutdown() resolves. After it the tracer
//   is a no-op and the globals this module set are released.

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
import type { ResolvedOptions, SpanBatching } from '../options.ts';
import { untilDeadline, type ExportAgents, type ExportCounters } from '../otel/common.ts';
import { PeriscopeContextManager } from './context.ts';
import { spanRetryQueue, type SpanRetryQueue } from './retry-queue.ts';
import { dropUnsendableHeaders } from '../otel/exporter-headers.ts';
import { observePartialSuccess, type Rejection } from '../otel/partial-success.ts';

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

/**
 * A BatchSpanProcessor in front of a SpanRetryQueue, with the bound on the spans waiting in
 * either kept here, so the spans dropped at it are counted: the OTel processor drops them with
 * only a diag message. A span is queued from its end until its batch is handed to the retry
 * queue; this bound is the processor's own, so it never drops itself.
 */
function countingBatchProcessor(
  retry: SpanRetryQueue,
  counters: SpanCounters,
  settings: SpanBatching,
): SpanProcessor & { drain(deadlineAt: number): Promise<void>; abandon(): void } {
  let queued = 0;
  let abandoned = false;
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      if (abandoned) return done({ code: ExportResultCode.SUCCESS }); // counted as failed at abandon()
      queued -= spans.length;
      retry.export(spans, done);
    },
    shutdown: () => retry.shutdown(),
    forceFlush: () => retry.forceFlush?.() ?? Promise.resolve(),
  };
  const batch = new BatchSpanProcessor({ exporter, ...settings });
  let shutDown = false;
  return {
    onStart: (span, parentContext) => batch.onStart(span, parentContext),
    onEnd(span) {
      // the same spans the batch processor itself ignores
      if (shutDown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      if (queued + retry.heldSpans >= settings.maxQueueSize) {
        counters.dropped++;
        return;
      }
      queued++;
      batch.onEnd(span);
    },
    forceFlush: () => batch.forceFlush(),
    drain: (deadlineAt) => batch.forceFlush().then(() => retry.drain(deadlineAt)),
    /** At the shutdown deadline: every span still queued or held counts as failed (SpanRetryQueue.abandon). */
    abandon() {
      abandoned = true;
      counters.failed += queued;
      queued = 0;
      retry.abandon();
    },
    shutdown() {
      shutDown = true;
      return batch.shutdown();
    },
  };
}

export function startTraces(
  opts: ResolvedOptions,
  resource: Resource,
  agents: ExportAgents,
  timeoutMillis: number,
  onRejection: (rejection: Rejection) => void = () => {},
  onFailure: (error: unknown) => void = () => {},
): Traces {
  const counters: SpanCounters = { exported: 0, failed: 0, dropped: 0 };
  const exporter = new OTLPTraceExporter({
    url: opts.traces.url,
    headers: opts.traces.headers,
    compression: opts.traces.gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    timeoutMillis,
    httpAgentOptions: agents.factory(opts.traces.tls),
  });
  observePartialSuccess(exporter);
  dropUnsendableHeaders(exporter);
  const ratio = opts.traces.sampleRatio;
  const processor = countingBatchProcessor(spanRetryQueue(exporter, counters, onRejection, onFailure), counters, opts.traces.batch);
  const provider = new TracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [processor],
    spanLimits: opts.traces.limits,
  });

  const contextManager = new PeriscopeContextManager();
  const ownsContext = context.setGlobalContextManager(contextManager.enable());
  if (!ownsContext) contextManager.disable();
  const propagators = opts.traces.propagators.map((name) => (name === 'tracecontext' ? new W3CTraceContextPropagator() : new W3CBaggagePropagator()));
  const ownsPropagation = propagators.length > 0 && propagation.setGlobalPropagator(new CompositePropagator({ propagators }));
  const ownsTrace = trace.setGlobalTracerProvider(provider);

  async function flush(deadlineAt: number): Promise<void> {
    try {
      await untilDeadline(processor.drain(deadlineAt).then(() => provider.shutdown()), deadlineAt);
    } finally {
      processor.abandon();
      if (ownsTrace) trace.disable();
      if (ownsPropagation) propagation.disable();
      if (ownsContext) context.disable();
    }
  }

  return { provider, tracer: provider.getTracer(opts.service), counters, flush };
}
