// Delivery of the durable log to one backend (DESIGN.md principle 2: every destination progresses
// on its own). Contract:
//  - The exporter's cursor (KeyValue `exporter:<name>:cursor`) is the highest log position such
//    that every record at or below it is resolved: delivered, dead-lettered, or dropped and
//    counted. It only moves forward, in order, and is persisted each time it moves, so after a
//    crash (kill -9) delivery resumes at the cursor: at-least-once, made idempotent by the sinks
//    (Elasticsearch deterministic _id + 409, Loki's dedup of identical timestamp+line).
//  - Up to `concurrency` batches are in flight; each is retried (only its failing items) until
//    resolved, behind the shared retry helper and the exporter's circuit breaker
//    (batch-resolver.ts, shared with the traces export).
//  - The backlog (records after the cursor) is bounded by records, estimated bytes and age; at
//    the bound the policy applies: `backpressure` (ingest answers 429, retention keeps what this
//    exporter needs) or `drop` (skip records lowest severity first; every skip is counted).
//  - Batches are read back from SQLite, also while caught up (the rows are then in its page
//    cache): holding the newest records in memory for the next batch cost more than reading them
//    again, since records kept for a batch wait (batch.wait) outlive young-generation GCs and are
//    copied to the old generation. Measured with a memory tail (removed): Loki at full speed fell
//    behind ingest, 89–92 % delivered, against 100 % (and lower GC time) reading back; at a steady
//    25 k records/s 17.8 against 15.1 µs of collector CPU per record.
//  - With `encodeThreads` > 0 (and a sink that can be rebuilt in a worker), each batch's parse,
//    check and encode run in the exporter's encode pool; this thread reads, sends and keeps score,
//    and (policy backpressure) does not hold the batch's bodies while it is out (#release).

import { timerDelay } from '../timer-delay.ts';
import { runRestartingAfterErrors } from './restart-loop.ts';
import type { IngestedBatch, Ingest } from '../ingest/ingest.ts';
import type { KeyValue } from '../store/database.ts';
import { SavedCursor } from './saved-cursor.ts';
import type { LogStore } from '../store/log-store.ts';
import type { AcceptTimes } from './accept-times.ts';
import { BackendStatus, type DependencyHealth } from './backend-status.ts';
import { RefusedPreparation } from './refused-preparation.ts';
import { BatchResolver } from './batch-resolver.ts';
import { CircuitBreaker, type CircuitBreakerPolicy } from './circuit-breaker.ts';
import { DeadLetterBounds } from './dead-letter-bounds.ts';
import { elapsedNow } from './elapsed.ts';
import { completeReplay, fileDeadLetters, replayFailure, type DeadLetter, type DeadLetterStore, type LogLetter, type ReplayOutcome } from './dead-letter.ts';
import type { ExporterGauges, ExporterMetrics } from './metrics.ts';
import type { ExportResult } from './result.ts';
import { Retrier, RetryBudget, sleep as defaultSleep, type RetryBudgetPolicy, type RetryPolicy, type Sleep } from './retry.ts';
import { EncodePool } from './encode-pool.ts';
import { cutForLog } from '../log/cut.ts';
import { StoredItem, type EncodedBody, type LogItem, type LogSink, type Logger } from './sink.ts';

export type OverflowPolicy = 'backpressure' | 'drop';

export interface DeliveryOptions {
  name: string;
  batch: { maxRecords: number; maxBytes: number; waitMs: number };
  concurrency: number;
  /** Worker threads encoding this exporter's batches; 0 encodes on the ingest thread. */
  encodeThreads: number;
  queue: { maxRecords: number; maxBytes: number; maxAgeMs: number; policy: OverflowPolicy };
  retry: RetryPolicy;
  budget: RetryBudgetPolicy;
  breaker: CircuitBreakerPolicy;
  /** Dead letters kept: a count, or a count and the bytes of their bodies (deadLetter.maxRecords, maxBytes). */
  deadLetterMax: number | { records: number; bytes: number };
  shutdownTimeoutMs: number;
  startFrom: 'end' | 'beginning';
}

export interface DeliveryDeps {
  store: LogStore;
  kv: KeyValue;
  ingest: Ingest;
  deadLetters: DeadLetterStore;
  acceptTimes: AcceptTimes;
  metrics: ExporterMetrics;
  logger: Logger;
  /**
   * The clock of waits and ages, as acceptTimes' (default elapsedNow: never steps with the wall
   * clock); when given, also the time of health and dead letters (tests run all on one clock).
   */
  now?: () => number;
  sleep?: Sleep;
  /** Period of the bound check (drop rule, size sampling). */
  checkIntervalMs?: number;
}

/** Why ingest must refuse records now (policy backpressure, backlog at its bound). */
export interface Overload {
  exporter: string;
  bound: 'records' | 'bytes' | 'age';
  retryAfterSeconds: number;
}

export type { DependencyHealth } from './backend-status.ts';

export type { ReplayOutcome } from './dead-letter.ts';

