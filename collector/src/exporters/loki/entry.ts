// Record → Loki stream entry, following the label policy of docs/exporters.md:
//  - stream labels are few and low-cardinality: service_name, level, host (each optional) plus
//    configured static labels. Loki indexes labels; high-cardinality labels kill it
//    (https://grafana.com/docs/loki/latest/get-started/labels/bp-labels/).
//  - everything else is structured metadata (Loki ≥ 2.9 / 3.x,
//    https://grafana.com/docs/loki/latest/get-started/labels/structured-metadata/) or stays in the
//    line (the whole record as JSON) when structured metadata is off or over Loki's limits.

import type { LogRecord } from '../../../../sdk/src/record.ts';
import type { LogItem } from '../sink.ts';
import { freeName } from '../../records/free-name.ts';

export interface LabelPair {
  name: string;
  value: string;
}

export interface LokiEntry {
  /** Stream selector in Loki's (PromQL) syntax, labels sorted: {host="a", level="info"}. */
  stream: string;
  labels: LabelPair[];
  /** Timestamp as protobuf google.protobuf.Timestamp parts (tsNanos() gives the JSON form). */
  seconds: number;
  nanos: number;
  line: string;
  metadata: LabelPair[];
}

export interface EntryPolicy {
  include: ReadonlyArray<'service_name' | 'level' | 'host'>;
  staticLabels: Record<string, string>;
  structuredMetadata: boolean;
  maxStructuredMetadataEntries: number;
  maxStructuredMetadataSize: number;
}

/** Label value in a selector: Go-style quoted (\\, \", \n escaped), as Loki's parser expects. */
export function quoteLabelValue(v: string): string {
  return `"${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`;
}

export function formatStream(labels: LabelPair[]): string {
  return `{${labels.map((l) => `${l.name}=${quoteLabelValue(l.value)}`).join(', ')}}`;
}

const sanitized = new Map<string, string>();

/** Any string → a valid label name: other characters become "_", a leading digit gets "_". */
export function sanitizeLabelName(name: string): string {
  let s = sanitized.get(name);
  if (s === undefined) {
    s = name.replace(/[^a-zA-Z0-9_]/g, '_');
    if (/^[0-9]/.test(s) || s === '') s = `_${s}`;
    if (sanitized.size > 10_000) sanitized.clear();
    sanitized.set(name, s);
  }
  return s;
}

/** Nanoseconds since the epoch as a decimal string (Loki's JSON push format). */
export function tsNanos(e: Pick<LokiEntry, 'seconds' | 'nanos'>): string {
  return String(BigInt(e.seconds) * 1_000_000_000n + BigInt(e.nanos));
}

function derived(record: LogRecord): { service_name: string; level: string | undefined; host: string | undefined } {
  return { service_name: record.appName ?? 'unknown_service', level: record.level, host: record.hostname };
}

function seconds(micros: number): number {
  return Math.floor(micros / 1e6);
}

/**
 * Timestamp: the record's, plus an offset from the log position below the timestamp's own
 * precision. Loki drops an entry whose stream, timestamp and line equal another's (its dedup of
 * retries): the offset keeps two distinct records with equal times and text apart, while a
 * re-sent record (same position) gets the same offset and still dedups. The room is the
 * nanoseconds below the microsecond — or below the millisecond when the microsecond digits are
 * 000, or below the second when the whole fraction is 0: a second-precision clock (RFC 3164
 * syslog, many agents) gives every record of a second the same time, and 1000 slots made the
 * 1001st identical line of a second a duplicate that Loki dropped.
 */
function nanos(item: LogItem, s: number): number {
  const fraction = item.micros - s * 1e6; // µs within the second
  const room = fraction === 0 ? 1e9 : fraction % 1000 === 0 ? 1e6 : 1000;
  return fraction * 1000 + (item.id % room);
}

/**
 * An object's leaves under `prefix_key` names; an empty object (an attribute `{}`, an RFC 5424
 * SD-ELEMENT without params) is one entry `{}`: it had no leaf, and with the line only the
 * message, the record reached Loki without it.
 */
function flatten(prefix: string, value: unknown, out: LabelPair[], depth: number): void {
  if (value === undefined) return;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 4) {
    let leaves = false;
    for (const key in value as Record<string, unknown>) {
      leaves = true;
      flatten(`${prefix}_${key}`, (value as Record<string, unknown>)[key], out, depth + 1);
    }
    if (leaves) return;
  }
  out.push({ name: sanitizeLabelName(prefix), value: typeof value === 'string' ? value : JSON.stringify(value) });
}

/**
 * Makes the metadata names of one entry unique, the first one keeping its name: a name taken by
 * the record's own fields (an attribute `trace_id` beside the record's traceId) or by an earlier
 * field (attributes `a-b` and `a_b`) gets `_2`, `_3`, …. Loki keeps one value per name, and
 * with both sent a query by the record's trace_id did not find it (trace-to-logs links broken).
 */
function uniqueNames(md: LabelPair[]): void {
  if (md.length < 2) return;
  const seen = new Set<string>();
  const taken = (name: string) => seen.has(name);
  for (const p of md) {
    p.name = freeName(p.name, taken);
    seen.add(p.name);
  }
}

