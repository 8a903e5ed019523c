// Worker thread that does the store's background work, off the ingest thread:
//  - builds the search index (q= and traceId=, fts-schema.ts) behind ingest, unless
//    store.search.enabled is false;
//  - checkpoints the log's WAL (log-checkpoint.ts: PASSIVE, never blocks the writer), so COMMITs
//    on the acknowledgement path don't pay for copying pages into the database file; it asks the
//    ingest thread for the last few MB when the WAL should start over.
// The index lives in its own database file so its write transactions never take the write
// lock of the log database: ingest (the acknowledgement path) never waits for indexing.
// Messages arrive from the ingest thread after each commit (fts-indexer.ts `offer`), so in steady
// state nothing is read back; what was not offered (start-up, or while far behind) is read from
// the log through a read-only WAL connection, which never blocks the writer.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { BUSY_TIMEOUT_MS, KeyValue } from './database.ts';
import { CHUNK_SIZE, createFtsTables, INDEXED_ID_KEY } from './fts-schema.ts';
import type { WorkerMessage } from './fts-indexer.ts';
import { LogCheckpointer } from './log-checkpoint.ts';
import { appendIndexText, emptyIndexText, IndexQueue, sliceIndexText, type IndexBatch, type IndexRun, type IndexText } from './index-queue.ts';
import { cjkSpaced } from './search-words.ts';
import { timerDelay } from '../timer-delay.ts';

const { logDbPath, ftsDbPath, index, intervalMs, batch } = workerData as { logDbPath: string; ftsDbPath: string; index: boolean; intervalMs: number; batch: number };

/** How often the WAL is checkpointed. */
const CHECKPOINT_MS = 500;
/** Pause after a failed step before the next. */
const RETRY_MS = 1000;

/** One index row's text: the messages and the trace ids of a chunk's records, a line each. */
interface ChunkText {
  chunk: number;
  msgs: string;
  traceIds: string;
}

/** The search index: rows from the queue or the log into log_chunks, its cursor, pruning. */
class Indexer {
  readonly queue = new IndexQueue();
  readonly #fts = openFtsDatabase(ftsDbPath);
  readonly #log = new DatabaseSync(logDbPath, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
  readonly #cursor = new KeyValue(this.#fts);
  readonly #put = this.#fts.prepare('INSERT OR REPLACE INTO log_chunks(rowid, msg, trace_id) VALUES (?, ?, ?)');
  readonly #pending = this.#log.prepare("SELECT id, json_extract(body, '$.msg') AS msg, trace_id AS traceId FROM logs WHERE id > ? AND id < ? ORDER BY id LIMIT ?");
  readonly #oldest = this.#log.prepare('SELECT min(id) AS id FROM logs');
  readonly #prune = this.#fts.prepare('DELETE FROM log_chunks WHERE rowid < ?');
  /**
   * The cursor, never past the log's last position: an index ahead of the log is one restored
   * with a log from before it (a backup of periscope.db taken before periscope-fts.db's, or the
   * log alone restored). SQLite gives the next records the positions after the log's last, which
   * such a cursor took as indexed: `q=` and `traceId=` never found them. The chunks past it hold
   * the text of records that are gone; each is replaced whole when its positions are indexed again,
   * and queries check every candidate against the log meanwhile.
   */
  #indexed = Math.min(Number(this.#cursor.get(INDEXED_ID_KEY) ?? 0), (this.#log.prepare('SELECT max(id) AS id FROM logs').get() as { id: number | null }).id ?? 0);
  /**
   * The chunk holding the last indexed position while positions after it are still to come:
   * its text so far, indexed again whole (replacing its row) when they come.
   */
  #open: ChunkText | undefined;
  #sincePrune = 0;

