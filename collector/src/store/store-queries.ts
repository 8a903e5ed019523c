import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ERR, PeriscopeError } from '../errors.ts';
import type { LogFilter } from './log-filter.ts';
import type { LetterPageQuery } from '../exporters/dead-letter-page.ts';
import type { TraceQuery, TraceSearchResult } from '../traces/trace-search.ts';
import { parsedPage, type BodyPage, type LogPage, type StatsBucket } from './log-reader.ts';
import { timerDelay } from '../timer-delay.ts';

/** What the query thread opens: the log database, and the search index when it is on. */
export interface QueryThreadData {
  logDbPath: string;
  ftsDbPath?: string;
}

type QueryOp =
  | { op: 'page'; filter: LogFilter; limit: number; cursor?: string }
  | { op: 'stats'; filter: LogFilter; intervalMicros: number }
  | { op: 'count'; filter: LogFilter }
  | { op: 'traces'; query: TraceQuery }
  | { op: 'trace'; traceId: string }
  | { op: 'deadletters'; query: LetterPageQuery };

export type QueryRequest = QueryOp & { id: number };

export interface QueryReply {
  /** Sent once, when the thread has opened the store and takes queries. */
  ready?: true;
  id?: number;
  result?: BodyPage | StatsBucket[] | number | TraceSearchResult | Uint8Array | null;
  /** A PeriscopeError keeps its code and status; any other error is a message (a 500). */
  error?: { message: string; code?: string; statusCode?: number; details?: unknown };
}

/** A query sent to a thread: what to send again should that thread be replaced. */
interface Pending {
  request: QueryRequest;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

/** A query thread and the queries sent to it, oldest (the one it is running) first. */
interface QueryThread {
  worker: Worker;
  waiting: Map<number, Pending>;
  failure: string;
  /** The thread has loaded and opened the store: queries are timed from then on. */
  ready: boolean;
}

/** How long close() lets a running query finish before the thread is terminated. */
const CLOSE_WAIT_MS = 5000;

/**
 * The log queries, trace searches, trace reads and dead-letter pages of the API, and the counts of log alert rules, answered by
 * up to `threads` query threads (query-thread.ts), each in the order its queries were sent. A
 * query goes to an idle thread; when none is idle, to a new one while there are fewer than
 * `threads`, else to the thread with the fewest waiting. So a short query does not wait for a
 * long one (a stats over weeks, an export page of a broad filter) unless every thread is busy.
 * start() starts the first thread (loading one takes a moment: the first query should not wait for
 * it); the others start when needed. A query starts one again after it died: the queries waiting
 * on a dead thread fail with 503 (come back later), the next starts anew.
 *
 * A query that runs longer than `timeoutMs` (store.queryTimeout) fails with 503 QUERY_TIMEOUT and
 * its thread is terminated (SQLite has no way to cancel a statement from node:sqlite; a query
 * stops at its next JavaScript call, which a log query makes every few hundred records:
 * log-reader.ts RUNNING_CHECK); the queries queued behind it are sent again. Without this, one query over a large
 * range held up every query behind it, log alert rules included, for as long as it ran.
 */
export class StoreQueries {
  /** Whether q= and traceId= use the search index (store.search.enabled) or read the records. */
  readonly searchIndex: boolean;
  readonly #data: QueryThreadData;
  readonly #timeoutMs: number;
  readonly #maxThreads: number;
  readonly #threads: QueryThread[] = [];
  #nextId = 0;
  #closed = false;

  constructor(dataDir: string, options: { searchIndex: boolean; timeoutMs: number; threads?: number }) {
    this.searchIndex = options.searchIndex;
    this.#timeoutMs = options.timeoutMs;
    this.#maxThreads = Math.max(1, options.threads ?? 1);
    this.#data = {
      logDbPath: join(dataDir, 'periscope.db'),
      ...(options.searchIndex ? { ftsDbPath: join(dataDir, 'periscope-fts.db') } : {}),
    };
  }

