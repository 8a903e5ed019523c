import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/**
 * Page size of a new database: 8 KiB instead of SQLite's 4 KiB default. Appends split pages of
 * the two (service, ts) and (ts) indexes half as often and write fewer, fuller pages: full-speed
 * ingest in three alternating runs, ingest thread 4.98/3.66/3.33 → 3.91/3.07/2.70 µs per record
 * and 135/155/183 k → 150/189/212 k records/s (16 KiB was no better than 8). A database created
 * by an earlier version keeps its page size: a WAL database cannot change it
 * (https://www.sqlite.org/pragma.html#pragma_page_size).
 */
const PAGE_SIZE = 8192;

/**
 * How long a statement waits for another connection's lock (the ingest thread, the store worker,
 * retention share these files). Given at open (node:sqlite's `timeout`), so it covers the very
 * first statement: set by a PRAGMA after `journal_mode`, a lock met at start-up (another
 * connection's WAL recovery on a loaded machine) failed at once.
 */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (and creates) the collector's SQLite database in WAL mode.
 * WAL + synchronous=NORMAL: a committed transaction is in the WAL file before COMMIT returns,
 * so a crash or kill -9 of the process loses nothing that was acknowledged; only an OS crash
 * or power loss can (use synchronous=FULL for that). https://www.sqlite.org/wal.html
 */
/** Size the WAL file is cut back to when it starts over (https://www.sqlite.org/pragma.html#pragma_journal_size_limit). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 2 ** 20;

export function openDatabase(dataDir: string, synchronous: 'normal' | 'full'): DatabaseSync {
  mkdirSync(dataDir, { recursive: true });
  const db = new DatabaseSync(join(dataDir, 'periscope.db'), { timeout: BUSY_TIMEOUT_MS });
  // page_size and auto_vacuum take effect only before the first table exists (a new database).
  db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
  // auto_vacuum lets retention give space back.
  db.exec('PRAGMA auto_vacuum = INCREMENTAL');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  // Checkpoints normally run in the store's background worker (fts-worker.ts); this is the
  // safety net that bounds the WAL (~256 MiB, counted in pages of this database's size) if that
  // worker is not running.
  db.exec(`PRAGMA wal_autocheckpoint = ${Math.round(256 * 2 ** 20 / pageSize(db))}`);
  // SQLite writes a WAL over from its start after a complete checkpoint but never shrinks the
  // file: one large retention delete left 500 MB on disk for good. This cuts it back then.
  db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec('PRAGMA cache_size = -65536'); // 64 MiB page cache
  db.exec(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT`);
  return db;
}

/** The database's page size in bytes: PAGE_SIZE, or what an earlier version created it with. */
export function pageSize(db: DatabaseSync): number {
  return (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
}

/** Small persistent key/value table for cursors (full-text indexer, exporters). */
export class KeyValue {
  readonly #get;
  readonly #set;
  constructor(db: DatabaseSync) {
    this.#get = db.prepare('SELECT value FROM kv WHERE key = ?');
    this.#set = db.prepare('INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  }
  get(key: string): string | undefined {
    const row = this.#get.get(key) as { value: string } | undefined;
    return row?.value;
  }
  set(key: string, value: string): void {
    this.#set.run(key, value);
  }
}

/**
 * Runs `fn` in one transaction.
 *
 * BEGIN (deferred), not BEGIN IMMEDIATE: IMMEDIATE takes the write lock of every attached
 * database at once (https://www.sqlite.org/lang_transaction.html), and the search index database
 * is attached to this connection for `q=` queries. Each ingest commit then waited, in SQLite's
 * sleeping busy handler, for the indexer's write transaction on the index file: requests were
 * serialised behind indexing with the CPU half idle. A deferred transaction takes the write lock
 * of a database at its first write there, so ingest locks only the log. The upgrade deadlock that
 * IMMEDIATE prevents needs a second writing connection to the same file; the log database has
 * one (this one; the indexer's other connection only reads and checkpoints).
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    // After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled back: a ROLLBACK
    // then fails with "no transaction is active" and would hide the error that says what happened.
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
