// Worker thread that does the store's background work, off the ingest thread:
//  - builds the search index (q= and traceId=, fts-schema.ts) behind ingest;
//  - checkpoints the log's WAL (PASSIVE: never blocks the writer), so COMMITs on the
//    acknowledgement path don't pay for copying pages into the database file.
// The index lives in its own database file so its write transactions never take the write
// lock of the log database: ingest (the acknowledgement path) never waits for indexing.
// Messages arrive from the ingest thread after each commit (fts-indexer.ts `offer`), so in steady
// state nothing is read back; what was not offered (start-up, or while far behind) is read from
// the log through a read-only WAL connection, which never blocks the writer.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { KeyValue } from './database.ts';
import { createFtsTable, INDEXED_ID_KEY } from './fts-schema.ts';
import { IndexQueue, type IndexBatch, type IndexRow } from './index-queue.ts';

const { logDbPath, ftsDbPath, intervalMs, batch } = workerData as { logDbPath: string; ftsDbPath: string; intervalMs: number; batch: number };

const fts = openFtsDatabase(ftsDbPath);
const log = new DatabaseSync(logDbPath, { readOnly: true });
log.exec('PRAGMA busy_timeout = 5000');

// A writable connection only for checkpoints; the ingest connection's autocheckpoint is a far-off safety net.
const checkpointer = new DatabaseSync(logDbPath);
checkpointer.exec('PRAGMA busy_timeout = 5000');
let lastCheckpoint = 0;

const cursor = new KeyValue(fts);
const insert = fts.prepare('INSERT INTO logs_fts(rowid, msg, trace_id) VALUES (?, ?, ?)');
const pending = log.prepare("SELECT id, json_extract(body, '$.msg') AS msg, trace_id AS traceId FROM logs WHERE id > ? AND id < ? ORDER BY id LIMIT ?");
const oldest = log.prepare('SELECT min(id) AS id FROM logs');
const prune = fts.prepare('DELETE FROM logs_fts WHERE rowid < ?');

let stopping = false;
const queue = new IndexQueue();
parentPort!.on('message', (msg: 'stop' | IndexBatch) => {
  if (msg === 'stop') stopping = true;
  else queue.push(msg);
});

let indexed = Number(cursor.get(INDEXED_ID_KEY) ?? 0);
parentPort!.postMessage({ indexedId: indexed });
let sincePrune = 0;

/** The next rows to index: from the queue, else from the log (up to where the queue resumes). */
function nextRows(): IndexRow[] {
  const next = queue.next(indexed, batch);
  if ('rows' in next) return next.rows;
  const rows = pending.all(indexed, Math.min(next.readBefore, Number.MAX_SAFE_INTEGER), batch) as unknown as IndexRow[];
  // Nothing left before the queued batch: the ids in between were deleted by retention.
  if (rows.length === 0 && Number.isFinite(next.readBefore)) indexed = next.readBefore - 1;
  return rows;
}

while (!stopping) {
  const rows = nextRows();
  if (rows.length > 0) {
    fts.exec('BEGIN');
    for (const row of rows) insert.run(row.id, row.msg ?? '', row.traceId ?? '');
    indexed = rows[rows.length - 1].id;
    cursor.set(INDEXED_ID_KEY, String(indexed));
    fts.exec('COMMIT');
    parentPort!.postMessage({ indexedId: indexed });
  }
  if (Date.now() - lastCheckpoint >= 500) {
    lastCheckpoint = Date.now();
    checkpointer.exec('PRAGMA wal_checkpoint(PASSIVE)');
  }
  if (++sincePrune >= 300) {
    // Retention deleted old log rows: drop their index entries (queries join on logs anyway).
    sincePrune = 0;
    const min = (oldest.get() as { id: number | null }).id;
    if (min !== null) prune.run(min);
  }
  if (rows.length < batch && queue.length === 0) await sleep(intervalMs);
  else await yieldToLoop(); // let queued messages in
}
checkpointer.close();
log.close();
fts.close();
// The listening port keeps this thread alive; closing it lets the thread exit now (shutdown
// otherwise waited for its 5 s terminate fallback).
parentPort!.close();

function openFtsDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  createFtsTable(db, 'main'); // fts-schema.ts
  // Merge segments 16 at a time instead of 4: about a third less indexing CPU per record (measured
  // 5-6 → 3.5-4 µs), for queries that visit a few more segments. Persistent; set on every open.
  // https://www.sqlite.org/fts5.html#the_automerge_configuration_option
  db.exec("INSERT INTO logs_fts(logs_fts, rank) VALUES ('automerge', 16)");
  return db;
}
