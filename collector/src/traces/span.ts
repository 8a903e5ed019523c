// The span as Periscope stores and serves it (docs/traces-and-metrics.md).
import type { Attributes } from '../receivers/otlp/decode.ts';

export type { Attributes } from '../receivers/otlp/decode.ts';

/** OTLP Span.SpanKind names, by number (trace.proto). */
export const SPAN_KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'] as const;
/** OTLP Status.StatusCode names, by number. */
export const STATUS_CODE_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'] as const;

export type SpanKindName = (typeof SPAN_KIND_NAMES)[number];
export type StatusCodeName = (typeof STATUS_CODE_NAMES)[number];

export interface SpanEvent {
  /** Epoch nanoseconds, decimal string. */
  timeUnixNano: string;
  name: string;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: Attributes;
}

/** A validated span, ready for the span store and span metrics. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** null for a root span (absent or all-zero parent). */
  parentSpanId: string | null;
  name: string;
  /** 0–5, see SPAN_KIND_NAMES. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  /** Resource service.name. */
  service: string | null;
  /** Resource service.namespace/service.name, as the `job` label of span metrics. */
  job: string | null;
  /** Resource service.instance.id. */
  instance: string | null;
  /** 0–2, see STATUS_CODE_NAMES. */
  statusCode: number;
  statusMessage: string;
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  /** Resource attributes other than service.name / service.instance.id. */
  resource: Attributes;
  scope: { name?: string; version?: string };
  /** Attribute paths whose string values were cut to the size limit. */
  truncated?: string[];
}
