// Spans from the embedded span store to an Elasticsearch traces data stream (`traces.enabled` of
// an elasticsearch exporter). Contract, as for logs (delivery.ts) where it applies:
//  - A cursor over the span store's positions (KeyValue `exporter:<name>:cursor`) moves forward
//    only when every span at or below it is resolved: delivered (2xx, or 409 on its deterministic
//    `_id` = already delivered) or refused for good (per-item 4xx, or a whole-request permanent
//    failure): moved to the dead letters under `<name>:traces` with Elasticsearch's reason, to be
//    replayed after the cause is fixed (POST /api/v1/deadletter/replay), like log records. After a
//    crash delivery resumes at the cursor; re-sent spans meet 409, so nothing is duplicated.
//  - Whole-request 429/5xx/network errors and per-item 429/5xx are retried (only those items) by the
//    shared retry helper behind the exporter's own circuit breaker, through the resolver the log
//    delivery uses (batch-resolver.ts): a 413 is sent again in halves down to a span alone.
//  - Spans deleted by traces retention before they were delivered are not sent (the backend was
//    down longer than traces.retention.maxAge); they are counted as dropped (reason retention)
//    when the cursor passes the gap they left: span positions are consecutive (SQLite numbers a
//    row max(id) + 1 and an ignored duplicate takes no number), so a gap is exactly the deleted rows.
// Not here (logs only): backlog bounds with back-pressure (the span store's own retention bounds
// what waits).

import { DeadLetterBounds } from '../dead-letter-bounds.ts';
import { completeReplay, fileDeadLetters, replayFailure, type DeadLetter, type DeadLetterStore, type ReplayOutcome, type SpanLetter } from '../dead-letter.ts';
import { CircuitBreaker, type CircuitBreakerPolicy } from '../circuit-breaker.ts';
import { BackendStatus, type DependencyHealth } from '../backend-status.ts';
import { RefusedPreparation } from '../refused-preparation.ts';
import type { ExporterGauges, ExporterMetrics } from '../metrics.ts';
import { Retrier, RetryBudget, sleep, type RetryBudgetPolicy, type RetryPolicy, type Sleep } from '../retry.ts';
import { BatchResolver, type Resolution } from '../batch-resolver.ts';
import { runRestartingAfterErrors } from '../restart-loop.ts';
import { SavedCursor } from '../saved-cursor.ts';
import type { Logger } from '../sink.ts';
import type { KeyValue } from '../../store/database.ts';
import type { StoredSpan } from '../../traces/span-store.ts';
import { bulkItemSizer, type ElasticsearchSink } from './sink.ts';
import { spanDocumentId, toSpanDocument } from './span-document.ts';
import { tracesIndexTemplate } from './template.ts';
import { timerDelay } from '../../timer-delay.ts';
import { cutForLog } from '../../log/cut.ts';

/** A stored span and its position in the span store. */
export interface SpanRow {
  id: number;
  span: StoredSpan;
}

export interface SpanSource {
  /** At most `limit` spans, and no more than about `maxChars` of stored text (the first span always). */
  readAfter(afterId: number, limit: number, maxChars?: number): SpanRow[];
  firstId(): number;
  lastId(): number;
  backlogAfter(afterId: number): { oldestStartMicros: number | undefined; avgBytes: number };
}

export interface SpanExportOptions {
  /** `<exporter name>:traces`: its own name in metrics, health and the cursor key. */
  name: string;
  dataStream: string;
  /** Template to install on start, or undefined. */
  templateName: string | undefined;
  labels: Record<string, string>;
  batchMaxSpans: number;
  /** Documents per request stop short of this many bytes (one at least): the exporter's batch.maxBytes. */
  batchMaxBytes: number;
  /** Poll period while caught up (at least MIN_POLL_MS). */
  waitMs: number;
  retry: RetryPolicy;
  budget: RetryBudgetPolicy;
  breaker: CircuitBreakerPolicy;
  shutdownTimeoutMs: number;
  startFrom: 'end' | 'beginning';
  /** Dead letters kept: a count, or a count and the bytes of their bodies (deadLetter.maxRecords, maxBytes). */
  deadLetterMax: number | { records: number; bytes: number };
}

