import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import { filterToSql, matchesQ, type LogFilter, type SearchMode } from './log-filter.ts';
import { chunkQuery, hasSearchTokens, matchesWords } from './search-words.ts';
import { allowRunningCheck, runningCheck } from './running-check.ts';

/** One page of matching records, newest first, as their stored JSON bodies. */
export interface BodyPage {
  bodies: string[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

export interface LogPage {
  records: LogRecord[];
  nextCursor: string | null;
}

export interface StatsBucket {
  start: string;
  service: string | null;
  severity: number;
  count: number;
}

/** A page of stored bodies as records. */
export function parsedPage({ bodies, nextCursor }: BodyPage): LogPage {
  return { records: bodies.map((b) => JSON.parse(b) as LogRecord), nextCursor };
}

/** Index chunks above which a q= read in order walks the records (#searchMode): 64 000 positions. */
const FREQUENT_CHUNKS = 1000;

/**
 * Characters of record bodies in one page at most (but always one record): a page ends early,
 * with its nextCursor, when the next record would pass this. A record may be as large as the
 * request that brought it (http.bodyLimit, 16 MiB), so 1000 records of a few MB each (a page of
 * the API, of an export, of a trace's logs) were gigabytes held at once by the query thread, its
 * copy to the main thread and the answer, enough to end the collector out of memory.
 */
export const PAGE_MAX_CHARS = 16 * 1024 * 1024;

/** Buckets one stats answer holds at most (LogReader.stats): about 50 MB of JSON. */
export const MAX_STATS_BUCKETS = 500_000;

function encodeCursor(micros: number, id: number): string {
  return Buffer.from(JSON.stringify([micros, id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, number] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && v.every(Number.isSafeInteger)) return [v[0], v[1]];
  } catch {
    // fall through
  }
  throw new PeriscopeError(ERR.BAD_CURSOR, 'cursor: not a cursor returned by this API', 400, { key: 'cursor' });
}

/**
 * Search, pages and counts over the log table (GET /api/v1/logs, export, stats, log alert rules).
 * The collector runs it in the query thread (query-thread.ts) on a connection of its own, so a
 * query over millions of records never holds up ingest's acknowledgements; tests and benches
 * use it in-process. With the search index, the database must have it attached as `fts`.
 */
export class LogReader {
  readonly db: DatabaseSync;
  /** Whether q= and traceId= use the search index (store.search.enabled) or read the records. */
  readonly searchIndex: boolean;
  /** Index chunks matching an FTS5 query; prepared at first use. */
  #countChunks: StatementSync | undefined;

  constructor(db: DatabaseSync, options: { searchIndex: boolean } = { searchIndex: true }) {
    this.db = db;
    this.searchIndex = options.searchIndex;
    // q= without the search index (filterToSql): the same match as live tail's.
    db.function('periscope_q', { deterministic: true }, (msg, q) => (typeof msg === 'string' && matchesQ(msg, String(q)) ? 1 : 0));
    // q= through the search index: each candidate record checked (search-words.ts).
    db.function('periscope_words', { deterministic: true }, (msg, q) => (typeof msg === 'string' && matchesWords(msg, String(q)) ? 1 : 0));
    allowRunningCheck(db);
  }

  /**
   * How filterToSql finds q= (SearchMode): through the records the query reads anyway when the
   * words are in more than FREQUENT_CHUNKS index chunks. Looking up every position of a word in
   * most chunks, then sorting them, took seconds per million records for a query with a limit
   * of 100 (3 ms walking them newest first), and for a count over a short time range as much as
   * over all records.
   */
  #searchMode(filter: LogFilter): SearchMode {
    if (!this.searchIndex) return 'read';
    if (filter.q === undefined || !hasSearchTokens(filter.q)) return 'index';
    this.#countChunks ??= this.db.prepare('SELECT count(*) AS n FROM fts.log_chunks WHERE log_chunks MATCH ?');
    const { n } = this.#countChunks.get(chunkQuery(filter.q)) as { n: number };
    return n > FREQUENT_CHUNKS ? 'index-probe' : 'index';
  }

  /** The filter as SQL over alias `l`, with the search mode it calls for. */
  #where(filter: LogFilter): { where: string; params: Array<string | number> } {
    const { where, params } = filterToSql(filter, this.#searchMode(filter));
    return { where: `${runningCheck('l.id')} AND ${where}`, params };
  }

  /**
   * Newest first, keyset-paginated by (ts, id): the stored bodies, parsed by the caller or not;
   * up to `limit` of them and PAGE_MAX_CHARS.
   */
  page(filter: LogFilter, limit: number, cursor?: string): BodyPage {
    const { where, params } = this.#where(filter);
    let sql = `SELECT l.id, l.ts, l.body FROM logs l WHERE ${where}`;
    const all: Array<string | number> = [...params];
    if (cursor) {
      const [ts, id] = decodeCursor(cursor);
      // (ts, id) < (cursor): as `l.ts < ? OR (l.ts = ? AND l.id < ?)`, which no index can bound,
      // SQLite read every record from the newest down to the cursor again for each page, so a
      // page cost more the deeper it was (an export or a paging client: quadratic in the records
      // read). `l.ts <= ?` lets it start at the cursor (EXPLAIN QUERY PLAN: logs_ts (ts<?)).
      sql += ' AND l.ts <= ? AND (l.ts < ? OR l.id < ?)';
      all.push(ts, ts, id);
    }
    sql += ' ORDER BY l.ts DESC, l.id DESC LIMIT ?';
    all.push(limit + 1);
    const bodies: string[] = [];
    let chars = 0;
    let last: { id: number; ts: number } | undefined;
    let more = false;
    for (const row of this.db.prepare(sql).iterate(...all) as Iterable<{ id: number; ts: number; body: string }>) {
      if (bodies.length === limit || (bodies.length > 0 && chars + row.body.length > PAGE_MAX_CHARS)) {
        more = true;
        break;
      }
      bodies.push(row.body);
      chars += row.body.length;
      last = row;
    }
    return { bodies, nextCursor: more && last ? encodeCursor(last.ts, last.id) : null };
  }

  /** Newest first, keyset-paginated by (ts, id). */
  query(filter: LogFilter, limit: number, cursor?: string): LogPage {
    return parsedPage(this.page(filter, limit, cursor));
  }

  /**
   * Counts per time bucket, service and severity: at most `maxBuckets` of them, else a 400 (as
   * Loki refuses a step giving more than 11 000 points). `interval=1s` over weeks of logs gave a
   * bucket per second, service and severity: millions of objects in the query thread, their copy
   * and the JSON answer, enough to end the collector out of memory.
   */
  stats(filter: LogFilter, intervalMicros: number, maxBuckets = MAX_STATS_BUCKETS): StatsBucket[] {
    const { where, params } = this.#where(filter);
    const rows = this.db
      .prepare(
        `SELECT (l.ts / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, l.service AS service, l.severity AS severity, count(*) AS count
         FROM logs l WHERE ${where} GROUP BY bucket, l.service, l.severity ORDER BY bucket, l.service, l.severity LIMIT ?`,
      )
      .all(intervalMicros, intervalMicros, ...params, maxBuckets + 1) as Array<{ bucket: number; service: string | null; severity: number; count: number }>;
    if (rows.length > maxBuckets) {
      throw new PeriscopeError(ERR.BAD_QUERY, `interval: more than ${maxBuckets} buckets (one per interval, service and severity); use a longer interval, a narrower time range (start, end) or a service`, 400, { key: 'interval', maxBuckets });
    }
    return rows.map((r) => ({
      start: new Date(r.bucket / 1000).toISOString(),
      service: r.service,
      severity: r.severity,
      count: r.count,
    }));
  }

  /** Number of records matching the filter (log alert rules). */
  countMatching(filter: LogFilter): number {
    const { where, params } = this.#where(filter);
    return (this.db.prepare(`SELECT count(*) AS n FROM logs l WHERE ${where}`).get(...params) as { n: number }).n;
  }
}
