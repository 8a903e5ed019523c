import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LogColumns } from '../ingest/log-batch.ts';
import { transaction } from './database.ts';
import type { WriteGuard } from './database-file-watch.ts';

/**
 * Builds the caller's object for one stored record (readAfter): its position in the durable log,
 * timestamp (µs), severity, JSON body and the body's size in UTF-8 bytes (as stored: SQLite's
 * octet_length reads it from the record header, where body.length would count UTF-16 units).
 */
export type StoredRowFactory<T> = (id: number, micros: number, severity: number, body: string, bytes: number) => T;

/** Rows per multi-row INSERT (SQLite allows 32766 parameters; 64 × 5 is far below). */
const INSERT_ROWS = 64;

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
-- Warnings and worse (severity <= 4, SEVERE_INDEX_MAX in log-filter.ts), newest first: a search
-- for errors read every record from the newest down until it had a page of them, all of them
-- when there were none (seconds per ten million). Few records in most logs, so the index costs
-- ingest little; built over the records of an existing database at its first start.
CREATE INDEX IF NOT EXISTS logs_severe_ts ON logs(ts, id) WHERE severity <= 4;
-- Records by trace id are found through the search index (fts-schema.ts), not a B-tree index
-- here: random keys made every insert rewrite a page. Databases of earlier versions lose it.
DROP INDEX IF EXISTS logs_trace;
`;

/**
 * The log table: durable log and query store in one. `append` commits before it returns, so
 * the receiver may acknowledge right after it (DESIGN: acknowledge only what is durable).
 * Queries read it through their own connection (log-reader.ts, in the query thread).
 */
export class LogStore {
  readonly db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #insertMany: StatementSync;
  readonly #readAfter: StatementSync;
  readonly #bodyOf: StatementSync;
  /** Rows in the table, kept current by append and noteDeleted: count(*) is linear in the table. */
  #rows: number;
  /** Called before each write and after its commit: throws when it must be refused (the database file was lost). */
  #writeGuard: WriteGuard = () => {};

  constructor(db: DatabaseSync) {
    this.db = db;
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

  /** Writes are refused while `guard` throws (collector.ts: the database file deleted under it). */
  setWriteGuard(guard: WriteGuard): void {
    this.#writeGuard = guard;
  }

  /**
   * Throws when writes are refused now (the database file was lost). A retry answered from its
   * idempotency key asks this first: the stored answer says its records are durable, and those
   * committed to a lost file are not (their sender was refused, and must not be told otherwise).
   */
  checkWritable(): void {
    this.#writeGuard(false);
  }

  /**
   * Writes the batch in one transaction and returns the id range assigned (inclusive), or null
   * for an empty batch. `alsoCommit` runs in that transaction after the records: what must be
   * durable with them (the request's idempotency key).
   */
  append(batch: LogColumns, alsoCommit?: () => void): { firstId: number; lastId: number } | null {
    const n = batch.bodies.length;
    if (n === 0) return null;
    this.#writeGuard(false);
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
      alsoCommit?.();
      return { firstId, lastId };
    });
    this.#rows += n;
    this.#writeGuard(true);
    return ids;
  }

  /** Retention deleted `rows` rows. */
  noteDeleted(rows: number): void {
    this.#rows = Math.max(0, this.#rows - rows);
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