/**
 * The W3C trace flags (01: sampled) beside trace_id and span_id, as Loki's own OTLP ingestion
 * writes a log record's flags (https://grafana.com/docs/loki/latest/send-data/otel/): `flags`,
 * in decimal, left out when 0; so `| flags="1"` finds the lines of sampled traces (those with
 * spans to jump to) whichever way the logs reached Loki.
 */
function pushFlags(record: LogRecord, md: LabelPair[]): void {
  if (record.traceFlags !== undefined && record.traceFlags !== '00') md.push({ name: 'flags', value: String(Number.parseInt(record.traceFlags, 16)) });
}

/** Structured metadata for a record, or undefined when it would break Loki's limits. */
function metadataOf(record: LogRecord, policy: EntryPolicy, d: ReturnType<typeof derived>): LabelPair[] | undefined {
  const md: LabelPair[] = [];
  for (const name of ['service_name', 'level', 'host'] as const) {
    const v = d[name];
    if (v !== undefined && !policy.include.includes(name)) md.push({ name, value: v });
  }
  if (record.traceId) md.push({ name: 'trace_id', value: record.traceId });
  if (record.spanId) md.push({ name: 'span_id', value: record.spanId });
  pushFlags(record, md);
  if (record.procId) md.push({ name: 'proc_id', value: record.procId });
  if (record.msgId) md.push({ name: 'msg_id', value: record.msgId });
  if (record.facility !== 1) md.push({ name: 'facility', value: String(record.facility) });
  if (record.truncated?.length) md.push({ name: 'truncated', value: record.truncated.join(',') });
  if (record.structuredData) for (const [id, params] of Object.entries(record.structuredData)) flatten(`sd_${id}`, params, md, 1);
  if (record.attributes) for (const key in record.attributes) flatten(key, record.attributes[key], md, 1);
  uniqueNames(md);
  if (md.length > policy.maxStructuredMetadataEntries && policy.maxStructuredMetadataEntries > 0) return undefined;
  if (policy.maxStructuredMetadataSize > 0) {
    // Loki counts UTF-8 bytes; UTF-16 units undercount them (up to 3 bytes each), and metadata
    // over the limit that passed here was refused by Loki and dead-lettered instead of sent as a
    // JSON line. The exact count only when the units could be over.
    let size = 0;
    for (const p of md) size += p.name.length + p.value.length;
    if (size * 3 > policy.maxStructuredMetadataSize) {
      size = 0;
      for (const p of md) size += p.name.length + Buffer.byteLength(p.value);
    }
    if (size > policy.maxStructuredMetadataSize) return undefined;
  }
  return md;
}

type Stream = { stream: string; labels: LabelPair[] };

/**
 * Stream selectors by the derived labels, one map level per label: looking the three strings up
 * in turn costs less than joining them into a key per record, which had to be built and hashed
 * each time (6 % of an encode thread); JSON.parse gives short values as internalized strings,
 * whose hash is already known.
 */
export class StreamCache {
  readonly #byService = new Map<string, Map<string | undefined, Map<string | undefined, Stream>>>();
  #size = 0;

  get(d: ReturnType<typeof derived>): Stream | undefined {
    return this.#byService.get(d.service_name)?.get(d.level)?.get(d.host);
  }

  set(d: ReturnType<typeof derived>, s: Stream): void {
    if (this.#size >= 10_000) {
      this.#byService.clear();
      this.#size = 0;
    }
    let byLevel = this.#byService.get(d.service_name);
    if (!byLevel) this.#byService.set(d.service_name, (byLevel = new Map()));
    let byHost = byLevel.get(d.level);
    if (!byHost) byLevel.set(d.level, (byHost = new Map()));
    byHost.set(d.host, s);
    this.#size++;
  }
}

function streamOf(d: ReturnType<typeof derived>, policy: EntryPolicy, cache?: StreamCache): Stream {
  const hit = cache?.get(d);
  if (hit) return hit;
  const labels: LabelPair[] = [];
  for (const name of policy.include) {
    const value = d[name];
    if (value !== undefined && value !== '') labels.push({ name, value });
  }
  for (const name in policy.staticLabels) labels.push({ name, value: policy.staticLabels[name] });
  labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const s = { stream: formatStream(labels), labels };
  cache?.set(d, s);
  return s;
}

/** Maps one record. `cache` (optional, owned by the caller) memoizes stream selectors. */
export function toEntry(item: LogItem, policy: EntryPolicy, cache?: StreamCache): LokiEntry {
  const record = item.record;
  const d = derived(record);
  const { stream, labels } = streamOf(d, policy, cache);
  let line: string;
  let metadata: LabelPair[] = [];
  const md = policy.structuredMetadata ? metadataOf(record, policy, d) : undefined;
  if (md) {
    line = record.msg;
    metadata = md;
  } else {
    // Everything stays in the line; trace context also as metadata when allowed (cheap to filter on).
    line = JSON.stringify(record);
    if (policy.structuredMetadata) {
      if (record.traceId) metadata.push({ name: 'trace_id', value: record.traceId });
      if (record.spanId) metadata.push({ name: 'span_id', value: record.spanId });
      pushFlags(record, metadata);
    }
  }
  const s = seconds(item.micros);
  return { stream, labels, seconds: s, nanos: nanos(item, s), line, metadata };
}
