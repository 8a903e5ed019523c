import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { rfc3339Micros } from '../../../sdk/src/record.ts';
import { transaction } from '../store/database.ts';
import type { WriteGuard } from '../store/database-file-watch.ts';
import type { TimedSpan } from './slowest.ts';
import { SPAN_KIND_NAMES, STATUS_CODE_NAMES, type Attributes, type SpanExtras, type SpanKindName, type SpanLink, type SpanRecord, type StatusCodeName } from './span.ts';

// The spans table of the embedded store. One row per (trace_id, span_id): a span sent again
// (a client retrying after a lost response) is ignored, so span metrics count it once.
// `ts` (start, epoch µs) and `id` have the same meaning as in the logs table, so retention treats
// both tables alike (store/retention.ts).

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spans (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,          -- start time, epoch microseconds (retention, time search)
  trace_id TEXT NOT NULL,       -- 32 lowercase hex characters
  span_id TEXT NOT NULL,        -- 16 lowercase hex characters
  parent_span_id TEXT,          -- NULL for a root span
  service TEXT,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,        -- OTLP SpanKind number
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  duration_ns INTEGER NOT NULL,
  status_code INTEGER NOT NULL, -- OTLP StatusCode number
  status_message TEXT NOT NULL,
  attributes TEXT NOT NULL,     -- JSON object
  events TEXT NOT NULL,         -- JSON array of { timeUnixNano, name, attributes }
  extra TEXT NOT NULL           -- JSON: { instance, job, links, resource, scope, extras, truncated }
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS spans_trace ON spans(trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_ts ON spans(ts, id);
CREATE INDEX IF NOT EXISTS spans_service_ts ON spans(service, ts);
`;

/** A span as the trace API returns it (before its logs are attached). */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  service: string | null;
  instance: string | null;
  kind: SpanKindName;
  /** RFC 3339, microseconds. */
  startTime: string;
  endTime: string;
  /** Exact epoch nanoseconds, decimal strings. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: StatusCodeName; message: string };
  /** W3C tracestate, "" when none. */
  traceState: string;
  /** OTLP Span.flags: W3C trace flags in bits 0–7, has/is-remote parent in bits 8–9; 0 when not sent. */
  flags: number;
  /** What the sender's SDK dropped at its limits (0 when nothing). */
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
  attributes: Attributes;
  events: Array<{ time: string; timeUnixNano: string; name: string; attributes: Attributes; droppedAttributesCount?: number }>;
  links: SpanLink[];
  resource: Attributes;
  scope: SpanRecord['scope'];
  truncated?: string[];
}

/** The fields slow-operation tracking needs (slowest.ts), read back at start-up with the span's position. */
export interface SpanTiming extends TimedSpan {
  id: number;
}

/** Rows per multi-row INSERT (15 parameters each; SQLite allows 32766). */
const INSERT_ROWS = 64;
const COLUMNS = 'ts, trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, duration_ns, status_code, status_message, attributes, events, extra';
const ROW = `(${Array(15).fill('?').join(', ')})`;

export function nanosToRfc3339(ns: bigint): string {
  return rfc3339Micros(Number(ns / 1_000_000n), Number((ns / 1_000n) % 1_000n));
}

/** Characters of a stored row's text columns: about the size of its span in memory and in an answer. */
function textLength(row: Record<string, unknown>): number {
  let n = 0;
  for (const v of Object.values(row)) if (typeof v === 'string') n += v.length;
  return n;
}

export class SpanStore {
  readonly db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #insertMany: StatementSync;
  readonly #traces: TraceReader;
  /** Rows in the table, kept current by append and noteDeleted: count(*) is linear in the table. */
  #rows: number;
  /** Called before each write and after its commit: throws when it must be refused (the database file was lost). */
  #writeGuard: WriteGuard = () => {};

  constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(SCHEMA);
    this.#rows = (db.prepare('SELECT count(*) AS n FROM spans').get() as { n: number }).n;
    // RETURNING lists the rows actually inserted: OR IGNORE skips the ones already stored.
    this.#insert = db.prepare(`INSERT OR IGNORE INTO spans(${COLUMNS}) VALUES ${ROW} RETURNING trace_id, span_id`);
    this.#insertMany = db.prepare(`INSERT OR IGNORE INTO spans(${COLUMNS}) VALUES ${Array(INSERT_ROWS).fill(ROW).join(', ')} RETURNING trace_id, span_id`);
    this.#traces = new TraceReader(db);
  }

  /** Writes are refused while `guard` throws (collector.ts: the database file deleted under it). */
  setWriteGuard(guard: WriteGuard): void {
    this.#writeGuard = guard;
  }

  /**
   * Writes the spans in one transaction (committed when this returns). Returns the spans that
   * were new; a span whose (traceId, spanId) is already stored is skipped.
   */
  append(spans: readonly SpanRecord[]): SpanRecord[] {
    if (spans.length === 0) return [];
    this.#writeGuard(false);
    const inserted = transaction(this.db, () => {
      const fresh = new Set<string>();
      const args: Array<string | number | bigint | null> = [];
      const flush = (statement: StatementSync) => {
        for (const row of statement.all(...args) as Array<{ trace_id: string; span_id: string }>) fresh.add(`${row.trace_id}${row.span_id}`);
        args.length = 0;
      };
      let i = 0;
      for (; i + INSERT_ROWS <= spans.length; i += INSERT_ROWS) {
        for (let j = i; j < i + INSERT_ROWS; j++) pushRow(args, spans[j]);
        flush(this.#insertMany);
      }
      for (; i < spans.length; i++) {
        pushRow(args, spans[i]);
        flush(this.#insert);
      }
      // A span repeated within one request is stored once and reported once.
      const inserted: SpanRecord[] = [];
      for (const s of spans) {
        const key = `${s.traceId}${s.spanId}`;
        if (fresh.delete(key)) inserted.push(s);
      }
      return inserted;
    });
    this.#rows += inserted.length;
    this.#writeGuard(true);
    return inserted;
  }

  /** Retention deleted `rows` rows. */
  noteDeleted(rows: number): void {
    this.#rows = Math.max(0, this.#rows - rows);
  }

  /** The spans of one trace (TraceReader.trace). */
  trace(traceId: string, limit: number, maxChars = Number.POSITIVE_INFINITY): { spans: StoredSpan[]; truncated: boolean } {
    return this.#traces.trace(traceId, limit, maxChars);
  }

  /** Spans with id in (afterId, maxId] and start >= sinceMicros, in id order (slow-operation warm-up). */
  timingsAfter(afterId: number, maxId: number, sinceMicros: number, limit: number): SpanTiming[] {
    const rows = this.db
      // REAL: a duration past 2^53 ns (104 days) does not fit a JS number as an integer
      .prepare('SELECT id, trace_id, span_id, service, name, ts, CAST(duration_ns AS REAL) AS duration_ns FROM spans WHERE id > ? AND id <= ? AND ts >= ? ORDER BY id LIMIT ?')
      .all(afterId, maxId, sinceMicros, limit) as Array<{ id: number; trace_id: string; span_id: string; service: string | null; name: string; ts: number; duration_ns: number }>;
    return rows.map((r) => ({ id: r.id, traceId: r.trace_id, spanId: r.span_id, service: r.service, name: r.name, startMs: r.ts / 1000, durationNs: r.duration_ns }));
  }

  /**
   * Stored spans with id > afterId in store order, with their ids (exporters keep a cursor over
   * them): at most `limit`, and no more than `maxChars` of their stored text (the first span
   * always), read one row at a time so that what is left out is never loaded.
   */
  readAfter(afterId: number, limit: number, maxChars = Number.POSITIVE_INFINITY): Array<{ id: number; span: StoredSpan }> {
    const statement = this.db.prepare('SELECT * FROM spans WHERE id > ? ORDER BY id LIMIT ?');
    statement.setReadBigInts(true);
    const out: Array<{ id: number; span: StoredSpan }> = [];
    let chars = 0;
    for (const row of statement.iterate(afterId, limit) as Iterable<Record<string, unknown>>) {
      chars += textLength(row);
      if (out.length > 0 && chars > maxChars) break;
      out.push({ id: Number(row.id), span: rowToSpan(row) });
    }
    return out;
  }

  lastId(): number {
    return ((this.db.prepare('SELECT max(id) AS id FROM spans').get() as { id: number | null }).id) ?? 0;
  }

  /** The oldest stored id (0 when empty). */
  firstId(): number {
    return ((this.db.prepare('SELECT min(id) AS id FROM spans').get() as { id: number | null }).id) ?? 0;
  }

  /**
   * What waits after `afterId` (an exporter's cursor), sampled over the next 200 spans: the
   * earliest start (epoch µs) and the average stored size (their text columns), for backlog gauges.
   */
  backlogAfter(afterId: number): { oldestStartMicros: number | undefined; avgBytes: number } {
    const row = this.db
      .prepare(
        `SELECT min(ts) AS ts, avg(length(name) + length(attributes) + length(events) + length(extra) + 120) AS bytes
         FROM (SELECT ts, name, attributes, events, extra FROM spans WHERE id > ? ORDER BY id LIMIT 200)`,
      )
      .get(afterId) as { ts: number | null; bytes: number | null };
    return { oldestStartMicros: row.ts ?? undefined, avgBytes: Math.round(row.bytes ?? 0) };
  }

  /** Rows in the store (O(1)). */
  count(): number {
    return this.#rows;
  }
}

/**
 * Reads one trace's spans. Apart from SpanStore so that the query thread (store/query-thread.ts)
 * can read a trace on its read-only connection: SpanStore creates the table and counts its rows.
 */
export class TraceReader {
  readonly #byTrace: StatementSync;
  readonly #totals: StatementSync;
  readonly #services: StatementSync;

  constructor(db: DatabaseSync) {
    this.#byTrace = db.prepare('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, id LIMIT ?');
    this.#byTrace.setReadBigInts(true);
    this.#totals = db.prepare('SELECT count(*) AS n, min(start_ns) AS start_ns, max(end_ns) AS end_ns FROM spans WHERE trace_id = ?');
    this.#totals.setReadBigInts(true);
    this.#services = db.prepare('SELECT DISTINCT service FROM spans WHERE trace_id = ? AND service IS NOT NULL ORDER BY service');
  }

  /**
   * The spans of one trace, by start time: at most `limit`, and no more than `maxChars` of their
   * stored text (attributes, events, links, resource; the first span always), read one row at a
   * time so that what is left out is never loaded. `truncated`: the trace has more.
   */
  trace(traceId: string, limit: number, maxChars = Number.POSITIVE_INFINITY): { spans: StoredSpan[]; truncated: boolean } {
    const spans: StoredSpan[] = [];
    let chars = 0;
    for (const row of this.#byTrace.iterate(traceId, limit + 1) as Iterable<Record<string, unknown>>) {
      const size = textLength(row);
      if (spans.length === limit || (spans.length > 0 && chars + size > maxChars)) return { spans, truncated: true };
      chars += size;
      spans.push(rowToSpan(row));
    }
    return { spans, truncated: false };
  }

  /** How many spans one trace has, their earliest start, latest end and services (for a trace longer than what is returned of it). */
  traceTotals(traceId: string): { spans: number; startNs: bigint; endNs: bigint; services: string[] } {
    const totals = this.#totals.get(traceId) as { n: bigint; start_ns: bigint | null; end_ns: bigint | null };
    const services = (this.#services.all(traceId) as Array<{ service: string }>).map((r) => r.service);
    return { spans: Number(totals.n), startNs: totals.start_ns ?? 0n, endNs: totals.end_ns ?? 0n, services };
  }
}

function pushRow(args: Array<string | number | bigint | null>, s: SpanRecord): void {
  const extra: Record<string, unknown> = { links: s.links, resource: s.resource, scope: s.scope };
  if (s.instance !== null) extra.instance = s.instance;
  if (s.job !== null && s.job !== s.service) extra.job = s.job;
  if (s.extras) extra.extras = s.extras;
  if (s.truncated) extra.truncated = s.truncated;
  args.push(
    Number(s.startNs / 1000n),
    s.traceId,
    s.spanId,
    s.parentSpanId,
    s.service,
    s.name,
    s.kind,
    s.startNs,
    s.endNs,
    s.endNs - s.startNs,
    s.statusCode,
    s.statusMessage,
    JSON.stringify(s.attributes),
    JSON.stringify(s.events),
    JSON.stringify(extra),
  );
}

function rowToSpan(r: Record<string, unknown>): StoredSpan {
  const startNs = r.start_ns as bigint;
  const endNs = r.end_ns as bigint;
  const extra = JSON.parse(r.extra as string) as { instance?: string; links: StoredSpan['links']; resource: Attributes; scope: StoredSpan['scope']; extras?: SpanExtras; truncated?: string[] };
  const events = (JSON.parse(r.events as string) as Array<{ timeUnixNano: string; name: string; attributes: Attributes; droppedAttributesCount?: number }>).map((e) => {
    const event: StoredSpan['events'][number] = { time: nanosToRfc3339(BigInt(e.timeUnixNano)), timeUnixNano: e.timeUnixNano, name: e.name, attributes: e.attributes };
    if (e.droppedAttributesCount) event.droppedAttributesCount = e.droppedAttributesCount;
    return event;
  });
  const extras = extra.extras ?? {};
  const span: StoredSpan = {
    traceId: r.trace_id as string,
    spanId: r.span_id as string,
    parentSpanId: (r.parent_span_id as string | null) ?? null,
    name: r.name as string,
    service: (r.service as string | null) ?? null,
    instance: extra.instance ?? null,
    kind: SPAN_KIND_NAMES[Number(r.kind)] ?? 'SPAN_KIND_UNSPECIFIED',
    startTime: nanosToRfc3339(startNs),
    endTime: nanosToRfc3339(endNs),
    startTimeUnixNano: startNs.toString(),
    endTimeUnixNano: endNs.toString(),
    durationMs: Number(endNs - startNs) / 1e6,
    status: { code: STATUS_CODE_NAMES[Number(r.status_code)] ?? 'STATUS_CODE_UNSET', message: r.status_message as string },
    traceState: extras.traceState ?? '',
    flags: extras.flags ?? 0,
    droppedAttributesCount: extras.droppedAttributesCount ?? 0,
    droppedEventsCount: extras.droppedEventsCount ?? 0,
    droppedLinksCount: extras.droppedLinksCount ?? 0,
    attributes: JSON.parse(r.attributes as string) as Attributes,
    events,
    links: extra.links ?? [],
    resource: extra.resource ?? {},
    scope: extra.scope ?? {},
  };
  if (extra.truncated) span.truncated = extra.truncated;
  return span;
}
