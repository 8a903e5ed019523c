import { schedule, type ScheduledTask } from 'node-cron';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { failedAgain, type FailureStreak } from '../errors.ts';
import { pageSize } from './database.ts';
import { wallStep, type ClockReading } from '../../../alerting/src/clock.ts';

export interface RetentionPolicy {
  maxAgeMs: number;
  maxBytes: number;
  schedule: string;
  /**
   * Other tables with the logs table's `id` and `ts` (epoch µs) columns, e.g. spans, each with
   * its own age limit. They share `maxBytes` with the logs: while over it, the table holding the
   * oldest row loses its oldest rows first.
   */
  tables?: Array<{ table: string; maxAgeMs: number }>;
  /** Told how many rows each delete removed (stores keep their row counts without count(*)). */
  onDeleted?: (table: string, rows: number) => void;
}

/**
 * Exporters' hook: records with id >= protectedFromId() are still needed (an exporter with the
 * back-pressure policy has not delivered them) and are never deleted; beforeDelete(ids) is told
 * what is about to go, so exporters with the drop policy count unsent records as dropped.
 */
export interface RetentionGuard {
  protectedFromId(): number;
  beforeDelete(ids: number[]): void;
}

export interface RetentionRun {
  deletedByAge: number;
  deletedBySize: number;
}

const CHUNK = 5000;
/** How often start() looks for a step of the wall clock back (node-cron plans by it). */
const CLOCK_CHECK_MS = 10_000;
/** Fewest rows the size rule deletes per step: freeing single rows frees no page. */
const MIN_SIZE_CHUNK = 50;

/**
 * Deletes records older than maxAge, then the oldest records while the live data is over
 * maxBytes. Works in small transactions and yields to the event loop between them, so ingest
 * is never blocked for more than one chunk.
 * With a guard (setGuard), records the guard protects are kept by both rules.
 *
 * The newest row of each table is never deleted: ids are positions that exporters, the search
 * indexer and API cursors remember, and SQLite gives a new row max(id) + 1
 * (https://sqlite.org/autoinc.html), so deleting the newest row would hand its position, and
 * those before it, to the next records, which every cursor already past them would skip.
 */
export class Retention {
  readonly #db: DatabaseSync;
  readonly #policy: RetentionPolicy;
  readonly #now: () => number;
  #task: ScheduledTask | undefined;
  #clockCheck: ReturnType<typeof setInterval> | undefined;
  readonly #clockCheckMs: number;
  #running: Promise<RetentionRun> | undefined;
  #guard: RetentionGuard | undefined;
  lastRun: (RetentionRun & { at: string }) | undefined;
  /** While scheduled runs fail: the last error and since when (health fields); null after a run that completes. */
  failure: FailureStreak | null = null;
  totalDeleted = { age: 0, size: 0 };
  /** Rows deleted from `policy.tables`, by table and rule. */
  readonly tableDeleted: Record<string, { age: number; size: number }> = {};

  constructor(db: DatabaseSync, policy: RetentionPolicy, now: () => number = Date.now, options: { clockCheckMs?: number } = {}) {
    this.#db = db;
    this.#policy = policy;
    this.#now = now;
    this.#clockCheckMs = options.clockCheckMs ?? CLOCK_CHECK_MS;
  }

  setGuard(guard: RetentionGuard | undefined): void {
    this.#guard = guard;
  }

