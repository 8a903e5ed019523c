// Checkpoints of the log database's WAL (https://www.sqlite.org/wal.html#checkpointing), done in
// the store's worker thread (fts-worker.ts) so that the ingest thread, which acknowledges
// batches, neither copies pages nor waits for fsync.
//
// A PASSIVE checkpoint never blocks the writer, but SQLite starts the WAL over (writes it again
// from its start instead of growing it) only when a checkpoint has copied every frame before the
// writer's next transaction. Under continuous ingest a checkpoint in another thread never gets
// there: new frames arrive while it copies and syncs. The WAL then grew until the ingest
// connection's own autocheckpoint (wal_autocheckpoint, 256 MiB) ran on the ingest thread, which
// copied what the worker had not, and fsynced the WAL and the database file with everything
// written since the last restart: 60–300 ms with ingest stopped, every 2–3 s at full speed
// (strace; `perf sched`: about a tenth of the ingest thread's time blocked in fsync).
//
// So once the WAL is past RESTART_BYTES, the worker (LogCheckpointer.run):
//  1. syncs the database file itself: a PASSIVE checkpoint syncs it only when it copied every
//     frame, so every page copied since the last restart would wait for the ingest thread's sync;
//  2. copies again, pass after pass, until a pass had less than FINISH_BYTES new to copy;
//  3. tells the ingest thread to finish (finishCheckpoint): its checkpoint copies and syncs the
//     few MB left between two of its own transactions, and its next commit starts the WAL over.
// The ingest connection's autocheckpoint stays as the safety net when the worker is not running.
// Measured with `node bench/ingest.ts`, three alternating pairs at full speed: a batch's 2xx at
// p99 204–245 → 61–66 ms, at most 300–329 → 96–110 ms; 158–171 → 165–190 k records/s.
import { fdatasyncSync, openSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { BUSY_TIMEOUT_MS, pageSize } from './database.ts';

/** WAL size at which the worker starts the work that lets the WAL start over. */
const RESTART_BYTES = 64 * 2 ** 20;
/** New WAL bytes per pass below which the ingest thread's checkpoint is cheap. */
const FINISH_BYTES = 4 * 2 ** 20;
/** Passes after the database sync; more mean ingest outruns the copying, and a later run tries again. */
const MAX_PASSES = 4;

/**
 * The one checkpoint both sides run. `main.`: on the ingest connection, which has the search index
 * attached (fts-indexer.ts), a bare wal_checkpoint would checkpoint that database too.
 */
const PASSIVE_CHECKPOINT = 'PRAGMA main.wal_checkpoint(PASSIVE)';

/** A row of PRAGMA wal_checkpoint: busy 1 when another checkpoint ran; log = WAL frames when it began. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/** The worker's side: its own connection to the log database, used only for checkpoints. */
export class LogCheckpointer {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #pass: StatementSync;
  readonly #restartFrames: number;
  readonly #finishFrames: number;
  readonly #beforePass: (() => void) | undefined;
  /**
   * A descriptor of the database file, to fdatasync it; opened at the first sync and never
   * closed: closing any descriptor of a file releases every POSIX lock the process holds on it,
   * the SQLite connections' included
   * (https://www.sqlite.org/howtocorrupt.html#_posix_advisory_locks_canceled_by_a_separate_thread_doing_close_).
   * null: it could not be opened.
   */
  #syncFd: number | null | undefined;

  /**
   * `limits` are RESTART_BYTES and FINISH_BYTES unless given (tests); `beforePass` runs before each
   * copying pass after the database sync (tests: ingest arriving meanwhile, deterministically).
   */
  constructor(logDbPath: string, limits: { restartBytes: number; finishBytes: number; beforePass?: () => void } = { restartBytes: RESTART_BYTES, finishBytes: FINISH_BYTES }) {
    this.#path = logDbPath;
    this.#db = new DatabaseSync(logDbPath, { timeout: BUSY_TIMEOUT_MS });
    this.#pass = this.#db.prepare(PASSIVE_CHECKPOINT);
    const frameBytes = pageSize(this.#db);
    this.#restartFrames = limits.restartBytes / frameBytes;
    this.#finishFrames = limits.finishBytes / frameBytes;
    this.#beforePass = limits.beforePass;
  }

  /** Copies the WAL into the database; true when the ingest thread should finish (finishCheckpoint). */
  run(): boolean {
    let result = this.#passOnce();
    if (result.busy !== 0 || result.log < this.#restartFrames) return false;
    this.#syncDatabaseFile();
    for (let i = 0; i < MAX_PASSES; i++) {
      const before = result.log;
      this.#beforePass?.();
      result = this.#passOnce();
      if (result.busy !== 0) return false;
      if (result.log - before <= this.#finishFrames) return true;
    }
    return false;
  }

  close(): void {
    this.#db.close();
  }

  #passOnce(): CheckpointResult {
    return this.#pass.get() as unknown as CheckpointResult;
  }

  /** Only spares the ingest thread's checkpoint a long sync: SQLite still syncs before the WAL starts over. */
  #syncDatabaseFile(): void {
    try {
      this.#syncFd ??= openSync(this.#path, 'r');
      if (this.#syncFd !== null) fdatasyncSync(this.#syncFd);
    } catch {
      // e.g. a read-only handle on Windows: the ingest thread's checkpoint syncs instead.
      this.#syncFd ??= null;
    }
  }
}

/**
 * The ingest thread's side, between its transactions (node:sqlite is synchronous, so a message
 * handler never runs inside one): copies the frames the worker has not and, when that is all of
 * them, lets the next commit start the WAL over. Returns SQLite's result row.
 */
export function finishCheckpoint(db: DatabaseSync): CheckpointResult {
  return db.prepare(PASSIVE_CHECKPOINT).get() as unknown as CheckpointResult;
}
