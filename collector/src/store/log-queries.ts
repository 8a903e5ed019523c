import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import type { LogFilter } from './log-filter.ts';
import type { BodyPage, LogPage, StatsBucket } from './log-reader.ts';

/** What the query thread opens: the log database, and the search index when it is on. */
export interface QueryThreadData {
  logDbPath: string;
  ftsDbPath?: string;
}

type QueryOp =
  | { op: 'page'; filter: LogFilter; limit: number; cursor?: string }
  | { op: 'stats'; filter: LogFilter; intervalMicros: number }
  | { op: 'count'; filter: LogFilter };

export type QueryRequest = QueryOp & { id: number };

export interface QueryReply {
  id: number;
  result?: BodyPage | StatsBucket[] | number;
  /** A PeriscopeError keeps its code and status; any other error is a message (a 500). */
  error?: { message: string; code?: string; statusCode?: number; details?: unknown };
}

type Waiter = { resolve(value: unknown): void; reject(err: Error): void };

/** How long close() lets a running query finish before the thread is terminated. */
const CLOSE_WAIT_MS = 5000;

/**
 * The log queries of the API and of log alert rules, answered by the query thread
 * (query-thread.ts) in the order they were asked. start() starts the thread (loading it takes a
 * moment: the first query should not wait for it); a query starts it again after it died: the
 * queries waiting then fail with 503 (come back later), the next starts anew.
 */
export class LogQueries {
  /** Whether q= and traceId= use the search index (store.search.enabled) or read the records. */
  readonly searchIndex: boolean;
  readonly #data: QueryThreadData;
  readonly #waiting = new Map<number, Waiter>();
  #worker: Worker | undefined;
  #nextId = 0;
  #closed = false;

  constructor(dataDir: string, options: { searchIndex: boolean }) {
    this.searchIndex = options.searchIndex;
    this.#data = {
      logDbPath: join(dataDir, 'periscope.db'),
      ...(options.searchIndex ? { ftsDbPath: join(dataDir, 'periscope-fts.db') } : {}),
    };
  }

  start(): void {
    if (!this.#worker && !this.#closed) this.#start();
  }

  /** Newest first, keyset-paginated: the stored JSON bodies. */
  page(filter: LogFilter, limit: number, cursor?: string): Promise<BodyPage> {
    return this.#ask({ op: 'page', filter, limit, ...(cursor ? { cursor } : {}) }) as Promise<BodyPage>;
  }

  /** Newest first, keyset-paginated: the records. */
  async query(filter: LogFilter, limit: number, cursor?: string): Promise<LogPage> {
    const { bodies, nextCursor } = await this.page(filter, limit, cursor);
    return { records: bodies.map((b) => JSON.parse(b) as LogRecord), nextCursor };
  }

  /** Every matching body, newest first, a page at a time: memory stays constant whatever the result size. */
  async *bodies(filter: LogFilter, pageSize = 1000): AsyncGenerator<string[]> {
    let cursor: string | undefined;
    do {
      const page = await this.page(filter, pageSize, cursor);
      if (page.bodies.length > 0) yield page.bodies;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Counts per time bucket, service and severity. */
  stats(filter: LogFilter, intervalMicros: number): Promise<StatsBucket[]> {
    return this.#ask({ op: 'stats', filter, intervalMicros }) as Promise<StatsBucket[]>;
  }

  /** Number of records matching the filter (log alert rules). */
  countMatching(filter: LogFilter): Promise<number> {
    return this.#ask({ op: 'count', filter }) as Promise<number>;
  }

  /** Lets the running query finish (up to CLOSE_WAIT_MS), then stops the thread. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('stop');
    const timer = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
    await exited;
    clearTimeout(timer);
  }

  #ask(request: QueryOp): Promise<unknown> {
    if (this.#closed) return Promise.reject(unavailable('the collector is shutting down'));
    const id = this.#nextId++;
    const worker = this.#worker ?? this.#start();
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } satisfies QueryRequest);
    });
  }

  #start(): Worker {
    const worker = new Worker(new URL('./query-thread.ts', import.meta.url), { workerData: this.#data });
    // Never what keeps the process alive: close() stops it at shutdown.
    worker.unref();
    let failure = 'it exited';
    worker.on('message', (reply: QueryReply) => {
      const waiter = this.#waiting.get(reply.id);
      if (!waiter) return;
      this.#waiting.delete(reply.id);
      if (reply.error === undefined) waiter.resolve(reply.result);
      else if (reply.error.code !== undefined) waiter.reject(new PeriscopeError(reply.error.code, reply.error.message, reply.error.statusCode, reply.error.details));
      else waiter.reject(new Error(reply.error.message));
    });
    worker.on('error', (err: Error) => {
      failure = err.message;
    });
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined;
      const waiters = [...this.#waiting.values()];
      this.#waiting.clear();
      for (const w of waiters) w.reject(unavailable(`the query thread stopped (${failure})`));
    });
    this.#worker = worker;
    return worker;
  }
}

function unavailable(reason: string): PeriscopeError {
  return new PeriscopeError(ERR.STORE_UNAVAILABLE, `log queries are unavailable: ${reason}; try again`, 503, null, 1);
}
