import { severityFromName, type LogRecord } from '../../../sdk/src/record.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import { INDEXED_ID_KEY } from './fts-schema.ts';

/**
 * The log filter shared by the search API, export, stats, live tail and log alert rules.
 * Query parameters (docs/api.md):
 *   service=checkout            appName equals
 *   severity=warning | 4        that severity and worse (numerically lower or equal)
 *   start, end                  RFC 3339 or epoch ms; start inclusive, end exclusive
 *   traceId=<32 hex>
 *   q=words                     full-text (SQLite FTS5 query syntax) over msg
 *   sd.<sdid>.<param>=value     structured data element parameter equals
 *   attr.<key>=value            attribute equals (key may be a dotted path into nested objects)
 */
export interface LogFilter {
  service?: string;
  maxSeverity?: number;
  startMicros?: number;
  endMicros?: number;
  traceId?: string;
  q?: string;
  sd: Array<{ id: string; param: string; value: string }>;
  attrs: Array<{ key: string; value: string }>;
}

type Query = Record<string, string | string[] | undefined>;

function single(query: Query, key: string): string | undefined {
  const v = query[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Parses a time bound: RFC 3339 or epoch milliseconds → epoch microseconds. */
export function parseTimeBound(value: string, key: string): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const micros = timestampToMicros(value);
  if (!Number.isFinite(micros)) throw new PeriscopeError(ERR.BAD_QUERY, `${key}: expected RFC 3339 or epoch milliseconds`, 400, { key });
  return micros;
}

/**
 * RFC 3339 → epoch microseconds, keeping the sub-millisecond digits that Date drops.
 * Returns NaN when unparsable.
 */
export function timestampToMicros(ts: string): number {
  const canonical = canonicalToMicros(ts);
  if (canonical !== undefined) return canonical;
  const m = RFC3339.exec(ts);
  if (!m) return Number.NaN;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return Number.NaN;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (m[8] !== 'Z' && m[8] !== 'z') {
    const sign = m[8][0] === '-' ? -1 : 1;
    ms -= sign * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6))) * 60_000;
  }
  const frac = m[7] === undefined ? 0 : Number((m[7] + '00000').slice(0, 6));
  return ms * 1000 + frac;
}

/**
 * Fast path for the canonical form every Periscope record carries, `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 * (docs/record-format.md): read the digits by position instead of running the regex. Returns
 * undefined for any other shape (the general parser decides those).
 */
function canonicalToMicros(ts: string): number | undefined {
  if (ts.length !== 27 || ts.charCodeAt(26) !== 90 /* Z */ || ts.charCodeAt(10) !== 84 /* T */ || ts.charCodeAt(19) !== 46 /* . */) return undefined;
  if (ts.charCodeAt(4) !== 45 || ts.charCodeAt(7) !== 45 || ts.charCodeAt(13) !== 58 || ts.charCodeAt(16) !== 58) return undefined;
  const digits = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) {
      const d = ts.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      n = n * 10 + d;
    }
    return n;
  };
  const year = digits(0, 4);
  const month = digits(5, 7);
  const day = digits(8, 10);
  const hour = digits(11, 13);
  const minute = digits(14, 16);
  const second = digits(17, 19);
  const frac = digits(20, 26);
  // NaN fails every comparison below, so a non-digit lands in the general parser (which rejects it).
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 60 && frac >= 0)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + frac;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function parseLogFilter(query: Query): LogFilter {
  const filter: LogFilter = { sd: [], attrs: [] };
  const service = single(query, 'service');
  if (service) filter.service = service;
  const severity = single(query, 'severity');
  if (severity !== undefined && severity !== '') {
    const n = /^\d$/.test(severity) ? Number(severity) : severityFromName(severity);
    if (n === undefined || n > 7) {
      throw new PeriscopeError(ERR.BAD_QUERY, 'severity: expected 0-7 or a level name (emerg … debug)', 400, { key: 'severity' });
    }
    filter.maxSeverity = n;
  }
  const start = single(query, 'start');
  if (start) filter.startMicros = parseTimeBound(start, 'start');
  const end = single(query, 'end');
  if (end) filter.endMicros = parseTimeBound(end, 'end');
  const traceId = single(query, 'traceId');
  if (traceId) {
    if (!/^[0-9a-fA-F]{32}$/.test(traceId)) throw new PeriscopeError(ERR.BAD_QUERY, 'traceId: expected 32 hex characters', 400, { key: 'traceId' });
    filter.traceId = traceId.toLowerCase();
  }
  const q = single(query, 'q');
  if (q && q.trim()) filter.q = q.trim();
  for (const key of Object.keys(query)) {
    const value = single(query, key);
    if (value === undefined) continue;
    if (key.startsWith('sd.')) {
      const rest = key.slice(3);
      const dot = rest.lastIndexOf('.');
      if (dot <= 0 || dot === rest.length - 1) {
        throw new PeriscopeError(ERR.BAD_QUERY, `${key}: expected sd.<sdid>.<param>`, 400, { key });
      }
      filter.sd.push({ id: rest.slice(0, dot), param: rest.slice(dot + 1), value });
    } else if (key.startsWith('attr.') && key.length > 5) {
      filter.attrs.push({ key: key.slice(5), value });
    }
  }
  return filter;
}

/** A JSON path string literal for SQLite's json_extract: $."a"."b". */
function jsonPath(parts: string[]): string {
  return '$' + parts.map((p) => `."${p.replaceAll('"', '""')}"`).join('');
}

