// Prometheus remote write 1.0 sender (https://prometheus.io/docs/specs/prw/remote_write_spec/).
// Every `interval` the registered metrics sources are read and queued as WriteRequests (at most
// maxSamplesPerRequest samples each); one sender sends them in order. Spec rules applied:
//  - headers Content-Encoding: snappy, Content-Type: application/x-protobuf,
//    X-Prometheus-Remote-Write-Version: 0.1.0, a User-Agent;
//  - 5xx is retried with backoff (and 429: the spec allows it), never 2xx or another 4xx (408 included): a 4xx
//    request is dropped and counted (reason "rejected");
//  - samples of a series are sent in timestamp order (the queue is FIFO and retried in place);
//  - a series that a source no longer gives gets a stale marker (stale.ts).
// Metrics are not replayable history, so there is no dead-letter store here: the queue is
// bounded (queue.maxSamples) and the oldest requests beyond it are dropped (reason "queue_full").
// The queue is kept in the collector's database (request-queue.ts): what waits during an outage
// is sent after a restart.

import type { DatabaseSync } from 'node:sqlite';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { timerDelay } from '../../timer-delay.ts';
import { elapsedNow } from '../elapsed.ts';
import { parseDuration } from '../../config/units.ts';
import { CircuitBreaker } from '../circuit-breaker.ts';
import { BackendStatus, type DependencyHealth } from '../backend-status.ts';
import { displayUrl, httpEndpoint, send, type HttpEndpoint, type Transport } from '../http.ts';
import type { ExporterGauges, ExporterMetrics } from '../metrics.ts';
import type { ExportResult } from '../result.ts';
import { Retrier, RetryBudget, type Sleep } from '../retry.ts';
import type { Logger } from '../sink.ts';
import type { RemoteWriteConfig } from './config.ts';
import { encodeWriteRequest } from './encode.ts';
import { RequestQueue } from './request-queue.ts';
import type { MetricsSources } from './samples.ts';
import { StaleSeries } from './stale.ts';
import { cutForLog } from '../../log/cut.ts';

export interface RemoteWriteDeps {
  sources: MetricsSources;
  metrics: ExporterMetrics;
  logger: Logger;
  now?: () => number;
  sleep?: Sleep;
  /** The exporter's pool when it has `tls:` or a proxy. */
  transport?: Transport;
  /** Where the queue is kept across restarts; without it, in memory only. */
  db?: DatabaseSync;
}

export const REMOTE_WRITE_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
};

export class RemoteWriteExporter {
  readonly name: string;
  readonly type = 'prometheusRemoteWrite';
  readonly endpoint: string;
  readonly breaker: CircuitBreaker;
  readonly #config: RemoteWriteConfig;
  readonly #http: HttpEndpoint;
  readonly #d: RemoteWriteDeps;
  readonly #retrier: Retrier;
  readonly #now: () => number;
  readonly #labels: { exporter: string; type: string };
  readonly #queue: RequestQueue;
  readonly #stale = new StaleSeries();
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #reading: Promise<void> | undefined;
  #abort = new AbortController();
  #started = false;
  #stopped = false;
  readonly #status: BackendStatus;