export interface SpanExportDeps {
  spans: SpanSource;
  kv: KeyValue;
  sink: ElasticsearchSink;
  deadLetters: DeadLetterStore;
  metrics: ExporterMetrics;
  logger: Logger;
  /** The waits between polls of a caught-up span store, and before a restart of the loop (tests). */
  sleep?: Sleep;
}

/**
 * The span store is polled while caught up (spans have no ingest notification), every
 * `batch.wait` but not more often than this: with `batch.wait: 0` the loop polled SQLite at
 * every timer tick, some 15 % of the ingest thread on an idle collector.
 */
const MIN_POLL_MS = 100;

interface Pending {
  position: number;
  /** Span start, epoch µs (the dead letter's timestamp). */
  micros: number;
  id: string;
  source: string;
}

export class SpanExport {
  readonly name: string;
  readonly type = 'elasticsearch';
  readonly breaker: CircuitBreaker;
  readonly #o: SpanExportOptions;
  readonly #d: SpanExportDeps;
  readonly #resolver: BatchResolver;
  readonly #abort = new AbortController();
  readonly #wakeUp = new AbortController();
  readonly #labels: { exporter: string; type: string };
  #cursor = 0;
  readonly #savedCursor: SavedCursor;
  #loop: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #bounds: DeadLetterBounds;
  readonly #status: BackendStatus;
  /** The traces template, tried again before each request while refused as the spans are (RefusedPreparation). */
  readonly #template: RefusedPreparation;
  /** A document's bytes in a request (#documents). */
  readonly #itemBytes: (id: string, source: string) => number;

