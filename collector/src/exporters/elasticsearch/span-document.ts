// Stored span → Elasticsearch document for the traces data stream, ECS field names where ECS has
// them (https://www.elastic.co/guide/en/ecs/current/ecs-tracing.html):
//   @timestamp              span start (RFC 3339, µs; mapped date_nanos)
//   trace.id, span.id       ids (lowercase hex); parent.id the parent span's id (absent on a root)
//   span.name, span.kind    operation name; kind as server | client | producer | consumer | internal | unspecified
//   span.status.code        ok | error | unset; span.status.message
//   event.duration          duration in nanoseconds (ECS unit)
//   event.outcome           success (status ok) | failure (status error) | unknown (unset)
//   service.name            service.name of the span's resource; service.instance.id its instance
//   labels.<key>            configured static labels, and every scalar span attribute (as a string;
//                           "." and other characters in keys become "_"), as for logs
//   periscope.attributes    span attributes that are objects or arrays (flattened)
//   periscope.resource      resource attributes (flattened)
//   periscope.scope         instrumentation scope { name, version }
//   periscope.events, periscope.links   span events and links (flattened)
//   periscope.span_id       position in the collector's span store
// The same table is in docs/exporters.md.

import type { StoredSpan } from '../../traces/span-store.ts';
import { splitAttributes, type EsDocument } from './document.ts';

const OUTCOME = { STATUS_CODE_OK: 'success', STATUS_CODE_ERROR: 'failure', STATUS_CODE_UNSET: 'unknown' } as const;

export function toSpanDocument(position: number, s: StoredSpan, staticLabels: Record<string, string>): EsDocument {
  const span: Record<string, unknown> = {
    id: s.spanId,
    name: s.name,
    kind: s.kind.replace('SPAN_KIND_', '').toLowerCase(),
    status: { code: s.status.code.replace('STATUS_CODE_', '').toLowerCase(), ...(s.status.message ? { message: s.status.message } : {}) },
  };
  const doc: EsDocument = {
    '@timestamp': s.startTime,
    trace: { id: s.traceId },
    span,
    event: { duration: Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)), outcome: OUTCOME[s.status.code] },
  };
  if (s.parentSpanId) doc.parent = { id: s.parentSpanId };
  if (s.service !== null || s.instance !== null) {
    doc.service = { ...(s.service !== null ? { name: s.service } : {}), ...(s.instance !== null ? { instance: { id: s.instance } } : {}) };
  }
  const { labels, nested } = splitAttributes(staticLabels, s.attributes);
  if (labels) doc.labels = labels;
  const periscope: Record<string, unknown> = { span_id: position };
  if (nested) periscope.attributes = nested;
  if (Object.keys(s.resource).length > 0) periscope.resource = s.resource;
  // name and version only: the template maps no more (scope attributes would be mapped dynamically, and conflict).
  if (s.scope.name !== undefined || s.scope.version !== undefined) periscope.scope = { name: s.scope.name, version: s.scope.version };
  if (s.events.length > 0) periscope.events = s.events;
  if (s.links.length > 0) periscope.links = s.links;
  if (s.truncated?.length) periscope.truncated = s.truncated;
  doc.periscope = periscope;
  return doc;
}

/**
 * Deterministic `_id`: a span is identified by its trace and span ids (the span store keeps one
 * row per pair), so a document sent again — after a retry or a restart — is refused with 409
 * (already delivered) instead of duplicated.
 */
export function spanDocumentId(s: Pick<StoredSpan, 'traceId' | 'spanId'>): string {
  return `${s.traceId}-${s.spanId}`;
}
