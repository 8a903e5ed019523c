// OTLP traces (normalized by decode.ts) → SpanRecords, with per-span rejections.
//
// Mapping (OTel trace data model → docs/traces-and-metrics.md):
// - traceId: 32 hex characters, not all zeros; spanId: 16 hex, not all zeros (required: the
//   trace API joins on them). parentSpanId: empty or all zeros means root, else 16 hex.
// - kind must be 0–5 and status.code 0–2 (SpanKind / StatusCode); other numbers are rejected
//   rather than guessed.
// - startTimeUnixNano must be set (> 0); endTimeUnixNano must not be before it, nor after 2199
//   (records/time-range.ts).
// - resource service.name → service, service.namespace + service.name → job, service.instance.id
//   → instance; the other resource attributes and the scope name/version are kept with the span.
// - String attribute values (span, event, link and resource attributes, at any depth) longer than
//   maxAttributeValueBytes (UTF-8) are cut at a character boundary and listed in `truncated`
//   ("attributes.<key>", "events[i].attributes.<key>", "links[i].attributes.<key>",
//   "resource.<key>", "scope.attributes.<key>"). A span whose stored JSON is still over maxSpanBytes is rejected.
// - traceState, flags and the dropped counts (span, event, link) are kept when set; scope
//   attributes too. Schema URLs and the resource's and scope's dropped counts are not kept.
// - A value of the wrong type anywhere in the span, its scope or resource (OTLP/JSON) rejects the span.
//
// `index` in a rejection is the position of the span in document order over all
// resourceSpans/scopeSpans — the same numbering whichever encoding was used.

import { msInRange, outOfRange } from '../../records/time-range.ts';
import type { SpanEvent, SpanExtras, SpanLink, SpanRecord } from '../../traces/span.ts';
import {
  ItemRejection,
  type Attributes,
  type FieldIssue,
  type NormalizedMessage,
  type NormalizedResourceSpans,
  type NormalizedTracesRequest,
  type OtlpRejection,
} from './decode.ts';
import { firstIssue, truncateAttributes } from './attributes.ts';

export const OTLP_SPAN_ERROR_CODES = {
  BAD_TRACE_ID: 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID',
  BAD_SPAN_ID: 'PERISCOPE_ERR_OTLP_BAD_SPAN_ID',
  BAD_SPAN_KIND: 'PERISCOPE_ERR_OTLP_BAD_SPAN_KIND',
  BAD_STATUS: 'PERISCOPE_ERR_OTLP_BAD_STATUS',
  BAD_TIMESTAMP: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP',
  BAD_FIELD_TYPE: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE',
  SPAN_TOO_LARGE: 'PERISCOPE_ERR_OTLP_SPAN_TOO_LARGE',
} as const;

const C = OTLP_SPAN_ERROR_CODES;

export interface OtlpTracesOptions {
  /** UTF-8 bytes; longer string attribute values are cut. Default 64 KiB. */
  maxAttributeValueBytes?: number;
  /** UTF-8 bytes of the span's stored JSON (attributes, events, links, resource); larger spans are rejected. Default 1 MiB. */
  maxSpanBytes?: number;
}

export interface OtlpTracesResult {
  spans: SpanRecord[];
  rejected: OtlpRejection[];
}

export const DEFAULT_MAX_ATTRIBUTE_VALUE_BYTES = 64 * 1024;
export const DEFAULT_MAX_SPAN_BYTES = 1024 * 1024;

const ISSUE_CODES: Record<string, string> = {
  traceId: C.BAD_TRACE_ID,
  spanId: C.BAD_SPAN_ID,
  parentSpanId: C.BAD_SPAN_ID,
  kind: C.BAD_SPAN_KIND,
  status: C.BAD_STATUS,
  startTimeUnixNano: C.BAD_TIMESTAMP,
  endTimeUnixNano: C.BAD_TIMESTAMP,
};
const HEX = /^[0-9a-f]*$/;

interface ResourceContext {
  issue?: FieldIssue;
  service: string | null;
  job: string | null;
  instance: string | null;
  resource: Attributes;
  truncated: string[];
}

