import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import type { LogColumns } from '../ingest/log-batch.ts';
import { transaction } from './database.ts';
import { filterToSql, matchesQ, type LogFilter, type SearchMode } from './log-filter.ts';
import { chunkQuery, hasSearchTokens, matchesWords } from './search-words.ts';

/**
 * Builds the caller's object for one stored record (readAfter): its position in the durable log,
 * timestamp (µs), severity, JSON body and the body's size in UTF-8 bytes (as stored: SQLite's
 * octet_length reads it from the record header, where body.length would count UTF-16 units).
 */
export type StoredRowFactory<T> = (id: number, micros: number, severity: number, body: string, bytes: number) => T;

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

/** Rows per multi-row INSERT (SQLite allows 32766 parameters; 64 × 5 is far below). */
const INSERT_ROWS = 64;

/** Index chunks above which a q= read in order walks the records (#searchMode): 64 000 positions. */
const FREQUENT_CHUNKS = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY,   -- position in the durable log; exporters keep cursors over it
  ts INTEGER NOT NULL,      -- record timestamp, epoch microseconds
  severity INTEGER NOT NULL,
  service TEXT,
  trace_id TEXT,
  body TEXT NOT NULL        -- the record as JSON (docs/record-format.md)
) STRICT;
CREATE INDEX IF NOT EXISTS logs_ts ON logs(ts, id);
CREATE INDEX IF NOT EXISTS logs_service_ts ON logs(service, ts, id);
-- Records by trace id are found through the search index (fts-schema.ts), not a B-tree index
-- here: random keys made every insert rewrite a page. Databases of earlier versions lose it.
DROP INDEX IF EXISTS logs_trace;
`;

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
 * The log table: durable log and query store in one. `append` commits before it returns, so
 * the receiver may acknowledge right after it (DESIGN: acknowledge only what is durable).
 */
export class LogStore {
  readonly db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #insertMany: StatementSync;
  readonly #readAfter: StatementSync;
  readonly #bodyOf: StatementSync;
  /** Index chunks matching an FTS5 query; prepared at first use (the index is attached after). */
  #countChunks: StatementSync | undefined;
  /** Rows in the table, kept current by append and noteDeleted: count(*) is linear in the table. */
  #rows: number;
  /** Whether q= and traceId= use the search index (store.search.enabled) or read the records. */
  readonly searchIndex: boolean;

  constructor(db: DatabaseSync, options: { searchIndex: boolean } = { searchIndex: true }) {
    this.db = db;
    this.searchIndex = options.searchIndex;
    // q= without the search index (filterToSql): the same match as live tail's.
    db.function('periscope_q', { deterministic: true }, (msg, q) => (typeof msg === 'string' && matchesQ(msg, String(q)) ? 1 : 0));
    // q= through the search index: each candidate record checked (search-words.ts).
    db.function('periscope_words', { deterministic: true }, (msg, q) => (typeof msg === 'string' && matchesWords(msg, String(q)) ? 1 : 0));
    db.exec(SCHEMA);
    this.#rows = (db.prepare('SELECT count(*) AS n FROM logs').get() as { n: number }).n;
    this.#insert = db.prepare('INSERT INTO logs(ts, severity, service, trace_id, body) VALUES (?, ?, ?, ?, ?)');
    // Multi-row statement: one native call per INSERT_ROWS records halves the binding overhead.
    // OR FAIL, not the default ABORT: to be able to undo just the failing statement, ABORT has
    // SQLite copy each page a multi-row insert changes into a statement journal first
    // (https://www.sqlite.org/tempfiles.html, "Statement Journal Files"). append rolls its whole
    // transaction back on any error anyway. Without the journal an append costs 11–20 % less
    // (2000-record batches of the bench load, alternating rounds: 1.96 → 1.73 µs per record).
    this.#insertMany = db.prepare(`INSERT OR FAIL INTO logs(ts, severity, service, trace_id, body) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`);
    this.#readAfter = db.prepare('SELECT id, ts, severity, body, octet_length(body) FROM logs WHERE id > ? ORDER BY id LIMIT ?');
    this.#readAfter.setReturnArrays(true);
    this.#bodyOf = db.prepare('SELECT body FROM logs WHERE id = ?');
    this.#bodyOf.setReturnArrays(true);
  }

  /**
   * Writes the batch in one transaction and returns the id range assigned (inclusive), or null
   * for an empty batch.
   */
  append(batch: LogColumns): { firstId: number; lastId: number } | null {
    const n = batch.bodies.length;
    if (n === 0) return null;
    const { micros, severity, service, traceId, bodies } = batch;
    const ids = transaction(this.db, () => {
      let i = 0;
      let firstId = 0;
      let lastId = 0;
      const args: Array<string | number | null> = new Array(INSERT_ROWS * 5);
      for (; i + INSERT_ROWS <= n; i += INSERT_ROWS) {
        for (let j = 0, k = 0; j < INSERT_ROWS; j++, k += 5) {
          args[k] = micros[i + j];
          args[k + 1] = severity[i + j];
          args[k + 2] = service[i + j];
          args[k + 3] = traceId[i + j];
          args[k + 4] = bodies[i + j];
        }
        lastId = Number(this.#insertMany.run(...args).lastInsertRowid);
        if (i === 0) firstId = lastId - INSERT_ROWS + 1;
      }
      for (; i < n; i++) {
        lastId = Number(this.#insert.run(micros[i], severity[i], service[i], traceId[i], bodies[i]).lastInsertRowid);
        if (i === 0) firstId = lastId;
      }
      return { firstId, lastId };
    });
    this.#rows += n;
    return ids;
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
    return filterToSql(filter, this.#searchMode(filter));
  }

  /** Retention deleted `rows` rows. */
  noteDeleted(rows: number): void {
    this.#rows = Math.max(0, this.#rows - rows);
  }

  /** Newest first, keyset-paginated by (ts, id). */
  query(filter: LogFilter, limit: number, cursor?: string): LogPage {
    const { where, params } = this.#where(filter);
    let sql = `SELECT l.id, l.ts, l.body FROM logs l WHERE ${where}`;
    const all: Array<string | number> = [...params];
    if (cursor) {
      const [ts, id] = decodeCursor(cursor);
      sql += ' AND (l.ts < ? OR (l.ts = ? AND l.id < ?))';
      all.push(ts, ts, id);
    }
    sql += ' ORDER BY l.ts DESC, l.id DESC LIMIT ?';
    all.push(limit + 1);
    const rows = this.db.prepare(sql).all(...all) as Array<{ id: number; ts: number; body: string }>;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      records: page.map((r) => JSON.parse(r.body) as LogRecord),
      nextCursor: rows.length > limit && last ? encodeCursor(last.ts, last.id) : null,
    };
  }

  /**
   * Every matching record, newest first, read in keyset pages so memory stays constant
   * whatever the result size. Callers should yield to the event loop between pages.
   */
  *pages(filter: LogFilter, pageSize = 1000): Generator<Array<{ body: string }>> {
    const { where, params } = this.#where(filter);
    const first = this.db.prepare(`SELECT l.id, l.ts, l.body FROM logs l WHERE ${where} ORDER BY l.ts DESC, l.id DESC LIMIT ?`);
    const next = this.db.prepare(
      `SELECT l.id, l.ts, l.body FROM logs l WHERE ${where} AND (l.ts < ? OR (l.ts = ? AND l.id < ?)) ORDER BY l.ts DESC, l.id DESC LIMIT ?`,
    );
    let last: { id: number; ts: number } | undefined;
    for (;;) {
      const rows = (last === undefined
        ? first.all(...params, pageSize)
        : next.all(...params, last.ts, last.ts, last.id, pageSize)) as Array<{ id: number; ts: number; body: string }>;
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < pageSize) return;
      last = rows[rows.length - 1];
    }
  }

  /** Counts per time bucket, service and severity. */
  stats(filter: LogFilter, intervalMicros: number): StatsBucket[] {
    const { where, params } = this.#where(filter);
    const rows = this.db
      .prepare(
        `SELECT (l.ts / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, l.service AS service, l.severity AS severity, count(*) AS count
         FROM logs l WHERE ${where} GROUP BY bucket, l.service, l.severity ORDER BY bucket, l.service, l.severity`,
      )
      .all(intervalMicros, intervalMicros, ...params) as Array<{ bucket: number; service: string | null; severity: number; count: number }>;
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

  /**
   * Records with id > afterId in log order (exporters catching up), each built by `make`. Rows come
   * from SQLite as arrays: an object per row with named properties costs about 0.6 µs more per
   * record, on the ingest thread, for every record an exporter reads back.
   */
  readAfter<T>(afterId: number, limit: number, make: StoredRowFactory<T>): T[] {
    const rows = this.#readAfter.all(afterId, limit) as unknown as Array<[number, number, number, string, number]>;
    return rows.map((r) => make(r[0], r[1], r[2], r[3], r[4]));
  }

  /** The stored body of record `id`, or undefined when it is not (or no longer) stored. */
  bodyOf(id: number): string | undefined {
    const row = this.#bodyOf.get(id) as unknown as [string] | undefined;
    return row?.[0];
  }

  lastId(): number {
    const row = this.db.prepare('SELECT max(id) AS id FROM logs').get() as { id: number | null };
    return row.id ?? 0;
  }

  /** Rows in the store (O(1)). */
  count(): number {
    return this.#rows;
  }
}
