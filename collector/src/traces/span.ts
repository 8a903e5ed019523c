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
  /** Attributes the sender's SDK dropped (its limits); only when not 0. */
  droppedAttributesCount?: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: Attributes;
  /** W3C tracestate of the linked span context; only when not empty. */
  traceState?: string;
  /** W3C trace flags (and OTLP's is-remote bits) of the link; only when not 0. */
  flags?: number;
  droppedAttributesCount?: number;
}

/**
 * Span fields kept as sent for the trace view (trace.proto), each only when not its proto3
 * default: W3C tracestate, flags (trace flags in bits 0–7, OTLP's has/is-remote in bits 8–9) and
 * what the sender's SDK dropped at its limits, which tells a reader the span is incomplete.
 */
export interface SpanExtras {
  traceState?: string;
  flags?: number;
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
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
  /** Instrumentation scope; attributes only when it has some. */
  scope: { name?: string; version?: string; attributes?: Attributes };
  /** tracestate, flags and dropped counts, only those that are set. */
  extras?: SpanExtras;
  /** Attribute paths whose string values were cut to the size limit. */
  truncated?: string[];
}