  constructor() {
    // Saved at once: queries read the cursor from the file, and take the positions after it as
    // not indexed yet (checked record by record) only from there.
    if (String(this.#indexed) !== (this.#cursor.get(INDEXED_ID_KEY) ?? '0')) this.#cursor.set(INDEXED_ID_KEY, String(this.#indexed));
    parentPort!.postMessage({ indexedId: this.#indexed } satisfies WorkerMessage);
  }

  /** Indexes the next records; true when more are waiting. */
  step(): boolean {
    const runs = this.#nextRuns();
    const last = runs.at(-1);
    if (last) {
      const indexed = last.firstId + last.to - 1;
      this.#fts.exec('BEGIN');
      try {
        this.#putChunks(runs);
        this.#cursor.set(INDEXED_ID_KEY, String(indexed));
        this.#fts.exec('COMMIT');
      } catch (err) {
        // Nothing of this step is kept: the next one reads these records again from the log
        // (the queue has let go of them), and the open chunk's text from the log as well.
        if (this.#fts.isTransaction) this.#fts.exec('ROLLBACK');
        this.#open = undefined;
        throw err;
      }
      this.#indexed = indexed;
      parentPort!.postMessage({ indexedId: this.#indexed } satisfies WorkerMessage);
    }
    if (++this.#sincePrune >= 300) {
      // Retention deleted old log rows: drop the chunks wholly before the oldest (queries join on logs anyway).
      this.#sincePrune = 0;
      const min = (this.#oldest.get() as { id: number | null }).id;
      if (min !== null) this.#prune.run(Math.floor(min / CHUNK_SIZE));
    }
    let records = 0;
    for (const r of runs) records += r.to - r.from;
    return records >= batch || this.queue.length > 0;
  }

  close(): void {
    this.#log.close();
    this.#fts.close();
  }

  /** Runs (ascending positions after #indexed) into the index rows of their chunks, one write per chunk. */
  #putChunks(runs: IndexRun[]): void {
    let text: ChunkText | undefined;
    let lastId = 0;
    for (const run of runs) {
      for (let i = run.from; i < run.to; ) {
        const id = run.firstId + i;
        const chunk = Math.floor(id / CHUNK_SIZE);
        const end = Math.min(run.to, i + CHUNK_SIZE - (id % CHUNK_SIZE));
        if (text?.chunk !== chunk) {
          if (text) this.#put.run(text.chunk, cjkSpaced(text.msgs), text.traceIds);
          text = this.#textOf(chunk);
        }
        appendRecords(text, run.text, i, end);
        lastId = run.firstId + end - 1;
        i = end;
      }
    }
    if (!text) return;
    this.#put.run(text.chunk, cjkSpaced(text.msgs), text.traceIds);
    this.#open = lastId % CHUNK_SIZE === CHUNK_SIZE - 1 ? undefined : text;
  }

  /**
   * The text so far of the chunk the next records belong to: the open chunk's, or, when the
   * chunk has indexed positions but is not the open one (the worker restarted in its middle), its
   * earlier records read back from the log.
   */
  #textOf(chunk: number): ChunkText {
    if (this.#open?.chunk === chunk) return this.#open;
    const text = { chunk, msgs: '', traceIds: '' };
    if (chunk * CHUNK_SIZE <= this.#indexed) {
      for (const run of this.#readLog(chunk * CHUNK_SIZE - 1, this.#indexed + 1, CHUNK_SIZE)) appendRecords(text, run.text, run.from, run.to);
    }
    return text;
  }

  /** The next records to index: from the queue, else from the log (up to where the queue resumes). */
  #nextRuns(): IndexRun[] {
    const next = this.queue.next(this.#indexed, batch);
    if ('runs' in next) return next.runs;
    const runs = this.#readLog(this.#indexed, Math.min(next.readBefore, Number.MAX_SAFE_INTEGER), batch);
    // Nothing left before the queued batch: the ids in between were deleted by retention.
    if (runs.length === 0 && Number.isFinite(next.readBefore)) this.#indexed = next.readBefore - 1;
    return runs;
  }

  /** Up to `limit` records with ids in (after, before) from the log, as runs of consecutive ids. */
  #readLog(after: number, before: number, limit: number): IndexRun[] {
    const rows = this.#pending.all(after, before, limit) as Array<{ id: number; msg: string | null; traceId: string | null }>;
    const runs: IndexRun[] = [];
    let run: IndexRun | undefined;
    for (const row of rows) {
      if (!run || row.id !== run.firstId + run.to) {
        run = { firstId: row.id, text: emptyIndexText(), from: 0, to: 0 };
        runs.push(run);
      }
      appendIndexText(run.text, row.msg, row.traceId);
      run.to++;
    }
    return runs;
  }
}

/** Adds records [from, to) of `source` to a chunk's text. */
function appendRecords(text: ChunkText, source: IndexText, from: number, to: number): void {
  const lines = sliceIndexText(source, from, to);
  text.msgs += lines.msgs;
  text.traceIds += lines.traceIds;
}

function openFtsDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  createFtsTables(db, 'main'); // fts-schema.ts
  // Merge segments 16 at a time instead of 4: about a third less indexing CPU per record (measured
  // 5-6 → 3.5-4 µs), for queries that visit a few more segments. Persistent; set on every open.
  // https://www.sqlite.org/fts5.html#the_automerge_configuration_option
  db.exec("INSERT INTO log_chunks(log_chunks, rank) VALUES ('automerge', 16)");
  return db;
}

// Opened in the loop, where a failure (a database still locked after BUSY_TIMEOUT_MS) is reported and
// tried again like any step: thrown here, it ended the thread, and with it indexing and the log's
// checkpoints until the collector restarted. Batches offered meanwhile are read back from the log.
let checkpointer: LogCheckpointer | undefined;
/**
 * When the last checkpoint pass ran, on the monotonic clock: by Date.now() a step of the host's
 * wall clock back (NTP, a VM resumed, `date -s`) stopped the passes for as long as the step, and
 * the log grew to the ingest thread's autocheckpoint meanwhile.
 */
let lastCheckpoint = Number.NEGATIVE_INFINITY;
let indexer: Indexer | undefined;
let stopping = false;
parentPort!.on('message', (msg: 'stop' | IndexBatch) => {
  if (msg === 'stop') stopping = true;
  else indexer?.queue.push(msg);
});

/**
 * Runs one step; its error's message when it failed. A failed step (e.g. a database still busy
 * after busy_timeout on a loaded machine, a full disk) is reported and tried again: were the
 * thread to end, indexing and the log's checkpoints would stop until the collector restarts. The
 * two are tried apart, so the log is still checkpointed while indexing fails.
 */
function attempt(step: () => void): string | undefined {
  try {
    step();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

let failing = false;
while (!stopping) {
  let more = false;
  const indexError = attempt(() => {
    if (index) indexer ??= new Indexer();
    more = indexer?.step() ?? false;
  });
  const checkpointError = attempt(() => {
    checkpointer ??= new LogCheckpointer(logDbPath);
    if (performance.now() - lastCheckpoint < CHECKPOINT_MS) return;
    lastCheckpoint = performance.now();
    if (checkpointer.run()) parentPort!.postMessage({ finishCheckpoint: true } satisfies WorkerMessage);
  });
  const error = indexError ?? checkpointError;
  if (error !== undefined || failing) parentPort!.postMessage({ error: error ?? null } satisfies WorkerMessage);
  failing = error !== undefined;
  if (failing) await sleep(RETRY_MS);
  else if (more) await yieldToLoop(); // let queued messages in
  else await sleep(timerDelay(index ? intervalMs : CHECKPOINT_MS));
}
checkpointer?.close();
indexer?.close();
// The listening port keeps this thread alive; closing it lets the thread exit now (shutdown
// otherwise waited for its 5 s terminate fallback).
parentPort!.close();
