// Trace search (GET /api/v1/traces?service=&operation=&minDuration=…): the query thread runs it
// (store/query-thread.ts) on its read-only connection, so a search never holds up ingest.
// Each summary is computed in SQL, one trace at a time: a trace can have millions of spans (a
// batch job with a span per item), and reading them all into memory on the ingest thread held
// every POST back for seconds.
import type { DatabaseSync } from 'node:sqlite';
import { rfc3339Micros } from '../../../sdk/src/record.ts';
import { runningCheck } from '../store/running-check.ts';

export interface TraceQuery {
  service?: string;
  operation?: string;
  minDurationNs?: number;
  maxDurationNs?: number;
  startMicros?: number;
  endMicros?: number;
  /** OTLP StatusCode number (0 unset, 1 ok, 2 error). */
  statusCode?: number;
  /** Span or resource attribute `key` (whole, dots included) equal to `value`: its string, or its JSON text (5, true). */
  attributes?: Array<{ key: string; value: string }>;
  limit: number;
}

export interface TraceSummary {
  traceId: string;
  rootService: string | null;
  rootName: string;
  startTime: string;
  durationMs: number;
  spanCount: number;
  errorCount: number;
  services: string[];
}

export interface TraceSearchResult {
  traces: TraceSummary[];
  /** The search stopped at its scan limit before finding `limit` traces. */
  partial: boolean;
}

/** Rows read at most per search before giving up on finding `limit` distinct traces. */
const SEARCH_SCAN_LIMIT = 200_000;

/** Traces with at least one span matching the query, most recent first (by the matching span's start). */
export function searchTraces(db: DatabaseSync, q: TraceQuery): TraceSearchResult {
  const clauses: string[] = [];
  const params: Array<string | number> = [];
  if (q.service !== undefined) { clauses.push('service = ?'); params.push(q.service); }
  if (q.operation !== undefined) { clauses.push('name = ?'); params.push(q.operation); }
  if (q.minDurationNs !== undefined) { clauses.push('duration_ns >= ?'); params.push(q.minDurationNs); }
  if (q.maxDurationNs !== undefined) { clauses.push('duration_ns <= ?'); params.push(q.maxDurationNs); }
  if (q.startMicros !== undefined) { clauses.push('ts >= ?'); params.push(q.startMicros); }
  if (q.endMicros !== undefined) { clauses.push('ts < ?'); params.push(q.endMicros); }
  if (q.statusCode !== undefined) { clauses.push('status_code = ?'); params.push(q.statusCode); }
  for (const { key, value } of q.attributes ?? []) {
    // `->` gives JSON text: a string attribute matches as "value", a number or boolean as 5 or true (as the log API's attr.).
    // SQLite reads a quoted label with JSON string escapes, https://sqlite.org/json1.html#path_arguments
    // The resource's service.name and service.instance.id are kept in their own fields (span-store.ts), not with its other attributes.
    const label = JSON.stringify(key);
    const resourcePath = key === 'service.name' ? null : key === 'service.instance.id' ? '$.instance' : `$.resource.${label}`;
    clauses.push(`((attributes -> ?) IN (?, ?) OR ${resourcePath === null ? 'service = ?' : '(extra -> ?) IN (?, ?)'})`);
    params.push(`$.${label}`, JSON.stringify(value), value);
    if (resourcePath === null) params.push(value);
    else params.push(resourcePath, JSON.stringify(value), value);
  }
  // First: an attr. filter matching few spans reads them all in one step (running-check.ts).
  const where = [runningCheck('id'), ...clauses].join(' AND ');
  const ids: string[] = [];
  const seen = new Set<string>();
  let scanned = 0;
  let partial = false;
  for (const row of db.prepare(`SELECT trace_id FROM spans WHERE ${where} ORDER BY ts DESC, id DESC`).iterate(...params) as Iterable<{ trace_id: string }>) {
    if (++scanned > SEARCH_SCAN_LIMIT) {
      partial = true;
      break;
    }
    if (seen.has(row.trace_id)) continue;
    seen.add(row.trace_id);
    ids.push(row.trace_id);
    if (ids.length >= q.limit) break;
  }
  const totals = db.prepare('SELECT min(ts) AS start_us, max(ts + duration_ns / 1000) AS end_us, count(*) AS spans, sum(status_code = 2) AS errors FROM spans WHERE trace_id = ?');
  const services = db.prepare('SELECT DISTINCT service FROM spans WHERE trace_id = ? AND service IS NOT NULL ORDER BY service');
  // The root: a span without a parent, else the earliest whose parent is not in the trace (not received yet).
  const root = db.prepare(`SELECT service, name FROM spans AS s WHERE trace_id = ?
    AND (parent_span_id IS NULL OR NOT EXISTS (SELECT 1 FROM spans AS p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id))
    ORDER BY parent_span_id IS NOT NULL, ts, id LIMIT 1`);
  const traces = ids.map((traceId): TraceSummary => {
    const t = totals.get(traceId) as { start_us: number; end_us: number; spans: number; errors: number };
    const r = root.get(traceId) as { service: string | null; name: string } | undefined;
    return {
      traceId,
      rootService: r?.service ?? null,
      rootName: r?.name ?? '',
      // Microsecond precision is enough for a summary (the trace itself has nanoseconds).
      startTime: rfc3339Micros(t.start_us / 1000),
      durationMs: (t.end_us - t.start_us) / 1000,
      spanCount: t.spans,
      errorCount: t.errors,
      services: (services.all(traceId) as Array<{ service: string }>).map((s) => s.service),
    };
  });
  return { traces, partial };
}