/** Records at or below `uptoId` with severity >= `minSeverity` are skipped (policy drop). */
interface DropRule {
  uptoId: number;
  minSeverity: number;
}

interface Flight {
  lastId: number;
  /** Records sent in this flight: what leaves the backlog on commit (skipped ones left it when read). */
  rows: number;
  /** Policy drop: those records by severity. */
  severities: number[] | undefined;
  /**
   * Records skipped when this flight was read (policy drop: over the bound, older than max age),
   * counted as dropped when the cursor passes them (#commit). Counted when skipped, they were
   * counted again by the next start (or loop restart), which reads them again from the cursor.
   */
  skipped: { overflow: number; aged: number };
  done: boolean;
  ok: boolean;
}

const DROP_TARGET = 0.9;

export class Delivery {
  readonly name: string;
  readonly sink: LogSink;
  readonly breaker: CircuitBreaker;
  readonly #o: DeliveryOptions;
  readonly #d: DeliveryDeps;
  readonly #resolver: BatchResolver;
  readonly #now: () => number;
  /** The time people read: health's lastErrorAt, a dead letter's time. */
  readonly #wallNow: () => number;
  readonly #savedCursor: SavedCursor;
  readonly #dropKey: string;
  readonly #labels: { exporter: string; type: string };

  #started = false;
  #stopped = false;
  #flushing = false;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();
  #unsubscribe: (() => void) | undefined;
  #checkTimer: NodeJS.Timeout | undefined;
  #prepared: Promise<void> | undefined;
  readonly #bounds: DeadLetterBounds;
  /** The sink's preparation (an index template), tried again before each request while refused as the records are. */
  readonly #preparation: RefusedPreparation | undefined;

  #cursor = 0;
  #readId = 0;
  #headId = 0;
  /**
   * Records in (cursor, head] not resolved yet: unread, or in a flight. Records skipped
   * (policy drop, max age) or dead-lettered when read leave it then, before their flight commits.
   */
  #pending = 0;
  #flights: Flight[] = [];
  /** An error a batch's delivery threw (a dead-letter write on a full disk): the loop rethrows it and starts again. */
  #flightError: unknown;
  /** Rows read past the last batch's byte cut (ids > readId), used before reading again. */
  #readAhead: StoredItem[] = [];
  #encoder: EncodePool | undefined;
  #avgBytes = 300;
  #sentRate = 0;
  #sentWindow = { at: 0, count: 0 };

  // policy drop: unread records by severity, those the drop rule covers, and the records of
  // flights not committed yet.
  #unread = new Array<number>(8).fill(0);
  #covered = new Array<number>(8).fill(0);
  #inFlight = new Array<number>(8).fill(0);
  #rule: DropRule | undefined;
  /** Policy drop: the last bound check found the backlog over its bound (the rule is in force). */
  #dropping = false;

  #wakeUp: (() => void) | undefined;
  #idle = false;

  readonly #status: BackendStatus;

