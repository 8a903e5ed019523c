import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DatabaseSync } from 'node:sqlite';
import { createFtsTables, removeOutdatedIndex } from './fts-schema.ts';
import type { IndexBatch, IndexText } from './index-queue.ts';
import { finishCheckpoint } from './log-checkpoint.ts';

/**
 * What the worker (fts-worker.ts) posts: its indexing progress, a checkpoint to finish here, or a
 * failed step (retried there; `error: null` when its steps succeed again after failures).
 */
export type WorkerMessage = { indexedId: number } | { finishCheckpoint: true } | { error: string | null };

/** Most records offered to the indexer ahead of what it has indexed (about 20 MB of messages). */
const OFFER_AHEAD = 200_000;

export interface SearchIndexOptions {
  /** store.search.enabled: false runs the worker for WAL checkpoints only (no index database). */
  enabled: boolean;
  intervalMs: number;
  batch: number;
}

/**
 * Runs the full-text indexer in a worker thread (which also checkpoints the log's WAL, finished
 * here on the log connection when the WAL should start over: log-checkpoint.ts) and
 * attaches its database to the log connection (as schema `fts`) so queries can use `log_chunks`.
 * The index trails ingest by about one `intervalMs`; `health()` reports how many log rows are
 * not indexed yet.
 */
export class FtsIndexer {
  readonly #enabled: boolean;
  readonly #db: DatabaseSync;
  readonly #dataDir: string;
  readonly #intervalMs: number;
  readonly #batch: number;
  #worker: Worker | undefined;
  #indexedId = 0;
  #lastError: string | undefined;
  /** The worker's steps fail (lastError) since this time (epoch ms); undefined while they succeed. */
  #failingSince: number | undefined;
  /** The index of an earlier version was removed at start-up and is being rebuilt from the log. */
  readonly rebuilding: boolean;

  constructor(db: DatabaseSync, dataDir: string, options: SearchIndexOptions) {
    this.#db = db;
    this.#enabled = options.enabled;
    this.#dataDir = dataDir;
    this.#intervalMs = options.intervalMs;
    this.#batch = options.batch;
    this.rebuilding = false;
    if (!this.#enabled) return;
    const ftsPath = join(dataDir, 'periscope-fts.db');
    this.rebuilding = removeOutdatedIndex(ftsPath);
    // ATTACH creates the index database file; createFtsTables then creates its tables, so
    // `fts.log_chunks` resolves for `q=` queries from here on.
    db.exec(`ATTACH DATABASE '${ftsPath.replaceAll("'", "''")}' AS fts`);
    createFtsTables(db, 'fts');
  }

  start(): void {
    if (this.#worker) return;
    const worker = new Worker(new URL('./fts-worker.ts', import.meta.url), {
      workerData: {
        logDbPath: join(this.#dataDir, 'periscope.db'),
        ftsDbPath: join(this.#dataDir, 'periscope-fts.db'),
        index: this.#enabled,
        intervalMs: this.#intervalMs,
        batch: this.#batch,
      },
    });
    worker.on('message', (msg: WorkerMessage) => {
      if ('indexedId' in msg) this.#indexedId = msg.indexedId;
      else if ('error' in msg) this.#noteStep(msg.error);
      else if (this.#worker === worker) this.#finishCheckpoint(); // not once shutdown began: the log may be closing
    });
    worker.on('error', (err) => {
      this.#lastError = (err as Error).message;
    });
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined;
    });
    this.#worker = worker;
  }

  #noteStep(error: string | null): void {
    if (error === null) {
      this.#failingSince = undefined;
      return;
    }
    this.#lastError = error;
    this.#failingSince ??= Date.now();
  }

  /** A failure is reported in health(); the worker's next checkpoints and the autocheckpoint go on. */
  #finishCheckpoint(): void {
    try {
      finishCheckpoint(this.#db);
    } catch (err) {
      this.#lastError = `checkpoint: ${(err as Error).message}`;
    }
  }

  /**
   * Hands the index text of a committed batch (ids firstId …) to the indexer so it need not read
   * it back from the log. Skipped while the indexer is more than OFFER_AHEAD records behind (it
   * then reads the log): the text waiting in the worker stays bounded.
   */
  offer(firstId: number, text: IndexText): void {
    const worker = this.#worker;
    if (!worker || !this.#enabled || text.msgEnds.length === 0) return;
    if (firstId - this.#indexedId > OFFER_AHEAD) return;
    worker.postMessage({ firstId, text } satisfies IndexBatch);
  }

  indexedId(): number {
    return this.#indexedId;
  }

  /** Lag 0 when the index is off: nothing is waiting for it. */
  lag(lastId: number): number {
    return this.#enabled ? Math.max(0, lastId - this.#indexedId) : 0;
  }

  /**
   * `down` when the worker thread is gone, `degraded` while its steps fail (it retries them; since
   * when in `failingSince`), else `up`. `lastError` stays after a recovery.
   */
  health(lastId: number): { status: 'up' | 'degraded' | 'down'; enabled: boolean; indexedId?: number; lag?: number; lastError?: string; failingSince?: string } {
    const status = !this.#worker ? 'down' : this.#failingSince !== undefined ? 'degraded' : 'up';
    const errors = {
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#failingSince !== undefined ? { failingSince: new Date(this.#failingSince).toISOString() } : {}),
    };
    if (!this.#enabled) return { status, enabled: false, ...errors };
    return {
      status,
      enabled: true,
      indexedId: this.#indexedId,
      lag: this.lag(lastId),
      ...errors,
    };
  }

  /**
   * Asks the worker to finish its batch, commit and stop; terminates it when it has not exited
   * within 5 s. Says which happened ('stopped' when no worker was running).
   */
  async shutdown(): Promise<'stopped' | 'terminated'> {
    const worker = this.#worker;
    if (!worker) return 'stopped';
    this.#worker = undefined;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('stop');
    let terminated = false;
    const timer = setTimeout(() => {
      terminated = true;
      void worker.terminate();
    }, 5000);
    await exited;
    clearTimeout(timer);
    return terminated ? 'terminated' : 'stopped';
  }
}