/**
 * SQL WHERE fragment (over table alias `l`) and its parameters. With `searchIndex`, `q` and
 * `traceId` are matched through the FTS5 table, which is maintained behind ingest (see
 * fts-indexer.ts); without it (store.search.enabled: false) by reading the records, with
 * matchesQ's meaning of `q`.
 */
export function filterToSql(filter: LogFilter, searchIndex: boolean): { where: string; params: Array<string | number> } {
  const clauses: string[] = [];
  const params: Array<string | number> = [];
  // With a trace id and the search index, the records are looked up by position (below); `+`
  // keeps SQLite from walking every record of the service through logs_service_ts instead.
  if (filter.service !== undefined) { clauses.push(filter.traceId === undefined || !searchIndex ? 'l.service = ?' : '+l.service = ?'); params.push(filter.service); }
  if (filter.maxSeverity !== undefined) { clauses.push('l.severity <= ?'); params.push(filter.maxSeverity); }
  if (filter.startMicros !== undefined) { clauses.push('l.ts >= ?'); params.push(filter.startMicros); }
  if (filter.endMicros !== undefined) { clauses.push('l.ts < ?'); params.push(filter.endMicros); }
  if (filter.traceId !== undefined && !searchIndex) {
    clauses.push('l.trace_id = ?');
    params.push(filter.traceId);
  } else if (filter.traceId !== undefined) {
    // One list of positions: those the search index has for the trace, and the newer records it
    // has not indexed yet (it trails ingest by about indexInterval), checked directly. As an OR of
    // the two, SQLite scanned the whole logs_ts index instead (EXPLAIN QUERY PLAN).
    clauses.push(`l.trace_id = ? AND l.id IN (SELECT rowid FROM fts.logs_fts WHERE logs_fts MATCH ?
      UNION ALL SELECT id FROM logs WHERE id > (SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM fts.kv WHERE key = ?) AND trace_id = ?)`);
    params.push(filter.traceId, `trace_id : ${ftsString(filter.traceId)}`, INDEXED_ID_KEY, filter.traceId);
  }
  if (filter.q !== undefined && !searchIndex) {
    // periscope_q is matchesQ, registered on the connection by LogStore.
    clauses.push("periscope_q(json_extract(l.body, '$.msg'), ?)");
    params.push(filter.q);
  } else if (filter.q !== undefined) {
    clauses.push('l.id IN (SELECT rowid FROM fts.logs_fts WHERE logs_fts MATCH ?)');
    params.push(ftsQuery(filter.q));
  }
  for (const sd of filter.sd) {
    clauses.push('CAST(json_extract(l.body, ?) AS TEXT) = ?');
    params.push(jsonPath(['structuredData', sd.id, sd.param]), sd.value);
  }
  for (const attr of filter.attrs) {
    // Either a flat key containing dots ("http.method") or a path into nested objects (req.method).
    clauses.push('(CAST(json_extract(l.body, ?) AS TEXT) = ? OR CAST(json_extract(l.body, ?) AS TEXT) = ?)');
    params.push(jsonPath(['attributes', attr.key]), attr.value, jsonPath(['attributes', ...attr.key.split('.')]), attr.value);
  }
  return { where: clauses.length ? clauses.join(' AND ') : '1', params };
}

/** A literal FTS5 string: any text, never query syntax. */
function ftsString(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * Words are ANDed and each word is a quoted FTS5 string, so user input can never be a syntax
 * error; a trailing * keeps prefix search. Matched in the msg column only. https://www.sqlite.org/fts5.html#full_text_query_syntax
 */
export function ftsQuery(q: string): string {
  const words = q
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => (w.endsWith('*') && w.length > 1 ? `${ftsString(w.slice(0, -1))}*` : ftsString(w)))
    .join(' ');
  return `msg : (${words})`;
}

function getPath(obj: unknown, parts: string[]): unknown {
  let cur = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function asText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v ? '1' : '0'; // as SQLite's json_extract renders booleans
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

let lastQ: { q: string; words: string[] } | undefined;

/**
 * `q` without the search index: every word occurs in msg, case-insensitively (a trailing `*`,
 * prefix search in FTS5, dropped). An approximation of FTS5's tokenized match; the words of the
 * last `q` are kept, as a scan calls this once per record with the same `q`.
 */
export function matchesQ(msg: string, q: string): boolean {
  if (lastQ?.q !== q) lastQ = { q, words: q.toLowerCase().split(/\s+/).map((w) => w.replace(/\*$/, '')).filter(Boolean) };
  const text = msg.toLowerCase();
  for (const w of lastQ.words) if (!text.includes(w)) return false;
  return true;
}

/** In-memory twin of filterToSql for live tail and alert rules. */
export function matchesFilter(filter: LogFilter, record: LogRecord, micros: number): boolean {
  if (filter.service !== undefined && record.appName !== filter.service) return false;
  if (filter.maxSeverity !== undefined && record.severity > filter.maxSeverity) return false;
  if (filter.startMicros !== undefined && micros < filter.startMicros) return false;
  if (filter.endMicros !== undefined && micros >= filter.endMicros) return false;
  if (filter.traceId !== undefined && record.traceId !== filter.traceId) return false;
  if (filter.q !== undefined && !matchesQ(record.msg, filter.q)) return false;
  for (const sd of filter.sd) {
    if (record.structuredData?.[sd.id]?.[sd.param] !== sd.value) return false;
  }
  for (const attr of filter.attrs) {
    const flat = asText(record.attributes?.[attr.key]);
    const nested = asText(getPath(record.attributes, attr.key.split('.')));
    if (flat !== attr.value && nested !== attr.value) return false;
  }
  return true;
}