  constructor(sink: LogSink, options: DeliveryOptions, deps: DeliveryDeps) {
    this.name = options.name;
    this.sink = sink;
    this.#o = options;
    this.#d = deps;
    this.#now = deps.now ?? elapsedNow;
    this.#wallNow = deps.now ?? Date.now;
    this.#status = new BackendStatus(options.name, deps.logger, this.#wallNow);
    const sleep = deps.sleep ?? defaultSleep;
    this.breaker = new CircuitBreaker(options.breaker, { now: this.#now, sleep });
    const retrier = new Retrier(options.retry, new RetryBudget(options.budget, this.#now), { sleep });
    this.#savedCursor = new SavedCursor(deps.kv, options.name, deps.logger);
    this.#dropKey = `exporter:${options.name}:drop`;
    this.#labels = { exporter: options.name, type: sink.type };
    this.#resolver = new BatchResolver({ breaker: this.breaker, retrier, status: this.#status, metrics: deps.metrics, labels: this.#labels });
    const prepare = sink.prepare?.bind(sink);
    this.#preparation =
      prepare &&
      new RefusedPreparation(prepare, (r, last) => {
        deps.metrics.failedRequests.inc({ ...this.#labels, class: r.status });
        if (last) deps.logger.warn({ exporter: this.name, error: cutForLog(r.error) }, `exporter ${this.name}: preparation failed, sending anyway`);
      });
    this.#status.watch(this.breaker);
    const m = deps.metrics;
    m.sent.inc(this.#labels, 0);
    m.duplicates.inc(this.#labels, 0);
    m.retries.inc(this.#labels, 0);
    for (const c of ['retryable', 'permanent']) m.failedRequests.inc({ ...this.#labels, class: c }, 0);
    for (const reason of ['overflow', 'max_age', 'retention']) m.dropped.inc({ ...this.#labels, reason }, 0);
    this.#bounds = new DeadLetterBounds(deps, this.#labels, options.deadLetterMax, () => this.#stopped);
    this.#bounds.countersAtZero();
  }

  get policy(): OverflowPolicy {
    return this.#o.queue.policy;
  }

  get cursor(): number {
    return this.#cursor;
  }

  /** Loads (or creates) the cursor and starts delivering. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    const { store, kv } = this.#d;
    const lastId = store.lastId();
    const saved = this.#savedCursor.load();
    if (saved === undefined) {
      this.#cursor = this.#o.startFrom === 'end' ? lastId : 0;
      this.#savedCursor.init(this.#cursor);
    } else {
      this.#cursor = Math.min(saved, lastId);
    }
    this.#readId = this.#cursor;
    this.#headId = Math.max(lastId, this.#cursor);
    this.#bounds.start(this.#cursor); // bounds applied by boundDeadLetters, once the collector listens
    const rule = kv.get(this.#dropKey);
    this.#rule = rule ? (JSON.parse(rule) as DropRule) : undefined;
    this.#loadBacklogCounts();
    if (this.#o.encodeThreads > 0 && this.sink.recipe && this.sink.encode) this.#encoder = new EncodePool(this.name, this.sink.recipe, this.#o.encodeThreads);
    this.#unsubscribe = this.#d.ingest.subscribe((batch) => this.#onIngest(batch));
    this.#d.metrics.register(this.name, this.sink.type, () => this.gauges());
    this.#checkTimer = setInterval(() => this.#check(), this.#d.checkIntervalMs ?? 1000);
    this.#checkTimer.unref();
    this.#check();
    this.#loop = runRestartingAfterErrors(
      { name: this.name, run: () => this.#run(), rewind: () => this.#rewind(), stopped: () => this.#stopped },
      { logger: this.#d.logger, sleep: this.#d.sleep ?? defaultSleep, signal: this.#abort.signal },
    );
  }

  /**
   * Brings the letters kept over deadLetter.maxRecords/maxBytes within them, in slices
   * (boundDeadLetters): called once the collector listens, not by start(), as it may take seconds.
   * Stops at shutdown.
   */
  boundDeadLetters(): Promise<void> {
    return this.#bounds.bound();
  }

  /** After a replay of this exporter's letters (DeadLetterBounds.apply). */
  applyDeadLetterBounds(): void {
    this.#bounds.apply();
  }

  /** Back to the persisted cursor, as at start: nothing read, nothing in flight. */
  #rewind(): void {
    this.#flights = [];
    this.#readAhead = [];
    this.#readId = this.#cursor;
    this.#unread.fill(0);
    this.#covered.fill(0);
    this.#inFlight.fill(0);
    this.#loadBacklogCounts();
  }

  /**
   * Stops delivery: flushes the backlog that exists now for up to `shutdownTimeoutMs` (at once
   * when the circuit is open or the backend refuses everything, e.g. the credentials: nothing
   * would get through), then aborts what is in flight. The
   * cursor is already persisted. Safe before start and twice.
   */
  async shutdown(): Promise<void> {
    if (this.#stopped) return this.#loop;
    this.#stopped = true;
    await this.#bounds.stopped();
    if (!this.#started) return;
    this.#flushing = true;
    this.#unsubscribe?.();
    clearInterval(this.#checkTimer);
    // Why what is left was not delivered, said in the warning below: not shutdownTimeout when it was not waited for.
    const why =
      this.breaker.state === 'open' ? 'its circuit was open: the backend was failing'
      : this.#status.refusing ? 'the backend refuses every request: check credentials, tenant and URL'
      : undefined;
    const deadline = setTimeout(() => this.#abort.abort(), why !== undefined ? 0 : timerDelay(this.#o.shutdownTimeoutMs));
    this.#wake();
    await this.#loop;
    clearTimeout(deadline);
    this.#abort.abort();
    this.#status.flushLog();
    // Said at the stop, not found out at the next start: the backend was behind when the collector stopped.
    const left = this.#backlog();
    if (left > 0) {
      this.#d.logger.warn(
        { exporter: this.name, records: left, shutdownTimeout: this.#o.shutdownTimeoutMs / 1000 },
        `exporter ${this.name}: stopped with ${left} records not delivered (${why ?? 'the backend did not take them within shutdownTimeout'}); they are kept and sent after the next start`,
      );
    }
    await this.#encoder?.close();
    this.#d.metrics.unregister(this.name);
  }

  // ── ingest side ────────────────────────────────────────────────────────────

  #onIngest(batch: IngestedBatch): void {
    const n = batch.logs.length;
    const lastId = batch.firstId + n - 1;
    if (lastId <= this.#headId) return;
    this.#headId = lastId;
    this.#pending += n;
    if (this.#o.queue.policy === 'drop') for (const severity of batch.logs.severity) this.#unread[severity]++;
    if (this.#idle || this.#headId - this.#readId >= this.#fullBatch()) this.#wake();
  }

  /** Policy backpressure: the reason ingest must refuse now, or undefined. O(1). */
  overload(): Overload | undefined {
    if (this.#o.queue.policy !== 'backpressure' || !this.#started || this.#stopped) return undefined;
    const bound = this.#boundReached();
    if (!bound) return undefined;
    return { exporter: this.name, bound, retryAfterSeconds: this.#retryAfterSeconds(bound) };
  }

  /** The first bound the backlog is over, or undefined. O(1). */
  #boundReached(): Overload['bound'] | undefined {
    const q = this.#o.queue;
    const records = this.#backlog();
    if (records > q.maxRecords) return 'records';
    if (records * this.#avgBytes > q.maxBytes) return 'bytes';
    if (records > 0 && this.#oldestAgeMs() > q.maxAgeMs) return 'age';
    return undefined;
  }

  /** Records still to deliver: the pending ones less those the drop rule will skip. */
  #backlog(): number {
    if (this.#o.queue.policy !== 'drop') return Math.max(0, this.#pending);
    let covered = 0;
    for (const n of this.#covered) covered += n;
    return Math.max(0, this.#pending - covered);
  }

  /**
   * Time to drain a tenth of the bound that was reached, at the measured delivery rate. A tenth
   * of queue.maxRecords whatever the bound: with the defaults the bytes bound comes first (10
   * million records of 300 bytes are 2.8 GiB, over 1 GiB), and senders were told to wait up to 60 s
   * for a backlog delivered in a fraction of that, long enough to overflow an SDK's buffer.
   */
  #retryAfterSeconds(bound: Overload['bound']): number {
    const openUntil = this.breaker.openUntil;
    if (openUntil !== undefined) return clamp(Math.ceil((openUntil - this.#now()) / 1000), 1, 60);
    if (this.#sentRate <= 0) return 5;
    const q = this.#o.queue;
    // The age bound is not a number of records: a tenth of the backlog.
    const records = bound === 'records' ? q.maxRecords : bound === 'bytes' ? q.maxBytes / this.#avgBytes : this.#backlog();
    return clamp(Math.ceil((records * 0.1) / this.#sentRate), 1, 60);
  }

  /**
   * Retention guard: records at or after this position are still needed (backpressure only).
   * Also after shutdown: the cursor is persisted and delivery resumes there on the next start.
   */
  protectedFromId(): number {
    return this.#o.queue.policy === 'backpressure' ? this.#cursor + 1 : Number.POSITIVE_INFINITY;
  }

  /** Retention is about to delete `ids` (ascending). Unread ones are lost to this exporter: counted. */
  beforeRetentionDelete(ids: number[], severities: (ids: number[]) => Array<{ id: number; severity: number }>): void {
    const unread = ids.filter((id) => id > this.#readId);
    if (unread.length === 0) return;
    this.#readAhead = [];
    let lost = 0;
    for (const { id, severity } of severities(unread)) {
      this.#pending--;
      this.#unread[severity]--;
      if (this.#rule && id <= this.#rule.uptoId && severity >= this.#rule.minSeverity) this.#covered[severity]--;
      lost++;
    }
    if (lost > 0) this.#dropped('retention', lost);
  }

  /**
   * Records this exporter will never deliver: counted (dropped_items_total by reason) and logged
   * as a warning, rate-limited with the exporter's other repeated lines (a backlog over its bound
   * drops at every batch). They were only counted: nothing in the log said records were lost.
   */
  #dropped(reason: 'overflow' | 'max_age' | 'retention', n: number): void {
    this.#d.metrics.dropped.inc({ ...this.#labels, reason }, n);
    const q = this.#o.queue;
    const why =
      reason === 'overflow' ? `the backlog was over its bound (queue.maxRecords ${q.maxRecords}, queue.maxBytes; policy drop, lowest severity first)`
      : reason === 'max_age' ? `older than queue.maxAge (${Math.round(q.maxAgeMs / 1000)} s) before they were delivered (policy drop)`
      : 'deleted by store retention before they were delivered';
    this.#status.logRepeated({
      key: `dropped ${reason}`,
      level: 'warn',
      fields: { exporter: this.name, reason },
      sum: { count: n },
      msg: (s) => `exporter ${this.name}: ${s.count} record(s) dropped, not delivered: ${why}`,
    });
  }

  // ── delivery loop ──────────────────────────────────────────────────────────

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      this.#commit();
      if (this.#flightError !== undefined) {
        const err = this.#flightError;
        this.#flightError = undefined;
        throw err;
      }
      if (signal.aborted) break;
      if (this.#flushing && this.#flights.length === 0 && this.#readId >= this.#headId) break;
      let waitMs = Number.POSITIVE_INFINITY;
      let nothingToRead = false;
      while (this.#flights.length < this.#o.concurrency) {
        const next = this.#nextBatch();
        if (next === undefined) {
          nothingToRead = true;
          break;
        }
        if (typeof next === 'number') {
          waitMs = next;
          break;
        }
        this.#launch(next.items, next.lastId, next.severities, next.skipped);
      }
      if (this.#flights[0]?.done && this.#flights[0].ok) continue;
      // No await between the checks above and arming the wake-up: nothing can slip in between.
      this.#idle = nothingToRead;
      await this.#sleep(waitMs);
      this.#idle = false;
    }
    this.#commit();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.#wake(), timerDelay(ms)) : undefined;
      this.#wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #wake(): void {
    const w = this.#wakeUp;
    this.#wakeUp = undefined;
    w?.();
  }

  /** The next batch, or ms to wait for one to fill, or undefined when there is nothing to read. */
  #nextBatch(): { items: StoredItem[]; lastId: number; severities?: number[]; skipped?: Flight['skipped'] } | number | undefined {
    const available = this.#headId - this.#readId;
    if (available <= 0) return undefined;
    const now = this.#now();
    if (!this.#flushing && available < this.#fullBatch()) {
      const age = now - (this.#d.acceptTimes.at(this.#readId + 1) ?? now);
      if (age < this.#o.batch.waitMs) return this.#o.batch.waitMs - age;
    }
    const rows = this.#read(this.#readLimit());
    if (rows.length === 0) {
      // Everything up to head was deleted (retention): nothing to send for those positions.
      this.#readId = this.#headId;
      return { items: [], lastId: this.#headId };
    }
    // Cut at maxBytes (the sink's estimate from each stored body's UTF-8 size), keeping at least one record.
    let bytes = 0;
    let end = 0;
    while (end < rows.length) {
      bytes += this.sink.estimateBytes(rows[end].bytes);
      if (end > 0 && bytes > this.#o.batch.maxBytes) break;
      end++;
    }
    const taken = end < rows.length ? rows.slice(0, end) : rows;
    this.#readAhead = end < rows.length ? rows.slice(end) : [];
    const lastId = taken[taken.length - 1].id;
    const items: StoredItem[] = [];
    const invalid: Array<{ item: LogItem; result: ExportResult }> = [];
    // With an encode pool the sink's check runs there, with the encoding.
    const check = this.#encoder ? undefined : this.sink.check?.bind(this.sink);
    const drop = this.#o.queue.policy === 'drop';
    const ageCutoffId = drop ? this.#d.acceptTimes.lastIdBefore(now - this.#o.queue.maxAgeMs) : 0;
    const severities = drop ? new Array<number>(8).fill(0) : undefined;
    let overflow = 0;
    let aged = 0;
    for (const item of taken) {
      const s = item.severity;
      if (drop) {
        this.#unread[s]--;
        const covered = this.#rule !== undefined && item.id <= this.#rule.uptoId && s >= this.#rule.minSeverity;
        if (covered) this.#covered[s]--;
        if (item.id <= ageCutoffId) {
          aged++;
          continue;
        }
        if (covered) {
          overflow++;
          continue;
        }
      }
      const reason = check?.(item);
      if (reason !== undefined) invalid.push({ item, result: { status: 'permanent', error: reason, httpStatus: 0 } });
      else {
        items.push(item);
        if (severities) severities[s]++;
      }
    }
    this.#readId = lastId;
    this.#pending -= taken.length - items.length;
    if (severities) for (let s = 0; s < 8; s++) this.#inFlight[s] += severities[s];
    if (invalid.length) this.#deadLetter(invalid);
    return { items, lastId, severities, skipped: { overflow, aged } };
  }

  /**
   * Records that make a full batch: batch.maxRecords, or fewer when that many fill batch.maxBytes
   * at the backlog's average record size. A full batch leaves without waiting for batch.wait.
   */
  #fullBatch(): number {
    const { maxRecords, maxBytes } = this.#o.batch;
    return Math.min(maxRecords, Math.ceil(maxBytes / Math.max(1, this.sink.estimateBytes(this.#avgBytes))));
  }

  /**
   * Records to read for the next batch: a full batch and a margin (the cut is at maxBytes, on the
   * records' own sizes). Rows read past the cut wait in #readAhead for the next batches, and held
   * that long, they outlived young-generation GCs and were copied to the old generation: reading
   * 10 000 rows for batches of ~3 200 cost 7–15 % of a Loki drain's rate (bench/exporters.ts'
   * records, three alternating pairs).
   */
  #readLimit(): number {
    return Math.min(this.#o.batch.maxRecords, Math.ceil(this.#fullBatch() * 1.05) + 16);
  }

  /** Up to `max` records after readId: read-ahead rows, then SQLite. */
  #read(max: number): StoredItem[] {
    if (this.#readAhead.length > 0) {
      const ahead = this.#readAhead;
      this.#readAhead = [];
      if (ahead[0].id > this.#readId) {
        if (ahead.length >= max) return ahead;
        const more = this.#readLog(ahead[ahead.length - 1].id, max - ahead.length);
        return more.length ? ahead.concat(more) : ahead;
      }
    }
    return this.#readLog(this.#readId, max);
  }

  #readLog(afterId: number, max: number): StoredItem[] {
    return this.#d.store.readAfter(afterId, max, (id, micros, severity, body, bytes) => new StoredItem(id, micros, severity, body, bytes));
  }

  #launch(items: StoredItem[], lastId: number, severities: number[] | undefined, skipped = { overflow: 0, aged: 0 }): void {
    const flight: Flight = { lastId, rows: items.length, severities, skipped, done: items.length === 0, ok: items.length === 0 };
    this.#flights.push(flight);
    if (flight.done) return;
    void this.#deliver(items).then(
      (ok) => {
        flight.done = true;
        flight.ok = ok;
        this.#wake();
      },
      (err: unknown) => {
        // Not an unhandled rejection (which ends the process): the loop starts again from the cursor.
        flight.done = true;
        this.#flightError ??= err;
        this.#wake();
      },
    );
  }

  /** Advances the cursor over the resolved prefix of the flights (counting what they skipped), and persists it. */
  #commit(): void {
    let moved = false;
    while (this.#flights.length > 0 && this.#flights[0].done && this.#flights[0].ok) {
      const f = this.#flights.shift()!;
      this.#cursor = f.lastId;
      this.#pending -= f.rows;
      if (f.severities) for (let s = 0; s < 8; s++) this.#inFlight[s] -= f.severities[s];
      if (f.skipped.overflow) this.#dropped('overflow', f.skipped.overflow);
      if (f.skipped.aged) this.#dropped('max_age', f.skipped.aged);
      moved = true;
    }
    if (!moved) return;
    this.#savedCursor.save(this.#cursor);
    this.#d.deadLetters.forgetDiscarded(this.name, this.#cursor);
  }

  /** Resolves one batch: true when every item is delivered, dead-lettered or dropped. */
  async #deliver(batch: StoredItem[]): Promise<boolean> {
    const signal = this.#abort.signal;
    if (!(await this.#prepare(signal))) return false;
    const { items, encoded } = await this.#encode(batch);
    if (items.length === 0) return true;
    const giveUp =
      this.#o.queue.policy === 'drop'
        ? () => {
            const at = this.#d.acceptTimes.at(items[0].id);
            return at !== undefined && this.#now() - at > this.#o.queue.maxAgeMs;
          }
        : undefined;
    // The first request carries the body encoded for exactly these items; a part sent again is encoded by the sink.
    const sendOnce = (part: LogItem[]) => this.sink.send(part, signal, part === items ? encoded : undefined);
    const send = this.#preparation ? (part: LogItem[]) => this.#preparation!.send(signal, () => sendOnce(part)) : sendOnce;
    const started = this.#now();
    const r = await this.#resolver.resolve(items, send, signal, { giveUp });
    this.#d.logger.debug?.(
      { exporter: this.name, firstId: items[0].id, lastId: items[items.length - 1].id, records: items.length, delivered: r.delivered, deadLettered: r.permanent.length, unresolved: r.unresolved.length, ms: this.#now() - started },
      `exporter ${this.name}: batch sent`,
    );
    this.#countSent(r.delivered, r.duplicates);
    if (r.permanent.length) this.#deadLetter(r.permanent);
    if (r.gaveUp && r.unresolved.length) {
      this.#dropped('max_age', r.unresolved.length);
      return true;
    }
    return r.unresolved.length === 0;
  }

  /**
   * The batch's body from the encode pool, and the items it holds (those the sink's check
   * refused are dead-lettered here). Without a pool, or when the pool fails, the items are
   * checked here and the sink encodes them when sending.
   */
  async #encode(batch: StoredItem[]): Promise<{ items: LogItem[]; encoded?: EncodedBody }> {
    if (!this.#encoder) return { items: batch };
    let refused: Array<[number, string]>;
    let encoded: EncodedBody;
    try {
      const task = this.#encoder.encode(batch);
      this.#release(batch);
      ({ body: encoded, refused } = await task);
    } catch (err) {
      if (this.#abort.signal.aborted) return { items: batch }; // the pool closed at shutdown: nothing more is sent
      this.#status.logRepeated({
        key: 'encode worker failed',
        level: 'error',
        fields: { exporter: this.name, err: (err as Error).message },
        msg: () => `exporter ${this.name}: encode worker failed, encoding on the main thread`,
      });
      const invalid: Array<{ item: LogItem; result: ExportResult }> = [];
      const items: LogItem[] = [];
      for (const item of batch) {
        const reason = this.sink.check?.(item);
        if (reason === undefined) items.push(item);
        else invalid.push({ item, result: { status: 'permanent', error: reason, httpStatus: 0 } });
      }
      if (invalid.length) this.#deadLetter(invalid);
      return { items };
    }
    if (refused.length === 0) return { items: batch, encoded };
    const invalid = refused.map(([i, reason]) => ({ item: batch[i] as LogItem, result: { status: 'permanent' as const, error: reason, httpStatus: 0 } }));
    this.#deadLetter(invalid);
    const out = new Set(refused.map(([i]) => i));
    return { items: batch.filter((_, i) => !out.has(i)), encoded };
  }

  /**
   * Lets go of the bodies of a batch handed to the encode pool while it is encoded and sent: held
   * that long, a batch outlived young-generation GCs and was copied to the old generation.
   * `--trace-gc-nvp`, Loki at full speed, 8 s (two alternating pairs): the ingest thread
   * promoted 136–146 MB with the bodies held and 69–79 MB without, its scavenge pauses took
   * 574–599 against 326–334 ms, the GC helper threads' scavenging 437–530 against 144–167 ms.
   * A failure path that needs them (a retry of some items, a bisection, dead letters) reads them
   * again from the log. Policy backpressure only: retention then spares every record after the
   * cursor, while with policy drop it may delete a record in flight.
   */
  #release(batch: StoredItem[]): void {
    if (this.#o.queue.policy !== 'backpressure') return;
    for (const item of batch) item.release(this.#loadBody);
  }

  readonly #loadBody = (id: number): string | undefined => this.#d.store.bodyOf(id);

  /** Runs sink.prepare once (retried while retryable); a permanent failure is logged and skipped. */
  #prepare(signal: AbortSignal): Promise<boolean> {
    const prepare = this.sink.prepare?.bind(this.sink);
    if (!prepare) return Promise.resolve(true);
    this.#prepared ??= (async () => {
      const r = await this.#resolver.request(() => prepare(signal), signal);
      if (r.aborted) {
        this.#prepared = undefined;
        return;
      }
      if (r.status === 'permanent') this.#d.logger.warn({ exporter: this.name, error: cutForLog(r.error) }, `exporter ${this.name}: preparation failed, sending anyway`);
      this.#preparation?.firstTry(r);
    })();
    return this.#prepared.then(() => !signal.aborted);
  }

  #deadLetter(entries: Array<{ item: LogItem; result: ExportResult }>, attempts?: number): void {
    const { discarded, evicted } = fileDeadLetters(
      this.#d.deadLetters,
      this.#d.metrics,
      this.#labels,
      entries.map(({ item, result }) => ({
        logId: item.id,
        micros: item.micros,
        record: item.record,
        reason: result.error ?? `HTTP ${result.httpStatus ?? 0}`,
        status: result.httpStatus ?? 0,
        attempts,
      })),
      this.#o.deadLetterMax,
      this.#wallNow(),
    );
    const filed = entries.length - discarded;
    if (filed > 0) {
      this.#status.logRepeated({
        key: 'dead-lettered',
        level: 'warn',
        fields: { exporter: this.name, reason: cutForLog(entries[0].result.error) },
        sum: { count: filed },
        msg: (s) => `exporter ${this.name}: ${s.count} record(s) refused permanently, moved to the dead letters`,
      });
    }
    if (evicted > 0) this.#status.logEvicted(evicted);
    if (discarded > 0) this.#status.logDiscardedAgain(discarded, 'record');
  }

  /** `duplicates`: of the `n` delivered, those the backend already had (metrics.duplicates). */
  #countSent(n: number, duplicates: number): void {
    if (n <= 0) return;
    this.#d.metrics.sent.inc(this.#labels, n);
    if (duplicates > 0) this.#d.metrics.duplicates.inc(this.#labels, duplicates);
    this.#sentWindow.count += n;
  }

  // ── bound enforcement ─────────────────────────────────────────────────────

  #loadBacklogCounts(): void {
    const db = this.#d.store.db;
    if (this.#o.queue.policy !== 'drop') {
      this.#pending = (db.prepare('SELECT count(*) AS n FROM logs WHERE id > ?').get(this.#cursor) as { n: number }).n;
      return;
    }
    const rule = this.#rule ?? { uptoId: 0, minSeverity: 8 };
    const rows = db
      .prepare('SELECT severity, count(*) AS n, sum(id <= ? AND severity >= ?) AS c FROM logs WHERE id > ? GROUP BY severity')
      .all(rule.uptoId, rule.minSeverity, this.#cursor) as Array<{ severity: number; n: number; c: number }>;
    this.#pending = 0;
    for (const r of rows) {
      this.#unread[r.severity] = r.n;
      this.#covered[r.severity] = r.c;
      this.#pending += r.n;
    }
  }

  #check(): void {
    try {
      const now = this.#now();
      const elapsed = now - this.#sentWindow.at;
      if (elapsed >= 1000) {
        const rate = (this.#sentWindow.count * 1000) / elapsed;
        this.#sentRate = this.#sentWindow.at === 0 ? rate : 0.5 * this.#sentRate + 0.5 * rate;
        this.#sentWindow = { at: now, count: 0 };
      }
      if (this.#pending > 0) {
        const row = this.#d.store.db
          .prepare('SELECT avg(octet_length(body)) AS a FROM (SELECT body FROM logs WHERE id > ? ORDER BY id LIMIT 200)')
          .get(this.#cursor) as { a: number | null };
        if (row.a) this.#avgBytes = Math.round(row.a);
      }
      if (this.#o.queue.policy === 'drop') this.#enforceDrop();
    } catch (err) {
      // Every second while the database fails: rate-limited.
      this.#status.logRepeated({
        key: 'bound check failed',
        level: 'error',
        fields: { exporter: this.name, err: (err as Error).message },
        msg: () => `exporter ${this.name}: bound check failed (backlog size and drop rule not updated; tried again every second)`,
      });
    }
  }

  /**
   * Policy drop, over the bound: picks the highest severity number (least important) m such that
   * the backlog without its records of severity >= m is under 90 % of the bound, and records that
   * rule for the records accepted so far: the reader skips the unread ones it covers, and counts
   * them as dropped then.
   * Records in flights (being sent, perhaps retried against a dead backend) are not skipped, but
   * count in the choice of m like the unread ones. Counting only the unread ones, a flight stuck
   * with more records than the bound made every check go down to m = 0: an `emerg` record accepted
   * then was dropped while the `debug` records in the flight were kept.
   */
  #enforceDrop(): void {
    const q = this.#o.queue;
    const limit = Math.min(q.maxRecords, Math.floor(q.maxBytes / this.#avgBytes));
    this.#dropping = this.#backlog() > limit;
    if (!this.#dropping) return;
    const target = Math.floor(limit * DROP_TARGET);
    let m = 8;
    let kept = this.#pending;
    while (m > 0 && kept > target) {
      m--;
      kept -= this.#unread[m] + this.#inFlight[m];
    }
    const previous = this.#rule;
    this.#rule = { uptoId: this.#headId, minSeverity: m };
    let skipping = 0;
    for (let s = 0; s < 8; s++) {
      this.#covered[s] = s >= m ? this.#unread[s] : 0;
      skipping += this.#covered[s];
    }
    this.#d.kv.set(this.#dropKey, JSON.stringify(this.#rule));
    if (previous?.minSeverity !== m) {
      // A backlog around its bound may move m at every check (a second): rate-limited.
      this.#status.logRepeated({
        key: 'drop rule',
        level: 'warn',
        fields: { exporter: this.name, backlog: this.#pending, limit, minSeverity: m, skipping },
        msg: () => `exporter ${this.name}: backlog over its bound, dropping records of severity ${m} and lower priority`,
      });
    }
  }

  #oldestAgeMs(): number {
    if (this.#pending <= 0) return 0;
    const at = this.#d.acceptTimes.at(this.#cursor + 1);
    return at === undefined ? 0 : Math.max(0, this.#now() - at);
  }

  // ── observation ───────────────────────────────────────────────────────────

  gauges(): ExporterGauges {
    const records = this.#backlog();
    return {
      queueItems: records,
      queueBytes: records * this.#avgBytes,
      oldestAgeSeconds: this.#oldestAgeMs() / 1000,
      circuit: this.breaker.state,
      deadLetters: this.#d.deadLetters.count(this.name),
    };
  }

  health() {
    const g = this.gauges();
    const dep = this.dependency();
    return {
      status: dep.status === 'down' ? ('degraded' as const) : dep.status,
      type: this.sink.type,
      policy: this.#o.queue.policy,
      cursor: this.#cursor,
      head: this.#headId,
      inFlightBatches: this.#flights.length,
      queue: { records: g.queueItems, bytes: g.queueBytes, oldestAgeSeconds: Math.round(g.oldestAgeSeconds * 10) / 10 },
      overloaded: this.#started && !this.#stopped ? (this.#boundReached() ?? null) : null,
      dropRule: this.#rule && (this.#dropping || this.#rule.uptoId > this.#readId) ? this.#rule : null,
      circuit: g.circuit,
      deadLetters: g.deadLetters,
    };
  }

  dependency(): DependencyHealth {
    return this.#status.dependency(this.sink.type, this.sink.endpoint, this.breaker.state);
  }

  // ── dead-letter replay ────────────────────────────────────────────────────

  /** Sends dead letters again (a few attempts, no circuit wait beyond the breaker's). */
  async replay(letters: Array<DeadLetter & LogLetter>, signal: AbortSignal): Promise<ReplayOutcome> {
    const outcome: ReplayOutcome = { delivered: [], failed: [] };
    const byItem = new Map<LogItem, DeadLetter>();
    const items: LogItem[] = [];
    for (const letter of letters) {
      const item = { id: letter.logId, micros: letter.micros, record: letter.record };
      const reason = this.sink.check?.(item);
      if (reason !== undefined) outcome.failed.push({ letter, result: { status: 'permanent', error: reason, httpStatus: 0 } });
      else {
        byItem.set(item, letter);
        items.push(item);
      }
    }
    if (items.length === 0) return outcome;
    if (this.breaker.state !== 'closed') {
      // Not even the preparation (an index template), which waits for the backend to come back.
      const error = replayFailure(this.breaker.state, this.#status.lastError);
      for (const item of items) outcome.failed.push({ letter: byItem.get(item)!, result: { status: 'retryable', error } });
      return outcome;
    }
    if (!(await this.#prepare(signal))) {
      for (const item of items) outcome.failed.push({ letter: byItem.get(item)!, result: { status: 'retryable', error: 'aborted' } });
      return outcome;
    }
    const r = await this.#resolver.resolve(items, (part) => this.sink.send(part, signal), signal, { maxRounds: 3, notWhileOpen: true });
    completeReplay(outcome, byItem, r.permanent, r.unresolved, replayFailure(this.breaker.state, this.#status.lastError));
    this.#countSent(outcome.delivered.length, r.duplicates);
    return outcome;
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