/** Converts a normalized ExportTraceServiceRequest (decodeOtlp('traces', …)) into span records. */
export function otlpTracesToSpans(req: NormalizedTracesRequest, options: OtlpTracesOptions = {}): OtlpTracesResult {
  const maxAttr = options.maxAttributeValueBytes ?? DEFAULT_MAX_ATTRIBUTE_VALUE_BYTES;
  const maxSpan = options.maxSpanBytes ?? DEFAULT_MAX_SPAN_BYTES;
  const out: OtlpTracesResult = { spans: [], rejected: [] };
  let index = 0;
  for (const rs of req.resourceSpans ?? []) {
    const resource = resourceContext(rs, maxAttr);
    for (const ss of rs.scopeSpans ?? []) {
      const scopeIssue = firstIssue(ss, ss.scope);
      const scope: SpanRecord['scope'] = {};
      if (ss.scope?.name) scope.name = ss.scope.name;
      if (ss.scope?.version) scope.version = ss.scope.version;
      const scopeTruncated: string[] = [];
      if (ss.scope && Object.keys(ss.scope.attributes).length > 0) scope.attributes = truncateAttributes(ss.scope.attributes, maxAttr, 'scope.attributes.', scopeTruncated);
      for (const span of ss.spans ?? []) {
        try {
          const inherited = scopeIssue ?? resource.issue;
          if (inherited) throw new ItemRejection(C.BAD_FIELD_TYPE, `${inherited.path}: ${inherited.message}`);
          out.spans.push(toSpan(span, resource, scope, scopeTruncated, maxAttr, maxSpan));
        } catch (err) {
          if (!(err instanceof ItemRejection)) throw err;
          out.rejected.push({ index, code: err.code, message: err.message });
        }
        index++;
      }
    }
  }
  return out;
}


function resourceContext(rs: NormalizedResourceSpans, maxAttr: number): ResourceContext {
  const attrs: Attributes = { ...rs.resource?.attributes };
  const scalar = (key: string, remove: boolean): string | null => {
    const v = attrs[key];
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return null;
    if (remove) delete attrs[key];
    return String(v);
  };
  const service = scalar('service.name', true);
  const namespace = scalar('service.namespace', false);
  const instance = scalar('service.instance.id', true);
  const truncated: string[] = [];
  return {
    issue: firstIssue(rs, rs.resource),
    service,
    job: service === null ? null : namespace ? `${namespace}/${service}` : service,
    instance,
    resource: truncateAttributes(attrs, maxAttr, 'resource.', truncated),
    truncated,
  };
}

function checkId(value: unknown, length: number, name: string, code: string, required: boolean): string | null {
  const zero = '0'.repeat(length);
  if (value === undefined || value === '' || value === zero) {
    if (required) throw new ItemRejection(code, `${name} is required (${length} hex characters, not all zeros)`);
    return null;
  }
  if (typeof value !== 'string' || value.length !== length || !HEX.test(value)) {
    const got = typeof value === 'string' ? (HEX.test(value) ? `${value.length} hex characters` : 'a non-hex string') : typeof value;
    throw new ItemRejection(code, `${name} must be ${length} hex characters (${length / 2} bytes), got ${got}`);
  }
  return value;
}

function parseNanos(value: unknown, name: string): bigint {
  if (value === undefined || value === '') return 0n;
  try {
    const n = BigInt(value as string);
    if (n < 0n) throw new Error('negative');
    return n;
  } catch {
    throw new ItemRejection(C.BAD_TIMESTAMP, `${name} is not a non-negative integer: ${String(value).slice(0, 40)}`);
  }
}

