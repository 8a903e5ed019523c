// What the collector refused inside an accepted OTLP export (partial success).
//
// An OTLP/HTTP 200 may carry `partialSuccess { rejectedSpans | rejectedDataPoints, errorMessage }`
// (https://opentelemetry.io/docs/specs/otlp/#partial-success-1): the collector refused those items
// (a span over traces.maxSpanBytes, a NaN counter, an attribute over metrics.maxLabelValueLength …,
// docs/traces-and-metrics.md) and kept the rest. OpenTelemetry's exporters hand it to diag.warn —
// silent unless the app installed a diag logger — and report the export a success, so refused
// spans were counted as exported and the app never learnt that data was lost.
//
// No public option reaches the decoded answer, so the exporter's serializer is wrapped: the export
// delegate (@opentelemetry/otlp-exporter-base 0.301, OTLPExporterBase._delegate._serializer)
// decodes the answer and calls back SUCCESS in the same synchronous step, so the rejection read
// just before that callback belongs to that export. If a later version moves those fields,
// observePartialSuccess returns false and exports work as before, unobserved (tested).

import { ExportResultCode, type ExportResult } from '@opentelemetry/core';

export interface Rejection {
  /** Items (spans or data points) the collector refused. */
  rejected: number;
  /** The collector's errorMessage: the first reasons, `#<index> <code> (<reason>)`. */
  message: string;
}

/** An export result that may also say what the collector refused of an accepted export. */
export interface ObservedExportResult extends ExportResult {
  rejection?: Rejection;
}

interface Serializer {
  serializeRequest(request: unknown): unknown;
  deserializeResponse(data: Uint8Array): unknown;
}

interface Exporter {
  export(items: never, done: (result: ExportResult) => void): void;
}

function rejectionOf(response: unknown): Rejection | undefined {
  const partial = (response as { partialSuccess?: Record<string, unknown> } | undefined)?.partialSuccess;
  if (partial === undefined || partial === null) return undefined;
  const count = Number(partial.rejectedSpans ?? partial.rejectedDataPoints ?? 0);
  // 0 rejected is a full success (an errorMessage then is only a warning, per the OTLP spec)
  if (!Number.isFinite(count) || count <= 0) return undefined;
  return { rejected: count, message: typeof partial.errorMessage === 'string' ? partial.errorMessage : '' };
}

/**
 * Makes `exporter.export` report the collector's partial success in its result (`rejection`).
 * Returns false when the exporter's internals are not the expected ones (nothing is changed then).
 */
export function observePartialSuccess(exporter: Exporter): boolean {
  const delegate = (exporter as unknown as { _delegate?: { _serializer?: Serializer } })._delegate;
  const serializer = delegate?._serializer;
  if (typeof serializer?.deserializeResponse !== 'function' || typeof serializer.serializeRequest !== 'function') return false;
  let last: Rejection | undefined;
  delegate!._serializer = {
    serializeRequest: (request) => serializer.serializeRequest(request),
    deserializeResponse: (data) => {
      const response = serializer.deserializeResponse(data);
      last = rejectionOf(response);
      return response;
    },
  };
  const exportItems = exporter.export.bind(exporter);
  exporter.export = (items, done) => {
    exportItems(items, (result) => {
      const rejection = last;
      last = undefined;
      done(rejection && result.code === ExportResultCode.SUCCESS ? ({ ...result, rejection } as ObservedExportResult) : result);
    });
  };
  return true;
}

/**
 * One warning for refused items, then at most one per `intervalMs` with the count since the last
 * one: a cumulative metric the collector refuses is refused again at every export.
 */
export function rejectionWarner(
  warn: (msg: string, details: Record<string, unknown>) => void,
  what: 'spans' | 'metric data points',
  intervalMs = 60_000,
): (rejection: Rejection) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (rejection) => {
    since += rejection.rejected;
    const now = Date.now();
    if (now - lastAt < intervalMs) return;
    lastAt = now;
    warn(`the collector refused ${what}`, { msgId: 'otlp-partial-success', rejected: since, error: rejection.message });
    since = 0;
  };
}
