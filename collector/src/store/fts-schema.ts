import { existsSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { transaction } from './database.ts';

// The search index's tables, shared by the ingest connection (fts-indexer.ts, which attaches the
// index database as schema `fts`) and the indexer worker (fts-worker.ts).
//
// Contentless FTS5 (the text lives in the log table; contentless_delete allows pruning and
// replacing; https://www.sqlite.org/fts5.html#contentless_delete_tables). One index row per
// CHUNK_SIZE consecutive log positions (rowid = position / CHUNK_SIZE), not one per record: a
// chunk's words are stored once however many of its records use them, so the indexer spends
// about half the CPU per record (measured 3.4–4.2 → 1.8–2.0 µs in a microbenchmark, 4.8 → 2.7 µs
// in the collector's indexer thread at full speed) and the index is half the size. Queries
// (log-filter.ts) take the chunks' positions as candidates and check each candidate record. Two
// columns, with detail=column (the word positions that phrase queries need would be per chunk,
// meaningless; the check matches phrases per record), diacritics removed from every letter
// (remove_diacritics 2: "viet" finds "Việt", as search-words.ts folds them):
//  - msg: the records' messages, for `q=`;
//  - trace_id: the records' trace ids, for `traceId=` and a trace's logs. Not a B-tree index on
//    logs.trace_id: trace ids are random, so every insert into such an index dirtied its own page
//    and each ingest commit rewrote about one page per record; measured with a distinct trace id
//    per record, ingest fell from ~130 k to ~51 k records/s (main thread 4.2 → 14.5 µs/record).
//    FTS5 writes new terms as sorted segments and merges them later, off the ingest thread.
//    Only a trace id's first TRACE_TOKEN_CHARS characters are indexed (traceIndexToken): a
//    random 32-hex term per record was half the index's bytes, written and merged again and
//    again. With 8 hex digits (`node bench/search.ts`, two alternating pairs) the index of a
//    million records fell from 50–51 to 25 MB and was built at 252–257 k instead of 225–240 k
//    records/s; live into Loki (bench/exporters.ts load), the collector spent a median 0.7 µs
//    less per record in six alternating pairs (from 0.4 more to 2.2 less; the machine is noisy).
//    A query checks the candidates' whole trace id anyway.

/**
 * Key, in the index database's kv table, of the last log position the indexer has indexed in
 * log_chunks. Not LEGACY_INDEXED_ID_KEY, the key versions before log_chunks kept their per-record
 * index's (logs_fts) position under: such a version, started on a data directory this one wrote
 * (a downgrade), creates an empty logs_fts next to log_chunks and, finding its cursor at the end
 * of the log, took every earlier record as indexed; its `q=` and `traceId=` found none of them,
 * for good and without a word. Finding no cursor, it indexes the log again from its start.
 */
export const INDEXED_ID_KEY = 'chunks_indexed_id';

/**
 * The cursor's key before INDEXED_ID_KEY, also written by versions that already indexed into
 * log_chunks (Dec 5-7, 2026). Found next to log_chunks, it is the last writer's position (this
 * version removes it), so it is moved to INDEXED_ID_KEY: no rebuild of a current index, and a
 * downgrade to such a version and back keeps what that version indexed.
 */
export const LEGACY_INDEXED_ID_KEY = 'indexed_id';

/**
 * Key, in the index database's kv table, of the last position indexed before this version, whose
 * chunks hold a run of Han, Hiragana or Katakana characters as one token (unicode61's); from the
 * next position on each such character is a token (search-words.ts cjkSpaced). Set once, to the
 * cursor found when the key is not there (0 for a new index); a `q` with CJK words checks the
 * records up to it directly, as it checks those not indexed yet, instead of rebuilding the index.
 */
export const CJK_SPLIT_AFTER_KEY = 'cjk_split_after_id';

/** Characters of a trace id the index holds: 8 hex digits (32 bits), which two random trace ids share once in 4 billion. */
export const TRACE_TOKEN_CHARS = 8;

/** The term a trace id is indexed under (see TRACE_TOKEN_CHARS). */
export function traceIndexToken(traceId: string): string {
  return traceId.slice(0, TRACE_TOKEN_CHARS);
}

/** Log positions per index row. */
export const CHUNK_SIZE = 64;

/**
 * Removes an index database written by an earlier version (one index row per record, table
 * `logs_fts`) so that the indexer rebuilds the index from the log. Returns whether it did.
 * Deleting the file is instant where dropping a large FTS table is not.
 */
export function removeOutdatedIndex(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new DatabaseSync(path);
  const outdated = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'logs_fts'").get() !== undefined;
  db.close();
  if (outdated) for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  return outdated;
}

/**
 * Creates the index tables in `schema` (`main` in the worker, `fts` where attached):
 *  - kv: the indexer's cursor (INDEXED_ID_KEY), moved there from LEGACY_INDEXED_ID_KEY, and
 *    CJK_SPLIT_AFTER_KEY;
 *  - log_chunks: the FTS5 index;
 *  - chunk_offsets: 0 … CHUNK_SIZE - 1, which turn a chunk into its positions in a query.
 */
export function createFtsTables(db: DatabaseSync, schema: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${schema}.kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${schema}.log_chunks USING fts5(msg, trace_id, content='', contentless_delete=1, detail=column, tokenize='unicode61 remove_diacritics 2')`);
  db.exec(`CREATE TABLE IF NOT EXISTS ${schema}.chunk_offsets (n INTEGER PRIMARY KEY)`);
  db.exec(`INSERT OR IGNORE INTO ${schema}.chunk_offsets(n) WITH RECURSIVE o(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM o WHERE n + 1 < ${CHUNK_SIZE}) SELECT n FROM o`);
  // In one transaction: the cursor is never found under neither key.
  transaction(db, () => {
    db.prepare(`INSERT OR REPLACE INTO ${schema}.kv(key, value) SELECT ?, value FROM ${schema}.kv WHERE key = ?`).run(INDEXED_ID_KEY, LEGACY_INDEXED_ID_KEY);
    db.prepare(`DELETE FROM ${schema}.kv WHERE key = ?`).run(LEGACY_INDEXED_ID_KEY);
    db.prepare(`INSERT OR IGNORE INTO ${schema}.kv(key, value) VALUES (?, coalesce((SELECT value FROM ${schema}.kv WHERE key = ?), '0'))`).run(CJK_SPLIT_AFTER_KEY, INDEXED_ID_KEY);
  });
}