function toSpan(span: NormalizedMessage, resource: ResourceContext, scope: SpanRecord['scope'], scopeTruncated: readonly string[], maxAttr: number, maxSpan: number): SpanRecord {
  const own = firstIssue(span, span.status as NormalizedMessage | undefined);
  if (own) throw new ItemRejection(ISSUE_CODES[own.field] ?? C.BAD_FIELD_TYPE, `${own.path}: ${own.message}`);
  const traceId = checkId(span.traceId, 32, 'traceId', C.BAD_TRACE_ID, true) as string;
  const spanId = checkId(span.spanId, 16, 'spanId', C.BAD_SPAN_ID, true) as string;
  const parentSpanId = checkId(span.parentSpanId, 16, 'parentSpanId', C.BAD_SPAN_ID, false);
  const kind = span.kind ?? 0;
  if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 5) throw new ItemRejection(C.BAD_SPAN_KIND, `kind must be 0–5 (SpanKind), got ${String(kind)}`);
  const status = (span.status ?? {}) as { code?: unknown; message?: unknown };
  const statusCode = status.code ?? 0;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 0 || statusCode > 2) {
    throw new ItemRejection(C.BAD_STATUS, `status.code must be 0–2 (StatusCode), got ${String(statusCode)}`);
  }
  const startNs = parseNanos(span.startTimeUnixNano, 'startTimeUnixNano');
  const endNs = parseNanos(span.endTimeUnixNano, 'endTimeUnixNano');
  if (startNs === 0n) throw new ItemRejection(C.BAD_TIMESTAMP, 'startTimeUnixNano is required');
  if (endNs < startNs) throw new ItemRejection(C.BAD_TIMESTAMP, 'endTimeUnixNano is before startTimeUnixNano');
  // Past 2199 a time no longer fits the store (a signed 64-bit column, then a JS number when read):
  // it failed the whole request's write, or every trace search that reached the span.
  if (!msInRange(Number(endNs / 1_000_000n))) throw new ItemRejection(C.BAD_TIMESTAMP, outOfRange('endTimeUnixNano', endNs.toString()));

  const truncated = [...resource.truncated, ...scopeTruncated];
  const attributes = truncateAttributes((span.attributes ?? {}) as Attributes, maxAttr, 'attributes.', truncated);
  const events: SpanEvent[] = ((span.events ?? []) as NormalizedMessage[]).map((e, i) => {
    const issue = firstIssue(e);
    if (issue) throw new ItemRejection(C.BAD_FIELD_TYPE, `${issue.path}: ${issue.message}`);
    const event: SpanEvent = {
      timeUnixNano: String(e.timeUnixNano ?? '0'),
      name: String(e.name ?? ''),
      attributes: truncateAttributes((e.attributes ?? {}) as Attributes, maxAttr, `events[${i}].attributes.`, truncated),
    };
    if (positive(e.droppedAttributesCount)) event.droppedAttributesCount = e.droppedAttributesCount;
    return event;
  });
  const links: SpanLink[] = ((span.links ?? []) as NormalizedMessage[]).map((l, i) => {
    const issue = firstIssue(l);
    if (issue) throw new ItemRejection(C.BAD_FIELD_TYPE, `${issue.path}: ${issue.message}`);
    const link: SpanLink = {
      traceId: String(l.traceId ?? ''),
      spanId: String(l.spanId ?? ''),
      attributes: truncateAttributes((l.attributes ?? {}) as Attributes, maxAttr, `links[${i}].attributes.`, truncated),
    };
    if (typeof l.traceState === 'string' && l.traceState !== '') link.traceState = l.traceState;
    if (positive(l.flags)) link.flags = l.flags;
    if (positive(l.droppedAttributesCount)) link.droppedAttributesCount = l.droppedAttributesCount;
    return link;
  });
  const extras: SpanExtras = {};
  if (typeof span.traceState === 'string' && span.traceState !== '') extras.traceState = span.traceState;
  if (positive(span.flags)) extras.flags = span.flags;
  if (positive(span.droppedAttributesCount)) extras.droppedAttributesCount = span.droppedAttributesCount;
  if (positive(span.droppedEventsCount)) extras.droppedEventsCount = span.droppedEventsCount;
  if (positive(span.droppedLinksCount)) extras.droppedLinksCount = span.droppedLinksCount;
  const record: SpanRecord = {
    traceId,
    spanId,
    parentSpanId,
    name: typeof span.name === 'string' ? span.name : '',
    kind,
    startNs,
    endNs,
    service: resource.service,
    job: resource.job,
    instance: resource.instance,
    statusCode,
    statusMessage: typeof status.message === 'string' ? status.message : '',
    attributes,
    events,
    links,
    resource: resource.resource,
    scope,
  };
  if (Object.keys(extras).length > 0) record.extras = extras;
  if (truncated.length > 0) record.truncated = truncated;
  const size = Buffer.byteLength(record.name, 'utf8') + jsonBytes(attributes) + jsonBytes(events) + jsonBytes(links) + jsonBytes(resource.resource) + jsonBytes(scope) + jsonBytes(extras);
  if (size > maxSpan) throw new ItemRejection(C.SPAN_TOO_LARGE, `span is ${size} bytes as JSON, over the ${maxSpan}-byte limit`);
  return record;
}

/** A uint32 count or flags field (decode.ts: always a number) that is set. */
function positive(v: unknown): v is number {
  return typeof v === 'number' && v > 0;
}

function jsonBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v), 'utf8');
}

