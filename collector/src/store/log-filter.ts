import { severityFromName, type LogRecord } from '../../../sdk/src/record.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import { singleParam as single, unknownParam, type RawQuery as Query } from '../http/query-params.ts';
import { CHUNK_SIZE, CJK_SPLIT_AFTER_KEY, INDEXED_ID_KEY, traceIndexToken } from './fts-schema.ts';
import { epochDigitsToMicros, plusFromUrl } from '../../../alerting/src/time-param.ts';
import { searchTerms } from './search-terms.ts';
import { chunkQuery, hasCjkWords, hasSearchTokens, lowerCase } from './search-words.ts';

/**
 * The log filter shared by the search API, export, stats, live tail and log alert rules.
 * Query parameters (docs/api.md):
 *   service=checkout            appName equals
 *   severity=warning | 4        that severity and worse (numerically lower or equal)
 *   start, end                  RFC 3339 or epoch s/ms/µs/ns (parseTimeBound); start inclusive, end exclusive
 *   traceId=<32 hex>
 *   q=words                     words in msg (search-words.ts; matchesQ without the index)
 *   sd.<sdid>.<param>=value     structured data element parameter equals
 *   attr.<key>=value            attribute equals (key may be a dotted path into nested objects)
 *
 * `attr.` and `sd.` keys are matched as every path their dots allow (fieldPaths): OTel keys hold
 * dots (`k8s.pod.name`), also inside nested objects (`resource` → `k8s.pod.name`), and so may
 * RFC 5424 SD-IDs and PARAM-NAMEs. A value equals a field when it is the field's string, or the
 * field's JSON text (`5`, `1e-7`, `true`, `null`, `{"a":1}`): as the API shows it. SQL compares
 * JSON texts with SQLite's `->` (which keeps a number's text as stored), the in-memory twin the
 * JSON.stringify of the value: the same texts, since bodies are JSON.stringify output.
 */
export interface LogFilter {
  service?: string;
  maxSeverity?: number;
  startMicros?: number;
  endMicros?: number;
  traceId?: string;
  q?: string;
  /** `key` is `<sdid>.<param>`. */
  sd: Array<{ key: string; value: string }>;
  attrs: Array<{ key: string; value: string }>;
}

const FILTER_KEYS = ['service', 'severity', 'start', 'end', 'traceId', 'q'];
/** attr. and sd. filters one query may have: each is a clause on every record read. */
export const MAX_FIELD_FILTERS = 50;
/** A key of more dot-separated parts is read only as one flat key and as a path of single parts. */
const MAX_KEY_PARTS = 6;

/**
 * The paths a dotted key may name, flat key first: `a.b.c` → ["a.b.c"], ["a", "b.c"],
 * ["a.b", "c"], ["a", "b", "c"] (every way to cut at dots, 2^(parts-1), up to MAX_KEY_PARTS).
 */
export function keyPaths(key: string): string[][] {
  const parts = key.split('.');
  if (parts.length > MAX_KEY_PARTS) return [[key], parts];
  const out: string[][] = [];
  for (let cuts = 0; cuts < 2 ** (parts.length - 1); cuts++) {
    const path = [parts[0]];
    for (let i = 1; i < parts.length; i++) {
      if (cuts & (1 << (i - 1))) path.push(parts[i]);
      else path[path.length - 1] += `.${parts[i]}`;
    }
    out.push(path);
  }
  return out;
}

/** The [sdid, param] pairs `<sdid>.<param>` may name: a cut at any of its dots. */
function sdPaths(key: string): string[][] {
  const out: string[][] = [];
  for (let dot = key.indexOf('.'); dot > 0 && dot < key.length - 1; dot = key.indexOf('.', dot + 1)) out.push([key.slice(0, dot), key.slice(dot + 1)]);
  return out;
}

/** fieldPaths per filter entry: live tail and log rules match one filter against every record. */
const pathsOfEntry = new WeakMap<object, string[][]>();

/** The JSON paths (from the record's root) a field filter reads. */
function fieldPaths(kind: 'attr' | 'sd', entry: { key: string }): string[][] {
  let paths = pathsOfEntry.get(entry);
  if (!paths) {
    paths = kind === 'attr' ? keyPaths(entry.key).map((p) => ['attributes', ...p]) : sdPaths(entry.key).map((p) => ['structuredData', ...p]);
    pathsOfEntry.set(entry, paths);
  }
  return paths;
}