  constructor(options: SpanExportOptions, deps: SpanExportDeps) {
    this.name = options.name;
    this.#o = options;
    this.#d = deps;
    this.#status = new BackendStatus(options.name, deps.logger, Date.now);
    this.#savedCursor = new SavedCursor(deps.kv, options.name, deps.logger);
    this.breaker = new CircuitBreaker(options.breaker);
    this.#status.watch(this.breaker);
    const retrier = new Retrier(options.retry, new RetryBudget(options.budget));
    this.#labels = { exporter: this.name, type: this.type };
    this.#bounds = new DeadLetterBounds(deps, this.#labels, options.deadLetterMax, () => this.#stopped);
    this.#resolver = new BatchResolver({ breaker: this.breaker, retrier, status: this.#status, metrics: deps.metrics, labels: this.#labels });
    this.#itemBytes = bulkItemSizer(options.dataStream);
    this.#template = new RefusedPreparation(
      (signal) => this.#putTemplate(signal),
      (r) => this.#d.metrics.failedRequests.inc({ ...this.#labels, class: r.status }),
    );
  }

  /** Installs the traces index template (`templateName` set): at start, and again while refused (#template). */
  #putTemplate(signal: AbortSignal) {
    return this.#d.sink.putTemplate(this.#o.templateName!, tracesIndexTemplate(this.#o.dataStream), signal);
  }

  get cursor(): number {
    return this.#cursor;
  }

  start(): void {
    const saved = this.#savedCursor.load();
    const lastId = this.#d.spans.lastId();
    if (saved === undefined) {
      // from the beginning: before the oldest span kept, so what retention deleted before this
      // exporter existed is not counted as its loss
      this.#cursor = this.#o.startFrom === 'end' ? lastId : Math.max(0, this.#d.spans.firstId() - 1);
      this.#savedCursor.init(this.#cursor);
    } else {
      this.#cursor = saved;
    }
    this.#bounds.start(this.#cursor); // bounds applied by boundDeadLetters, once the collector listens
    const m = this.#d.metrics;
    m.sent.inc(this.#labels, 0);
    m.duplicates.inc(this.#labels, 0);
    this.#bounds.countersAtZero();
    m.dropped.inc({ ...this.#labels, reason: 'retention' }, 0);
    m.register(this.name, this.type, () => this.gauges());
    // Spans after the cursor are sent again after an error (409s: no duplicate).
    this.#loop = runRestartingAfterErrors(
      { name: this.name, run: () => this.#run(), stopped: () => this.#stopped },
      { logger: this.#d.logger, sleep: this.#d.sleep ?? sleep, signal: this.#abort.signal },
    );
  }

  /** Brings the letters kept over the bounds within them, once the collector listens (Delivery.boundDeadLetters). */
  boundDeadLetters(): Promise<void> {
    return this.#bounds.bound();
  }

  /** After a replay of this exporter's letters (DeadLetterBounds.apply). */
  applyDeadLetterBounds(): void {
    this.#bounds.apply();
  }

  /** Delivers what is stored now for up to shutdownTimeoutMs (at once when the circuit is open or the backend refuses everything), then stops. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return this.#loop;
    this.#stopped = true;
    await this.#bounds.stopped();
    const deadline = setTimeout(() => this.#abort.abort(), this.breaker.state === 'open' || this.#status.refusing ? 0 : timerDelay(this.#o.shutdownTimeoutMs));
    this.#wakeUp.abort();
    await this.#loop;
    clearTimeout(deadline);
    this.#abort.abort();
    this.#status.flushLog();
    this.#d.metrics.unregister(this.name);
  }

  gauges(): ExporterGauges {
    // Positions are consecutive except where retention deleted spans: close to the count.
    const queueItems = Math.max(0, this.#d.spans.lastId() - this.#cursor);
    const backlog = queueItems > 0 ? this.#d.spans.backlogAfter(this.#cursor) : undefined;
    const oldest = backlog?.oldestStartMicros;
    return {
      queueItems,
      queueBytes: queueItems * (backlog?.avgBytes ?? 0),
      // from the span's start (spans carry no receive time): over-states by the span's duration
      oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, Date.now() / 1000 - oldest / 1e6),
      circuit: this.breaker.state,
      deadLetters: this.#d.deadLetters.count(this.name),
    };
  }

  health() {
    const dep = this.dependency();
    const g = this.gauges();
    return {
      status: dep.status === 'down' ? ('degraded' as const) : dep.status,
      type: this.type,
      cursor: this.#cursor,
      queue: { spans: g.queueItems, bytes: g.queueBytes, oldestAgeSeconds: Math.round(g.oldestAgeSeconds * 10) / 10 },
      circuit: this.breaker.state,
      deadLetters: g.deadLetters,
    };
  }

  dependency(): DependencyHealth {
    return this.#status.dependency(this.type, this.#d.sink.endpoint, this.breaker.state);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    if (this.#o.templateName !== undefined) {
      const installed = await this.#resolver.request(() => this.#putTemplate(signal), signal);
      if (installed.status === 'permanent') this.#d.logger.warn({ exporter: this.name, err: cutForLog(installed.error) }, `exporter ${this.name}: ${cutForLog(installed.error)}`);
      this.#template.firstTry(installed);
    }
    /** Spans read but left out of the last request by batchMaxBytes: the next request's, not read again. */
    let ahead: SpanRow[] = [];
    while (!signal.aborted) {
      const rows = ahead.length > 0 ? ahead : this.#d.spans.readAfter(this.#cursor, this.#o.batchMaxSpans, this.#o.batchMaxBytes);
      if (rows.length === 0) {
        if (this.#stopped) return;
        await (this.#d.sleep ?? sleep)(Math.max(this.#o.waitMs, MIN_POLL_MS), this.#wakeUp.signal);
        continue;
      }
      const pending = this.#documents(rows);
      ahead = rows.slice(pending.length);
      this.#countDeletedBefore(rows.slice(0, pending.length));
      const resolution = await this.#deliver(pending, signal);
      if (resolution.permanent.length) this.#deadLetter(resolution.permanent);
      if (resolution.unresolved.length) return; // aborted: the cursor stays before the unresolved spans
      this.#cursor = pending[pending.length - 1].position;
      this.#savedCursor.save(this.#cursor);
      this.#d.deadLetters.forgetDiscarded(this.name, this.#cursor);
    }
  }

  /**
   * The documents of the first rows whose request bytes (UTF-8, action lines included) stay under
   * batchMaxBytes (the first row always):
   * large spans would otherwise make requests over Elasticsearch's http.max_content_length, each a
   * 413 and a bisection.
   */
  #documents(rows: SpanRow[]): Pending[] {
    const pending: Pending[] = [];
    let bytes = 0;
    for (const r of rows) {
      const source = JSON.stringify(toSpanDocument(r.id, r.span, this.#o.labels));
      const id = spanDocumentId(r.span);
      bytes += this.#itemBytes(id, source);
      if (pending.length > 0 && bytes > this.#o.batchMaxBytes) break;
      pending.push({ position: r.id, micros: Number(BigInt(r.span.startTimeUnixNano) / 1000n), id, source });
    }
    return pending;
  }

  /** Counts the positions between the cursor and `rows` (ascending) that retention deleted unsent. */
  #countDeletedBefore(rows: Array<{ id: number }>): void {
    let lost = 0;
    let previous = this.#cursor;
    for (const { id } of rows) {
      lost += id - previous - 1;
      previous = id;
    }
    if (lost <= 0) return;
    this.#d.metrics.dropped.inc({ ...this.#labels, reason: 'retention' }, lost);
    this.#status.logRepeated({
      key: 'dropped retention',
      level: 'warn',
      fields: { exporter: this.name },
      sum: { spans: lost },
      msg: (s) => `exporter ${this.name}: ${s.spans} span(s) deleted by traces retention before they were delivered`,
    });
  }

  /**
   * Sends the batch until every span is delivered or refused for good, or abort / maxRounds (the
   * shared resolver: per-item retries, 413 sent again in halves down to a span alone).
   */
  async #deliver(batch: Pending[], signal: AbortSignal, maxRounds?: number, notWhileOpen?: boolean): Promise<Resolution<Pending>> {
    const send = (docs: Pending[]) => this.#template.send(signal, () => this.#d.sink.bulkCreate(this.#o.dataStream, docs, signal));
    const r = await this.#resolver.resolve(batch, send, signal, { maxRounds, notWhileOpen });
    if (r.delivered > 0) this.#d.metrics.sent.inc(this.#labels, r.delivered);
    if (r.duplicates > 0) this.#d.metrics.duplicates.inc(this.#labels, r.duplicates);
    return r;
  }

  #deadLetter(refused: Resolution<Pending>['permanent']): void {
    const { discarded, evicted } = fileDeadLetters(
      this.#d.deadLetters,
      this.#d.metrics,
      this.#labels,
      refused.map(({ item: span, result }) => ({
        kind: 'span' as const,
        logId: span.position,
        micros: span.micros,
        documentId: span.id,
        source: span.source,
        reason: result.error ?? `HTTP ${result.httpStatus ?? 0}`,
        status: result.httpStatus ?? 0,
      })),
      this.#o.deadLetterMax,
    );
    const filed = refused.length - discarded;
    if (filed > 0) {
      const reason = cutForLog(refused[0].result.error);
      this.#status.logRepeated({
        key: 'dead-lettered',
        level: 'warn',
        fields: { exporter: this.name, firstId: refused[0].item.id, reason },
        sum: { spans: filed },
        msg: (s) => `exporter ${this.name}: Elasticsearch refused ${s.spans} span(s), moved to the dead letters: ${reason}`,
      });
    }
    if (evicted > 0) this.#status.logEvicted(evicted);
    if (discarded > 0) this.#status.logDiscardedAgain(discarded, 'span');
  }

  /** Sends span dead letters again (a few attempts); the caller removes the delivered ones. */
  async replay(letters: Array<DeadLetter & SpanLetter>, signal: AbortSignal): Promise<ReplayOutcome> {
    const outcome: ReplayOutcome = { delivered: [], failed: [] };
    const byPending = new Map<Pending, DeadLetter>();
    for (const letter of letters) byPending.set(spanPending(letter), letter);
    if (byPending.size === 0) return outcome;
    const r = await this.#deliver([...byPending.keys()], signal, 3, true);
    return completeReplay(outcome, byPending, r.permanent, r.unresolved, replayFailure(this.breaker.state, this.#status.lastError));
  }
}

function spanPending(letter: DeadLetter & SpanLetter): Pending {
  return { position: letter.logId, micros: letter.micros, id: letter.documentId, source: JSON.stringify(letter.document) };
}
