// Joining logs to traces, and log sampling consistent with the trace decision (main thread).
//
// Trace context (pino `mixin`, https://getpino.io/#/docs/api?id=mixin-function): every line written
// while a span is active carries that span's `traceId`, `spanId` and `traceFlags` (W3C hex), which recordFromPino
// lifts into the record. With no active span the mixin allocates nothing: mergeTraceContext returns
// the caller's merge object as it is. Fields the caller passes explicitly win (pino's merge order).
//
// Sampling (pino `hooks.logMethod`, only installed when rate < 1), decided before pino serializes:
//   1. level ≥ keepLevel (default pino "error" = RFC 5424 err; never above it) → kept;
//   2. inside a SAMPLED trace (W3C trace-flags bit 0) → kept, so a stored trace has all its logs;
//   3. inside an unsampled trace → kept when the trace id's low 32 bits, as a fraction, are < rate:
//      one decision per trace id, so all logs of that trace are kept or dropped together
//      (W3C Trace Context §3.2.2.3: the right-most 7 bytes of a trace id are random);
//   4. outside any trace → kept with probability `rate` (independently per record).
// Rates 0 and 1 are exact (nothing / everything outside sampled traces).

import { INVALID_TRACEID, TraceFlags, trace, type SpanContext } from '@opentelemetry/api';

interface TraceFields {
  traceId: string;
  spanId: string;
  /** W3C trace-flags, 2 hex digits ("01": sampled), as @opentelemetry/instrumentation-pino writes trace_flags. */
  traceFlags: string;
}

/** Trace flags 0–255 → 2 hex digits, precomputed: the mixin runs for every line in a span. */
const HEX_FLAGS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

const NO_CONTEXT: Readonly<Record<string, never>> = Object.freeze({});

/** pino mixin: the active span's ids, or a shared frozen empty object (see mergeTraceContext). */
export function traceContextMixin(): object {
  const span = trace.getActiveSpan();
  if (span === undefined) return NO_CONTEXT;
  const ctx = span.spanContext();
  if (ctx.traceId === INVALID_TRACEID) return NO_CONTEXT;
  return { traceId: ctx.traceId, spanId: ctx.spanId, traceFlags: HEX_FLAGS[ctx.traceFlags & 0xff] } satisfies TraceFields;
}

/**
 * pino mixinMergeStrategy: explicit fields win; no copy at all when there is no trace context.
 * A call that names a trace of its own (`traceId` or `trace_id`, valid or not) gets none of the
 * active span's ids: that span's id beside another trace id would join the line to neither.
 */
export function mergeTraceContext(mergeObject: object, mixinObject: object): object {
  if (mixinObject === NO_CONTEXT || 'traceId' in mergeObject || 'trace_id' in mergeObject) return mergeObject;
  return Object.assign(mixinObject, mergeObject);
}

/** The low 32 bits of a 32-hex-digit trace id as a fraction in [0, 1). */
export function traceIdFraction(traceId: string): number {
  const n = Number.parseInt(traceId.slice(-8), 16);
  return Number.isNaN(n) ? 0 : n / 4294967296;
}

/** The sampling decision described at the top of this file. `level` and `keepLevel` are pino level numbers. */
export function keepLog(
  level: number,
  spanContext: SpanContext | undefined,
  rate: number,
  keepLevel: number,
  random: () => number = Math.random,
): boolean {
  if (level >= keepLevel) return true;
  if (spanContext !== undefined && spanContext.traceId !== INVALID_TRACEID) {
    if ((spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) return true;
    return traceIdFraction(spanContext.traceId) < rate;
  }
  return random() < rate;
}

type LogMethod = (this: unknown, args: unknown[], method: (...args: unknown[]) => void, level: number) => void;

/** pino hooks.logMethod applying keepLog; `onDrop` counts what was sampled away. */
export function createLogSampler(rate: number, keepLevel: number, onDrop: () => void): LogMethod {
  return function sampleLog(this: unknown, args, method, level) {
    if (level >= keepLevel || keepLog(level, trace.getActiveSpan()?.spanContext(), rate, keepLevel)) {
      method.apply(this, args);
      return;
    }
    onDrop();
  };
}