  start(): void {
    if (this.#task) return;
    this.#task = schedule(this.#policy.schedule, () => {
      // A failed run (disk full, I/O error) is shown in /health/detailed; the next one retries.
      void this.run().catch((err: unknown) => {
        this.failure = failedAgain(this.failure, err, this.#now());
      });
    }, { noOverlap: true });
    // node-cron waits for its next slot by the wall clock: after a step of it back (NTP, a VM
    // resumed, `date -s`) it waited as long as the step — an hour back, no retention for an hour
    // while records kept arriving past maxBytes. At such a step its plan is made again, from now.
    const reading: ClockReading = {};
    wallStep(reading, Date.now(), performance.now());
    this.#clockCheck = setInterval(() => {
      if (wallStep(reading, Date.now(), performance.now()) >= 0) return;
      this.#task?.stop();
      this.#task?.start();
    }, this.#clockCheckMs);
    this.#clockCheck.unref();
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
    const pages = (this.#db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    const free = (this.#db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
    return (pages - free) * pageSize(this.#db);
  }

  async #runOnce(): Promise<RetentionRun> {
    const cutoffMicros = (this.#now() - this.#policy.maxAgeMs) * 1000;
    const newestLog = this.#newestId('logs');
    const byAgeIds = this.#db.prepare('SELECT id FROM logs WHERE ts < ? AND id < ? LIMIT ?');
    const oldestIds = this.#db.prepare('SELECT id FROM logs WHERE id < ? ORDER BY ts, id LIMIT ?');
    const idSpan = this.#db.prepare('SELECT max(id) - min(id) + 1 AS n FROM logs');
    const delStmt = this.#db.prepare('DELETE FROM logs WHERE id IN (SELECT value FROM json_each(?))');
    // Re-read before each chunk: exporters move on while retention runs.
    const limitId = () => Math.min(this.#guard?.protectedFromId() ?? Number.MAX_SAFE_INTEGER, newestLog);
    const del = (ids: number[]) => {
      this.#guard?.beforeDelete(ids);
      this.#deleted('logs', delStmt.run(JSON.stringify(ids)).changes);
    };
    let deletedByAge = 0;
    for (;;) {
      const ids = (byAgeIds.all(cutoffMicros, limitId(), CHUNK) as Array<{ id: number }>).map((r) => r.id);
      if (ids.length === 0) break;
      del(ids);
      deletedByAge += ids.length;
      await yieldToLoop();
    }
    await this.#expireTables();
    let deletedBySize = 0;
    for (let live = this.liveBytes(); live > this.#policy.maxBytes; live = this.liveBytes()) {
      if (this.#trimOlderTable()) {
        await yieldToLoop();
        continue;
      }
      const ids = (oldestIds.all(limitId(), this.#sizeChunk(live, idSpan)) as Array<{ id: number }>).map((r) => r.id);
      if (ids.length === 0) break;
      del(ids);
      deletedBySize += ids.length;
      await yieldToLoop();
    }
    if (deletedByAge + deletedBySize > 0) this.#db.exec('PRAGMA incremental_vacuum');
    this.totalDeleted.age += deletedByAge;
    this.totalDeleted.size += deletedBySize;
    this.lastRun = { at: new Date(this.#now()).toISOString(), deletedByAge, deletedBySize };
    this.failure = null;
    return { deletedByAge, deletedBySize };
  }

  /**
   * Rows to delete next for the size rule: the excess over maxBytes in rows of the average size
   * (live bytes over the log's id span, an over-estimate while other tables hold bytes, so it
   * deletes too few rather than too many and the loop takes another step). A fixed CHUNK emptied
   * a store whose bound is a few thousand rows in one step.
   */
  #sizeChunk(live: number, idSpan: StatementSync): number {
    const { n } = idSpan.get() as { n: number | null };
    if (!n) return CHUNK;
    const rows = Math.ceil((live - this.#policy.maxBytes) / (live / n));
    return Math.max(MIN_SIZE_CHUNK, Math.min(CHUNK, rows));
  }

  /** Age rule for `policy.tables`. */
  async #expireTables(): Promise<void> {
    let deleted = 0;
    for (const { table, maxAgeMs } of this.#policy.tables ?? []) {
      const counts = (this.tableDeleted[table] ??= { age: 0, size: 0 });
      const select = this.#db.prepare(`SELECT id FROM ${table} WHERE ts < ? AND id < ? LIMIT ?`);
      const del = this.#db.prepare(`DELETE FROM ${table} WHERE id IN (SELECT value FROM json_each(?))`);
      const newest = this.#newestId(table);
      for (;;) {
        const ids = (select.all((this.#now() - maxAgeMs) * 1000, newest, CHUNK) as Array<{ id: number }>).map((r) => r.id);
        if (ids.length === 0) break;
        this.#deleted(table, del.run(JSON.stringify(ids)).changes);
        counts.age += ids.length;
        deleted += ids.length;
        await yieldToLoop();
      }
    }
    if (deleted > 0) this.#db.exec('PRAGMA incremental_vacuum');
  }

  /** Size rule for `policy.tables`: when one holds a deletable row older than every log, its oldest chunk goes. */
  #trimOlderTable(): boolean {
    const tables = this.#policy.tables ?? [];
    if (tables.length === 0) return false;
    const deletable = (table: string) => `FROM ${table} WHERE id < (SELECT max(id) FROM ${table})`;
    const oldest = (table: string) => (this.#db.prepare(`SELECT min(ts) AS ts ${deletable(table)}`).get() as { ts: number | null }).ts;
    let victim: string | undefined;
    let victimTs = oldest('logs') ?? Number.POSITIVE_INFINITY;
    for (const { table } of tables) {
      const ts = oldest(table);
      if (ts !== null && ts < victimTs) {
        victim = table;
        victimTs = ts;
      }
    }
    if (victim === undefined) return false;
    const ids = (this.#db.prepare(`SELECT id ${deletable(victim)} ORDER BY ts, id LIMIT ?`).all(CHUNK) as Array<{ id: number }>).map((r) => r.id);
    this.#deleted(victim, this.#db.prepare(`DELETE FROM ${victim} WHERE id IN (SELECT value FROM json_each(?))`).run(JSON.stringify(ids)).changes);
    (this.tableDeleted[victim] ??= { age: 0, size: 0 }).size += ids.length;
    return true;
  }

  /** The table's newest id (rows below it may be deleted), or 0 when empty. */
  #newestId(table: string): number {
    return (this.#db.prepare(`SELECT max(id) AS id FROM ${table}`).get() as { id: number | null }).id ?? 0;
  }

  #deleted(table: string, rows: number | bigint): void {
    this.#policy.onDeleted?.(table, Number(rows));
  }

  async shutdown(): Promise<void> {
    this.#task?.stop();
    this.#task = undefined;
    clearInterval(this.#clockCheck);
    await this.#running?.catch(() => {});
  }
}
