import type { DatabaseSync } from 'node:sqlite';

// The search index's table, shared by the ingest connection (fts-indexer.ts, which attaches the
// index database as schema `fts`) and the indexer worker (fts-worker.ts).
//
// Contentless FTS5 (the text lives in the log table; contentless_delete allows pruning;
// https://www.sqlite.org/fts5.html#contentless_delete_tables) with two columns:
//  - msg: the record's message, for `q=` (ftsQuery restricts matches to this column);
//  - trace_id: the record's trace id, for `traceId=` and a trace's logs. Not a B-tree index on
//    logs.trace_id: trace ids are random, so every insert into such an index dirtied its own page
//    and each ingest commit rewrote about one page per record; measured with a distinct trace id
//    per record, ingest fell from ~130 k to ~51 k records/s (main thread 4.2 → 14.5 µs/record).
//    FTS5 writes new terms as sorted segments and merges them later, off the ingest thread.

/** Key, in the index database's kv table, of the last log position the indexer has indexed. */
export const INDEXED_ID_KEY = 'indexed_id';

/**
 * Creates the index table in `schema` (`main` in the worker, `fts` where attached), replacing one
 * from an earlier version that had no trace_id column: it is dropped with the indexer's cursor,
 * and the indexer rebuilds the index from the log. Returns whether it was rebuilt.
 */
export function createFtsTable(db: DatabaseSync, schema: string): boolean {
  // The index database's own kv table holds the indexer's cursor (INDEXED_ID_KEY).
  db.exec(`CREATE TABLE IF NOT EXISTS ${schema}.kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  const columns = (db.prepare(`PRAGMA ${schema}.table_info(logs_fts)`).all() as Array<{ name: string }>).map((c) => c.name);
  const outdated = columns.length > 0 && !columns.includes('trace_id');
  if (outdated) {
    db.exec(`DROP TABLE ${schema}.logs_fts`);
    db.prepare(`DELETE FROM ${schema}.kv WHERE key = ?`).run(INDEXED_ID_KEY);
  }
  db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${schema}.logs_fts USING fts5(msg, trace_id, content='', contentless_delete=1)`);
  return outdated;
}