/** True when a field's value equals a filter value: its string, or its JSON text. */
function fieldEquals(field: unknown, value: string): boolean {
  if (field === undefined) return false;
  return (typeof field === 'string' && field === value) || JSON.stringify(field) === value;
}

/**
 * Parses a time bound → epoch microseconds: RFC 3339, or an epoch number whose unit its digits
 * tell (seconds, milliseconds, microseconds or nanoseconds: alerting/src/time-param.ts).
 */
export function parseTimeBound(value: string, key: string): number {
  const micros = epochDigitsToMicros(value) ?? timestampToMicros(plusFromUrl(value));
  if (!Number.isFinite(micros)) throw new PeriscopeError(ERR.BAD_QUERY, `${key}: expected RFC 3339 (2026-03-01T10:00:00Z) or an epoch time in seconds, milliseconds, microseconds or nanoseconds`, 400, { key });
  return micros;
}

/**
 * `start` and `end` parameters (empty = absent). An end before the start is a 400: an empty
 * answer would read as "nothing happened then" (Loki answers 400 too).
 */
export function parseTimeRange(start: string | undefined, end: string | undefined): { startMicros?: number; endMicros?: number } {
  const range: { startMicros?: number; endMicros?: number } = {};
  if (start) range.startMicros = parseTimeBound(start, 'start');
  if (end) range.endMicros = parseTimeBound(end, 'end');
  if (range.startMicros !== undefined && range.endMicros !== undefined && range.startMicros > range.endMicros) {
    throw new PeriscopeError(ERR.BAD_QUERY, 'end: before start', 400, { key: 'end' });
  }
  return range;
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
    const [offsetHours, offsetMinutes] = [Number(m[8].slice(1, 3)), Number(m[8].slice(4, 6))];
    // RFC 3339's time-numoffset is a time-hour (00–23) and a time-minute (00–59): +99:99 is no zone.
    if (offsetHours > 23 || offsetMinutes > 59) return Number.NaN;
    ms -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
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

/**
 * The filter in `query`. Every key must be a filter key or one of `otherKeys` (the endpoint's
 * own, e.g. limit and cursor): a misspelt or unsupported key (`level=error`) is a 400 naming it,
 * not a filter silently left out.
 */
export function parseLogFilter(query: Query, otherKeys: readonly string[] = []): LogFilter {
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
  Object.assign(filter, parseTimeRange(single(query, 'start'), single(query, 'end')));
  const traceId = single(query, 'traceId');
  if (traceId) {
    if (!/^[0-9a-fA-F]{32}$/.test(traceId)) throw new PeriscopeError(ERR.BAD_QUERY, 'traceId: expected 32 hex characters', 400, { key: 'traceId' });
    filter.traceId = traceId.toLowerCase();
  }
  const q = single(query, 'q');
  if (q && q.trim()) filter.q = q.trim();
  for (const key of Object.keys(query)) {
    const value = single(query, key);
    if (value === undefined || FILTER_KEYS.includes(key) || otherKeys.includes(key)) continue;
    if (key.startsWith('sd.')) {
      if (sdPaths(key.slice(3)).length === 0) throw new PeriscopeError(ERR.BAD_QUERY, `${key}: expected sd.<sdid>.<param>`, 400, { key });
      filter.sd.push({ key: key.slice(3), value });
    } else if (key.startsWith('attr.') && key.length > 5) {
      filter.attrs.push({ key: key.slice(5), value });
    } else if (key === 'attr.') {
      throw new PeriscopeError(ERR.BAD_QUERY, `${key}: expected attr.<key>`, 400, { key });
    } else {
      throw unknownParam(key, [...FILTER_KEYS, 'attr.<key>', 'sd.<sdid>.<param>', ...otherKeys]);
    }
  }
  if (filter.sd.length + filter.attrs.length > MAX_FIELD_FILTERS) {
    throw new PeriscopeError(ERR.BAD_QUERY, `at most ${MAX_FIELD_FILTERS} attr. and sd. filters in one query, got ${filter.sd.length + filter.attrs.length}`, 400, { key: 'attr.' });
  }
  return filter;
}

/** A JSON path string literal for SQLite's json_extract: $."a"."b". */
function jsonPath(parts: string[]): string {
  // SQLite reads a quoted label with JSON string escapes (\" and \\), https://sqlite.org/json1.html#path_arguments
  return '$' + parts.map((p) => `.${JSON.stringify(p)}`).join('');
}

/** Positions of the index chunks (fts-schema.ts) matching an FTS5 query (parameter 1). */
const CHUNK_POSITIONS = `SELECT log_chunks.rowid * ${CHUNK_SIZE} + o.n FROM fts.log_chunks, fts.chunk_offsets o WHERE log_chunks MATCH ?`;

/** The last position the indexer has indexed (parameter 1: INDEXED_ID_KEY). */
const INDEXED_POSITION = 'SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM fts.kv WHERE key = ?';

/** Positions the indexer has not reached (parameter 1: INDEXED_ID_KEY). */
const UNINDEXED_POSITIONS = `SELECT id FROM logs WHERE id > (${INDEXED_POSITION})`;

/** The last position indexed with CJK runs as one token (parameter 1: CJK_SPLIT_AFTER_KEY). */
const CJK_SPLIT_AFTER = 'SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM fts.kv WHERE key = ?';

/**
 * How filterToSql finds `q` and `traceId`:
 *  - 'read': no search index (store.search.enabled: false): every record in range is read,
 *    and `q` has matchesQ's meaning;
 *  - 'index': the positions of the index chunks that match, plus those not indexed yet, are
 *    looked up; `q` has matchesWords' meaning. For trace ids and words in few chunks;
 *  - 'index-probe': for `q`, each record the query reads anyway (its time range, newest first)
 *    is kept when its chunk matches: for words in many chunks, where looking up every position
 *    costs more, and a query with a limit stops at the limit. `traceId` as 'index'.
 */
export type SearchMode = 'read' | 'index' | 'index-probe';

/**
 * SQL WHERE fragment (over table alias `l`) and its parameters. The search index is maintained
 * behind ingest (fts-indexer.ts).
 */
/** The largest severity the partial index logs_severe_ts holds (log-store.ts): warning. */
const SEVERE_INDEX_MAX = 4;

export function filterToSql(filter: LogFilter, search: SearchMode): { where: string; params: Array<string | number> } {
  const clauses: string[] = [];
  const params: Array<string | number> = [];
  const indexed = search !== 'read';
  // A q without letters or digits (-->) has nothing to look up: it is read, as without the index.
  const qIndexed = indexed && filter.q !== undefined && hasSearchTokens(filter.q);
  const qByPosition = qIndexed && search === 'index';
  // With a trace id, or words in few chunks, the records are looked up by position (below); `+`
  // keeps SQLite from walking every record of the service through logs_service_ts instead.
  const byPosition = (indexed && filter.traceId !== undefined) || qByPosition;
  if (filter.service !== undefined) { clauses.push(byPosition ? '+l.service = ?' : 'l.service = ?'); params.push(filter.service); }
  if (filter.maxSeverity !== undefined) {
    // Written out, so that SQLite sees the query implies the partial index's WHERE (a bound
    // parameter proves nothing to it, https://sqlite.org/partialindex.html#queries_using_partial_indexes).
    if (filter.maxSeverity <= SEVERE_INDEX_MAX && !byPosition) clauses.push(`l.severity <= ${SEVERE_INDEX_MAX}`);
    clauses.push('l.severity <= ?');
    params.push(filter.maxSeverity);
  }
  if (filter.startMicros !== undefined) { clauses.push('l.ts >= ?'); params.push(filter.startMicros); }
  if (filter.endMicros !== undefined) { clauses.push('l.ts < ?'); params.push(filter.endMicros); }
  if (filter.traceId !== undefined && !indexed) {
    clauses.push('l.trace_id = ?');
    params.push(filter.traceId);
  } else if (filter.traceId !== undefined) {
    // One list of positions: those of the index chunks that hold the trace id, and the newer
    // records the index has not reached yet (it trails ingest by about indexInterval), checked
    // directly. As an OR of the two, SQLite scanned the whole logs_ts index instead (EXPLAIN QUERY PLAN).
    // The index holds the trace id's first characters (traceIndexToken); chunks indexed by
    // versions before that hold the whole id, hence both terms.
    clauses.push(`l.trace_id = ? AND l.id IN (${CHUNK_POSITIONS} UNION ALL ${UNINDEXED_POSITIONS} AND trace_id = ?)`);
    params.push(filter.traceId, `trace_id : ("${traceIndexToken(filter.traceId)}" OR "${filter.traceId}")`, INDEXED_ID_KEY, filter.traceId);
  }
  if (filter.q !== undefined && !qIndexed) {
    // periscope_q is matchesQ, registered on the connection by LogStore.
    clauses.push("periscope_q(json_extract(l.body, '$.msg'), ?)");
    params.push(filter.q);
  } else if (filter.q !== undefined) {
    // Candidates as for traceId, or ('index-probe') the records read whose chunk matches or that
    // are not indexed yet; each checked with matchesWords (periscope_words, registered by LogStore).
    // Words with CJK characters: also every record indexed before they were tokens of their own
    // (fts-schema.ts CJK_SPLIT_AFTER_KEY), whose chunks cannot tell.
    const cjk = hasCjkWords(filter.q);
    clauses.push(qByPosition
      ? `l.id IN (${CHUNK_POSITIONS} UNION ALL ${UNINDEXED_POSITIONS}${cjk ? ` UNION ALL SELECT id FROM logs WHERE id <= (${CJK_SPLIT_AFTER})` : ''})`
      : `(l.id / ${CHUNK_SIZE} IN (SELECT rowid FROM fts.log_chunks WHERE log_chunks MATCH ?) OR l.id > (${INDEXED_POSITION})${cjk ? ` OR l.id <= (${CJK_SPLIT_AFTER})` : ''})`);
    clauses.push("periscope_words(json_extract(l.body, '$.msg'), ?)");
    params.push(chunkQuery(filter.q), INDEXED_ID_KEY);
    if (cjk) params.push(CJK_SPLIT_AFTER_KEY);
    params.push(filter.q);
  }
  for (const [kind, fields] of [['sd', filter.sd], ['attr', filter.attrs]] as const) {
    for (const entry of fields) {
      const paths = fieldPaths(kind, entry);
      clauses.push(`(${paths.map(() => '(l.body -> ?) IN (?, ?)').join(' OR ')})`);
      for (const path of paths) params.push(jsonPath(path), JSON.stringify(entry.value), entry.value);
    }
  }
  return { where: clauses.length ? clauses.join(' AND ') : '1', params };
}

function getPath(obj: unknown, parts: string[]): unknown {
  let cur = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, p)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

let lastQ: { q: string; include: string[]; exclude: string[] } | undefined;

/**
 * `q` without the search index: every word (or "phrase") occurs in msg, case-insensitively, and
 * no -excluded one does (search-terms.ts); a trailing `*`, prefix search in FTS5, dropped. An
 * approximation of FTS5's tokenized match; the terms of the last `q` are kept, as a scan calls
 * this once per record with the same `q`.
 */
export function matchesQ(msg: string, q: string): boolean {
  if (lastQ?.q !== q) {
    lastQ = { q, include: [], exclude: [] };
    for (const t of searchTerms(q)) {
      // A lone `*` is text, not an empty prefix (which would match every record), as in wordsOf.
      const text = lowerCase(!t.quoted && t.text.length > 1 ? t.text.replace(/\*$/, '') : t.text);
      (t.exclude ? lastQ.exclude : lastQ.include).push(text);
    }
  }
  const text = lowerCase(msg);
  for (const w of lastQ.include) if (!text.includes(w)) return false;
  for (const w of lastQ.exclude) if (text.includes(w)) return false;
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
  for (const [kind, fields] of [['sd', filter.sd], ['attr', filter.attrs]] as const) {
    for (const entry of fields) {
      if (!fieldPaths(kind, entry).some((path) => fieldEquals(getPath(record, path), entry.value))) return false;
    }
  }
  return true;
}