  constructor(config: RemoteWriteConfig, deps: RemoteWriteDeps) {
    this.name = config.name;
    this.#config = config;
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#status = new BackendStatus(config.name, deps.logger, this.#now);
    this.#http = httpEndpoint(config.url, '', config.auth, { ...config.headers }, parseDuration(config.timeout), deps.transport);
    this.endpoint = displayUrl(this.#http);
    const r = config.retry;
    const c = config.circuitBreaker;
    // The samples' times are the wall clock's; the breaker's and the budget's waits are elapsed time (elapsed.ts).
    const elapsed = deps.now ?? elapsedNow;
    this.breaker = new CircuitBreaker(
      { failureThreshold: c.failureThreshold, openMs: parseDuration(c.openDuration), maxOpenMs: parseDuration(c.maxOpenDuration) },
      { now: elapsed, sleep: deps.sleep },
    );
    this.#status.watch(this.breaker);
    this.#retrier = new Retrier(
      { initialBackoffMs: parseDuration(r.initialBackoff), maxBackoffMs: parseDuration(r.maxBackoff), multiplier: 2, maxRetryAfterMs: parseDuration(r.maxRetryAfter) },
      new RetryBudget({ ratio: r.budgetRatio, minPerSecond: r.budgetMinPerSecond }, elapsed),
      { sleep: deps.sleep },
    );
    this.#labels = { exporter: this.name, type: this.type };
    this.#queue = new RequestQueue(this.name, deps.db, (err) => {
      if (err) deps.logger.warn({ exporter: this.name, err: err.message }, `exporter ${this.name}: cannot store queued samples; keeping them in memory (lost if the collector stops before they are sent)`);
      else deps.logger.info({ exporter: this.name }, `exporter ${this.name}: queued samples stored again`);
    });
    if (this.#queue.length > 0) {
      deps.logger.info({ exporter: this.name, samples: this.#queue.samples, requests: this.#queue.length }, `exporter ${this.name}: ${this.#queue.samples} samples queued before the restart will be sent first`);
    }
    const m = deps.metrics;
    m.sent.inc(this.#labels, 0);
    m.retries.inc(this.#labels, 0);
    for (const cls of ['retryable', 'permanent']) m.failedRequests.inc({ ...this.#labels, class: cls }, 0);
    for (const reason of ['rejected', 'queue_full']) m.dropped.inc({ ...this.#labels, reason }, 0);
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#d.metrics.register(this.name, this.type, () => this.gauges());
    const interval = parseDuration(this.#config.interval);
    this.#timer = setInterval(() => void this.tick(), timerDelay(interval));
    this.#timer.unref();
    if (this.#queue.length > 0) this.#kick(); // what waited before a restart goes first
    void this.tick();
  }

  /**
   * Reads the sources once and queues the samples (also called by tests). The read, the stale
   * markers and the encoding let the event loop turn between pieces (a source's pieces, 2 000
   * series, a request): at 19 000 OTLP histograms (342 000 samples) they held the ingest thread
   * for 2-10 s at each interval on a loaded machine. A tick while one is still running is that
   * one (two reads interleaved would queue a series' samples out of timestamp order).
   */
  tick(): Promise<void> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<void> {
    const now = this.#now();
    const batch = await this.#d.sources.collect(now, (source, err) =>
      this.#d.logger.warn({ exporter: this.name, source, err: err.message }, `exporter ${this.name}: metrics source failed`),
    );
    for (const marker of await this.#stale.markers(batch.bySource, now)) batch.samples.push(marker);
    const per = this.#config.maxSamplesPerRequest;
    for (let i = 0; i < batch.samples.length; i += per) {
      if (i > 0) await yieldToLoop();
      const samples = batch.samples.slice(i, i + per);
      const { body, skipped } = encodeWriteRequest(samples, i === 0 ? batch.metadata : [], this.#config.externalLabels);
      if (skipped) this.#d.metrics.dropped.inc({ ...this.#labels, reason: 'rejected' }, skipped);
      this.#enqueue(body, samples.length - skipped, now);
    }
    this.#kick();
  }

  #enqueue(body: Uint8Array, samples: number, at: number): void {
    this.#queue.push(body, samples, at);
    // Keep the request being sent (index 0); drop the next-oldest while over the bound.
    while (this.#queue.samples > this.#config.queue.maxSamples && this.#queue.length > 1) {
      const dropped = this.#queue.removeAt(this.#sending ? 1 : 0);
      this.#d.metrics.dropped.inc({ ...this.#labels, reason: 'queue_full' }, dropped.samples);
      this.#status.logRepeated({
        key: 'dropped queue_full',
        level: 'warn',
        fields: { exporter: this.name, reason: 'queue_full' },
        sum: { samples: dropped.samples },
        msg: (s) => `exporter ${this.name}: ${s.samples} samples dropped, not sent: the queue was over queue.maxSamples (${this.#config.queue.maxSamples}), oldest requests first`,
      });
    }
  }

  #kick(): void {
    this.#sending ??= this.#drain().finally(() => {
      this.#sending = undefined;
    });
  }

  async #drain(): Promise<void> {
    const signal = this.#abort.signal;
    for (let head = this.#queue.head; head && !signal.aborted; head = this.#queue.head) {
      const body = this.#queue.body(head);
      if (body instanceof Error) {
        this.#queue.removeAt(0);
        this.#d.metrics.dropped.inc({ ...this.#labels, reason: 'rejected' }, head.samples);
        this.#d.logger.warn({ exporter: this.name, err: body.message }, `exporter ${this.name}: cannot read a queued request back, ${head.samples} samples dropped`);
        continue;
      }
      const result = await this.#retrier.run(
        async (n) => {
          if (n > 1) this.#d.metrics.retries.inc(this.#labels);
          const result = await this.sendRequest(body, signal);
          this.#status.note(result);
          if (result.status !== 'success') this.#d.metrics.failedRequests.inc({ ...this.#labels, class: result.status });
          return result;
        },
        { signal, breaker: this.breaker },
      );
      if (result.aborted) return;
      this.#queue.removeAt(0);
      if (result.status === 'success') this.#d.metrics.sent.inc(this.#labels, head.samples);
      else {
        this.#d.metrics.dropped.inc({ ...this.#labels, reason: 'rejected' }, head.samples);
        this.#status.logRepeated({
          key: 'refused',
          level: 'warn',
          fields: { exporter: this.name, error: cutForLog(result.error) },
          sum: { samples: head.samples },
          msg: (s) => `exporter ${this.name}: remote write request refused, ${s.samples} samples dropped`,
        });
      }
    }
  }

  /** One POST of an encoded WriteRequest, classified; no retry. */
  async sendRequest(body: Uint8Array, signal?: AbortSignal): Promise<ExportResult> {
    const { result } = await send(this.#http, body, REMOTE_WRITE_HEADERS, { signal });
    // The shared rule retries 408 (Loki, Elasticsearch); remote write 1.0 allows retries on 5xx
    // and 429 only ("MUST NOT retry ... 4xx responses other than 429"), as Prometheus does.
    return result.httpStatus === 408 ? { ...result, status: 'permanent', retryAfterMs: undefined } : result;
  }

  /** Stops the timer, queues a last snapshot, sends what it can within shutdownTimeout. Safe twice and before start. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!this.#started) return;
    clearInterval(this.#timer);
    const deadline = setTimeout(() => this.#abort.abort(), this.breaker.state === 'open' ? 0 : timerDelay(parseDuration(this.#config.shutdownTimeout)));
    try {
      await this.#reading; // an interval's read under way, then the last snapshot
      if (this.breaker.state !== 'open') await this.tick();
      await this.#sending;
    } finally {
      clearTimeout(deadline);
      this.#abort.abort();
      await this.#sending;
      this.#status.flushLog();
      this.#d.metrics.unregister(this.name);
      if (this.#queue.length > 0) {
        this.#d.logger.warn(
          { exporter: this.name, samples: this.#queue.samples, requests: this.#queue.length },
          `exporter ${this.name}: stopped with ${this.#queue.samples} samples not sent; they stay queued for the next start`,
        );
      }
    }
  }

  gauges(): ExporterGauges {
    return {
      queueItems: this.#queue.samples,
      queueBytes: this.#queue.bytes,
      oldestAgeSeconds: this.#queue.head ? (this.#now() - this.#queue.head.at) / 1000 : 0,
      circuit: this.breaker.state,
      deadLetters: 0,
    };
  }

  health() {
    const g = this.gauges();
    const dep = this.dependency();
    return {
      status: dep.status === 'down' ? ('degraded' as const) : dep.status,
      type: this.type,
      queue: { samples: g.queueItems, requests: this.#queue.length, bytes: g.queueBytes, oldestAgeSeconds: Math.round(g.oldestAgeSeconds * 10) / 10 },
      circuit: g.circuit,
    };
  }

  dependency(): DependencyHealth {
    return this.#status.dependency(this.type, this.endpoint, this.breaker.state);
  }
}