  start(): void {
    if (this.#threads.length === 0 && !this.#closed) this.#start();
  }

  /** Newest first, keyset-paginated: the stored JSON bodies. `signal`: see #ask. */
  page(filter: LogFilter, limit: number, cursor?: string, signal?: AbortSignal): Promise<BodyPage> {
    return this.#ask({ op: 'page', filter, limit, ...(cursor ? { cursor } : {}) }, signal) as Promise<BodyPage>;
  }

  /** Newest first, keyset-paginated: the records. */
  async query(filter: LogFilter, limit: number, cursor?: string): Promise<LogPage> {
    return parsedPage(await this.page(filter, limit, cursor));
  }

  /** Every matching body, newest first, a page at a time: memory stays constant whatever the result size. */
  async *bodies(filter: LogFilter, pageSize = 1000, signal?: AbortSignal): AsyncGenerator<string[]> {
    let cursor: string | undefined;
    do {
      const page = await this.page(filter, pageSize, cursor, signal);
      if (page.bodies.length > 0) yield page.bodies;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Counts per time bucket, service and severity. */
  stats(filter: LogFilter, intervalMicros: number, signal?: AbortSignal): Promise<StatsBucket[]> {
    return this.#ask({ op: 'stats', filter, intervalMicros }, signal) as Promise<StatsBucket[]>;
  }

  /** Number of records matching the filter (log alert rules). */
  countMatching(filter: LogFilter): Promise<number> {
    return this.#ask({ op: 'count', filter }) as Promise<number>;
  }

  /** Traces with a span matching the query, most recent first (traces/trace-search.ts). */
  searchTraces(query: TraceQuery, signal?: AbortSignal): Promise<TraceSearchResult> {
    return this.#ask({ op: 'traces', query }, signal) as Promise<TraceSearchResult>;
  }

  /** GET /api/v1/traces/:traceId's answer as JSON in UTF-8 (traces/trace-answer.ts), or null when the trace has no span stored. */
  trace(traceId: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    return this.#ask({ op: 'trace', traceId }, signal) as Promise<Uint8Array | null>;
  }

  /** A page of GET /api/v1/deadletter as JSON in UTF-8 (exporters/dead-letter-page.ts). */
  deadLetters(query: LetterPageQuery): Promise<Uint8Array> {
    return this.#ask({ op: 'deadletters', query }) as Promise<Uint8Array>;
  }

  /** Lets the running queries finish (up to CLOSE_WAIT_MS), then stops the threads. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#threads.map(async (thread) => {
      const exited = new Promise((resolve) => thread.worker.once('exit', resolve));
      thread.worker.postMessage('stop');
      const timer = setTimeout(() => void thread.worker.terminate(), CLOSE_WAIT_MS);
      await exited;
      clearTimeout(timer);
    }));
  }

  /**
   * `signal` is aborted when nobody waits for the answer any more (the HTTP client went away):
   * a query still queued is dropped, a running one stopped as at its timeout, so the queries
   * behind it need not wait for it. Loki and Prometheus cancel a query whose client is gone
   * likewise; before, each search the console left (a filter edited, a page closed) ran on to
   * its end or its timeout, and two of them held every other query for up to store.queryTimeout.
   */
  #ask(op: QueryOp, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) return Promise.reject(unavailable('the collector is shutting down'));
    if (signal?.aborted) return Promise.reject(cancelled());
    return new Promise((resolve, reject) => {
      const pending: Pending = { request: { ...op, id: this.#nextId++ }, resolve, reject };
      if (signal) {
        const onAbort = () => this.#cancel(pending);
        signal.addEventListener('abort', onAbort, { once: true });
        pending.resolve = (value) => { signal.removeEventListener('abort', onAbort); resolve(value); };
        pending.reject = (err) => { signal.removeEventListener('abort', onAbort); reject(err); };
      }
      this.#send(pending);
    });
  }

  /**
   * A thread is sent only the query it runs (the oldest of its waiting); the next when it
   * answers. So a query still queued can be dropped without the thread ever seeing it.
   */
  #send(pending: Pending): void {
    const thread = this.#pick();
    thread.waiting.set(pending.request.id, pending);
    if (thread.waiting.size === 1) thread.worker.postMessage(pending.request);
    this.#timeHead(thread);
  }

  /** Sends a thread the query now at the head of its waiting, if any; after close(), fails them instead. */
  #runNext(thread: QueryThread): void {
    if (this.#closed) {
      for (const p of thread.waiting.values()) p.reject(unavailable('the collector is shutting down'));
      thread.waiting.clear();
      return;
    }
    const head = thread.waiting.values().next().value;
    if (head) thread.worker.postMessage(head.request);
    this.#timeHead(thread);
  }

  #cancel(pending: Pending): void {
    const thread = this.#threads.find((t) => t.waiting.has(pending.request.id));
    if (!thread) return; // answered already
    if (thread.waiting.values().next().value === pending) {
      this.#stopRunning(thread, pending, cancelled());
      return;
    }
    thread.waiting.delete(pending.request.id);
    pending.reject(cancelled());
  }

  /** An idle thread; else a new one while there are fewer than the bound; else the one with the fewest queries waiting. */
  #pick(): QueryThread {
    let least: QueryThread | undefined;
    for (const t of this.#threads) if (!least || t.waiting.size < least.waiting.size) least = t;
    if (least?.waiting.size === 0) return least;
    if (!least || this.#threads.length < this.#maxThreads) return this.#start();
    return least;
  }

  #forget(thread: QueryThread): void {
    const i = this.#threads.indexOf(thread);
    if (i >= 0) this.#threads.splice(i, 1);
  }

  /** The thread answers in order: the oldest query waiting is the one running, timed from when it began. */
  #timeHead(thread: QueryThread): void {
    const head = thread.waiting.values().next().value;
    if (!thread.ready || !head || head.timer) return;
    head.timer = setTimeout(() => this.#timedOut(thread, head), timerDelay(this.#timeoutMs));
  }

  #timedOut(thread: QueryThread, pending: Pending): void {
    this.#stopRunning(thread, pending, new PeriscopeError(
      ERR.QUERY_TIMEOUT,
      `the query ran longer than store.queryTimeout (${this.#timeoutMs} ms) and was stopped; narrow its time range (start, end) or add a service or other filter`,
      503,
      { timeoutMs: this.#timeoutMs },
    ));
  }

  /** Fails the query `thread` runs with `error`, stops the thread and sends its other queries to another. */
  #stopRunning(thread: QueryThread, pending: Pending, error: PeriscopeError): void {
    thread.waiting.delete(pending.request.id);
    clearTimeout(pending.timer);
    pending.reject(error);
    // The rest go to a new thread; this one is terminated and forgotten (its exit rejects nothing).
    const rest = [...thread.waiting.values()];
    thread.waiting.clear();
    this.#forget(thread);
    void thread.worker.terminate();
    for (const p of rest) {
      if (this.#closed) p.reject(unavailable('the collector is shutting down'));
      else this.#send(p);
    }
  }

  #start(): QueryThread {
    const worker = new Worker(new URL('./query-thread.ts', import.meta.url), { workerData: this.#data });
    // Never what keeps the process alive: close() stops it at shutdown.
    worker.unref();
    const thread: QueryThread = { worker, waiting: new Map(), failure: 'it exited', ready: false };
    worker.on('message', (reply: QueryReply) => {
      if (reply.ready) {
        thread.ready = true;
        this.#timeHead(thread);
        return;
      }
      const pending = thread.waiting.get(reply.id!);
      if (!pending) return;
      thread.waiting.delete(reply.id!);
      clearTimeout(pending.timer);
      this.#runNext(thread);
      if (reply.error === undefined) pending.resolve(reply.result);
      else if (reply.error.code !== undefined) pending.reject(new PeriscopeError(reply.error.code, reply.error.message, reply.error.statusCode, reply.error.details));
      else pending.reject(new Error(reply.error.message));
    });
    worker.on('error', (err: Error) => {
      thread.failure = err.message;
    });
    worker.on('exit', () => {
      this.#forget(thread);
      const waiting = [...thread.waiting.values()];
      thread.waiting.clear();
      for (const p of waiting) {
        clearTimeout(p.timer);
        p.reject(unavailable(`the query thread stopped (${thread.failure})`));
      }
    });
    this.#threads.push(thread);
    return thread;
  }
}

/** The answer to a query whose client went away: nobody reads it, and it is not a server error to log. */
function cancelled(): PeriscopeError {
  return new PeriscopeError(ERR.QUERY_CANCELLED, 'the query was cancelled: its client went away', 499, null);
}

function unavailable(reason: string): PeriscopeError {
  return new PeriscopeError(ERR.STORE_UNAVAILABLE, `queries are unavailable: ${reason}; try again`, 503, null, 1);
}
