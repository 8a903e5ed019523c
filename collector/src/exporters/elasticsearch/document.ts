// Record → Elasticsearch document, ECS field names (https://www.elastic.co/guide/en/ecs/current/):
//   @timestamp                 record.timestamp (RFC 3339, µs; mapped date_nanos)
//   message                    msg
//   log.level                  level (RFC 5424 keyword: emerg … debug)
//   log.syslog.severity.code   severity 0–7, .name = level
//   log.syslog.facility.code   facility
//   log.syslog.{hostname,appname,procid,msgid}   the RFC 5424 header fields
//   log.syslog.structured_data structuredData (flattened)
//   service.name               appName
//   host.name                  hostname
//   trace.id, span.id          traceId, spanId
//   labels.<key>               configured static labels, and every scalar top-level attribute
//                              (as a string; "." and other characters in keys become "_", an empty key "_";
//                              a name taken already gets "_2", "_3", …)
//   periscope.attributes       attributes that are objects or arrays (flattened)
//   periscope.truncated        names of fields cut to their RFC 5424 limit
//   periscope.log_id           position in the collector's durable log
// The same table is in docs/exporters.md.

import type { LogItem } from '../sink.ts';
import { freeName } from '../../records/free-name.ts';

export type EsDocument = Record<string, unknown>;

const LABEL_KEY = /[^a-zA-Z0-9_-]/g;

export function toDocument(item: LogItem, staticLabels: Record<string, string>): EsDocument {
  const r = item.record;
  const syslog: Record<string, unknown> = {
    severity: { code: r.severity, name: r.level },
    facility: { code: r.facility },
  };
  if (r.hostname !== undefined) syslog.hostname = r.hostname;
  if (r.appName !== undefined) syslog.appname = r.appName;
  if (r.procId !== undefined) syslog.procid = r.procId;
  if (r.msgId !== undefined) syslog.msgid = r.msgId;
  if (r.structuredData !== undefined) syslog.structured_data = r.structuredData;
  const doc: EsDocument = {
    '@timestamp': r.timestamp,
    message: r.msg,
    log: { level: r.level, syslog },
  };
  if (r.appName !== undefined) doc.service = { name: r.appName };
  if (r.hostname !== undefined) doc.host = { name: r.hostname };
  if (r.traceId !== undefined) doc.trace = { id: r.traceId };
  if (r.spanId !== undefined) doc.span = { id: r.spanId };
  const { labels, nested } = splitAttributes(staticLabels, r.attributes);
  if (labels) doc.labels = labels;
  const periscope: Record<string, unknown> = { log_id: item.id };
  if (nested) periscope.attributes = nested;
  if (r.truncated?.length) periscope.truncated = r.truncated;
  doc.periscope = periscope;
  return doc;
}

/**
 * `labels.*` (static labels, then every scalar attribute as a string, key characters other than
 * [a-zA-Z0-9_-] → `_`, an empty key → `_`) and the attributes that are objects or arrays (`periscope.attributes`).
 * Shared by log and span documents.
 *
 * A label name already taken (attributes `a.b` and `a_b`, or an attribute named like a static
 * label) gets `_2`, `_3`, …, the first one keeping its name, as the Loki exporter names its
 * structured metadata: one value overwrote the other, and the record reached Elasticsearch
 * without it. The objects have no prototype, so an attribute named `__proto__` is a field like
 * any other: assigned to a plain object it set the prototype (or did nothing) and was lost.
 */
export function splitAttributes(
  staticLabels: Record<string, string>,
  attributes: Record<string, unknown> | undefined,
): { labels?: Record<string, string>; nested?: Record<string, unknown> } {
  let labels: Record<string, string> | undefined;
  let nested: Record<string, unknown> | undefined;
  const taken = (name: string) => name in labels!;
  for (const key in staticLabels) (labels ??= Object.create(null) as Record<string, string>)[key] = staticLabels[key];
  for (const key in attributes) {
    const v = attributes[key];
    if (v === null || v === undefined) continue;
    if (typeof v === 'object') (nested ??= Object.create(null) as Record<string, unknown>)[key] = v;
    else {
      labels ??= Object.create(null) as Record<string, string>;
      // An empty key becomes `_`: Elasticsearch refuses a document with an empty field name (400
      // mapper_parsing_exception), which put the whole record in the dead letters for good.
      labels[freeName(key.replace(LABEL_KEY, '_') || '_', taken)] = String(v);
    }
  }
  return { labels, nested };
}

/** Two lowercase hex digits per byte value. */
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * FNV-1a, 32 bits, of a string's UTF-16 code units, as 8 lowercase hex digits (cheap content
 * check). The digits come from a table: `toString(16).padStart(8, '0')` took about 280 ns, four
 * times the hash itself, per record on an encode thread.
 */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return HEX_BYTE[h >>> 24] + HEX_BYTE[(h >>> 16) & 0xff] + HEX_BYTE[(h >>> 8) & 0xff] + HEX_BYTE[h & 0xff];
}

/**
 * Deterministic `_id`: the same record at the same log position of the same collector database
 * always gets the same id, so a re-sent document is refused with 409 instead of duplicated.
 * `<instance>-<position>-<µs timestamp>-<fnv32(message)>`: the instance (random per database,
 * kept in its kv table) separates collectors and rebuilt databases whose positions restart at 1;
 * the timestamp and message hash guard against a restored backup reusing positions for other
 * records. Built without a cryptographic hash: it runs per record on the ingest thread.
 */
export function documentId(instance: string, item: LogItem): string {
  return `${instance}-${item.id}-${item.micros}-${fnv1a(item.record.msg)}`;
}
