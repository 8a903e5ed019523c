// Batching + delivery of serialized records to the collector (runs in the transport worker).
//
// Contract (product issue "SDK logging", collector ingest API):
// - add() never blocks and never throws; the buffer is bounded (buffer.ts decides what to drop).
// - A batch is sent when it reaches batchMaxRecords / batchMaxBytes, or flushIntervalMs after its
//   oldest record was queued (a partial batch left over after full ones waits for its own time).
//   One request is in flight at a time; while it is being retried new records keep queueing
//   (bounded), so records are delivered in order. Retries are unlimited until shutdown.
// - A record is "sent" once the collector answered 2xx for it and did not list it as rejected.
// - Body: NDJSON of records, gzip (content-encoding: gzip) unless `gzip` is false; POST
//   {endpoint}/api/v1/logs, content-type: application/x-ndjson. Credentials in the endpoint
//   (http://user:pass@host) are sent as Basic authorization, as node:http sends them for the OTLP
//   exporters: fetch() refuses a URL that carries them (Fetch standard), and every batch failed.
// - Each batch carries an Idempotency-Key (a UUID, kept through its retries; the halves of a split
//   batch get their own): a retry of a batch the collector stored but whose answer was lost (a
//   timeout, a reset connection, the collector killed after its commit) is answered from the key
//   and not stored twice (collector/src/ingest/idempotency-keys.ts).
// - Responses are handled per retry.ts: 2xx (partial rejections counted as `rejected`),
//   413 split in halves (single record → `too_large`), 408/409/429/5xx/network → retry with backoff,
//   other 4xx → `permanent_error`, except a 400 that lists every record as rejected (the
//   collector's NO_VALID_RECORDS): `rejected`, as in a 200.
// - shutdown(deadline) sends everything immediately (no timer), retries until the deadline, then
//   counts whatever is left (queued or in flight) as `shutdown_timeout`. It never rejects.
// - All counters go to the SharedState (stats.ts) so the main thread can read them.

import { randomUUID } from 'node:crypto';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { RecordBuffer, type Entry } from './buffer.ts';
import { decide, parseRetryAfter, retryDelayMs } from './retry.ts';
import { C, addCounter, setCounter, type DropReason, type SharedState } from './stats.ts';
import { basicToken, takeUrlCredentials } from '../url-credentials.ts';
import type { TlsFiles } from '../otel-env.ts';
import { hasTls, tlsFetch } from './tls-fetch.ts';
import { monotonicDeadline } from '../monotonic-deadline.ts';
import { refusal, tlsFailure, type DeliveryProblem } from './delivery-problem.ts';

const gzipAsync = promisify(gzip);

/**
 * The clock of the flush interval and of retry waits: milliseconds that never step. Date.now()
 * follows the host's wall clock, which NTP, a resumed VM or `date -s` can step: an hour back held
 * a partial batch, or a retry, for that hour (a quiet app's records sat in memory, lost if it
 * crashed meanwhile). The shutdown deadline, an epoch time from its callers, is read on it once given.
 */
const elapsed = (): number => performance.now();

export interface ShipperOptions {
  endpoint: string;
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS); the body's content-type and encoding are the shipper's. */
  headers?: Record<string, string>;
  maxBufferBytes: number;
  batchMaxRecords: number;
  batchMaxBytes: number;
  flushIntervalMs: number;
  requestTimeoutMs: number;
  /** A CA and client certificate of the SDK's own for https (OTEL_EXPORTER_OTLP_CERTIFICATE …); none: Node's defaults. */
  tls?: TlsFiles;
  /** false (OTEL_EXPORTER_OTLP_COMPRESSION=none): bodies are sent uncompressed. Default true. */
  gzip?: boolean;
}

export interface ShipperDeps {
  fetch?: typeof globalThis.fetch;
  random?: () => number;
  /** Told of each delivery problem an operator must fix (delivery-problem.ts); the shipper goes on as before. */
  onProblem?: (problem: DeliveryProblem) => void;
}

type Outcome = { decision: 'ok'; rejected: number } | { decision: 'split' | 'permanent' } | { decision: 'retry'; retryAfterMs?: number };

export class Shipper {
  private readonly opts: ShipperOptions;
  private readonly onProblem: ((problem: DeliveryProblem) => void) | undefined;
  private readonly state: SharedState;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof globalThis.fetch;
  private readonly random: () => number;
  readonly buffer: RecordBuffer;

  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  /** > 0 while flush()/shutdown() want partial batches sent without waiting for the timer. */
  private urgent = 0;
  private deadlineAt = Infinity;
  /** deadlineAt on the elapsed clock, read once when it is given: a step of the wall clock moves neither. */
  private deadlineElapsed = Infinity;
  private readonly stop = new AbortController();
  /** The request body's NDJSON, reused: one request is in flight at a time and gzip has read it before post() returns. */
  private ndjsonBuffer = Buffer.alloc(0);
  private deadlineTimer: NodeJS.Timeout | undefined;
  private wakeSleeper: (() => void) | undefined;

  constructor(opts: ShipperOptions, state: SharedState, deps: ShipperDeps = {}) {
    this.opts = opts;
    this.state = state;
    const url = new URL(`${opts.endpoint.replace(/\/+$/, '')}/api/v1/logs`);
    this.headers = { ...opts.headers, 'content-type': 'application/x-ndjson' };
    if (opts.gzip !== false) this.headers['content-encoding'] = 'gzip';
    else delete this.headers['content-encoding'];
    const credentials = takeUrlCredentials(url);
    // an authorization header of OTEL_EXPORTER_OTLP_HEADERS wins, as it does in the OTLP exporters
    if (credentials && this.headers.authorization === undefined) this.headers.authorization = `Basic ${basicToken(credentials)}`;
    this.url = url.href;
    this.fetch = deps.fetch ?? (hasTls(opts.tls) ? tlsFetch(opts.tls) : globalThis.fetch);
    this.random = deps.random ?? Math.random;
    this.onProblem = deps.onProblem;
    this.buffer = new RecordBuffer(opts.maxBufferBytes);
  }

  /** Queues one serialized record (`line` must end with "\n"). */
  add(severity: number, line: string): void {
    const result = this.buffer.add(severity, line, elapsed());
    if (!result.accepted) addCounter(this.state, result.tooLarge ? C.too_large : C.buffer_full, 1);
    addCounter(this.state, C.buffer_full, result.evicted);
    this.publishBytes();
    this.schedule();
  }

  /**
   * Counts a record of this severity as dropped (buffer_full) and returns true when the buffer
   * would refuse it anyway, so the caller can skip building it (saves worker CPU under overload).
   */
  dropEarly(severity: number): boolean {
    if (!this.buffer.certainlyRejects(severity)) return false;
    addCounter(this.state, C.buffer_full, 1);
    return true;
  }

  /** Sends what is queued now; resolves when idle or after `maxWaitMs`. Drops nothing. */
  async flush(maxWaitMs: number): Promise<void> {
    this.urgent++;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.drain(), new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    } finally {
      clearTimeout(timer);
      this.urgent--;
    }
  }

  /** Sends everything until `deadlineAt` (epoch ms); the rest is dropped as `shutdown_timeout`. */
  async shutdown(deadlineAt: number): Promise<void> {
    try {
      if (deadlineAt < this.deadlineAt) {
        this.deadlineAt = deadlineAt;
        this.deadlineElapsed = monotonicDeadline(deadlineAt);
        clearTimeout(this.deadlineTimer);
        this.deadlineTimer = setTimeout(() => this.stop.abort(), Math.max(0, deadlineAt - Date.now()));
      }
      this.urgent++;
      this.wakeSleeper?.(); // a retry wait must now end at the deadline at the latest
      await this.drain();
      const left = this.buffer.clear();
      addCounter(this.state, C.shutdown_timeout, left);
      this.publishBytes();
    } catch {
      // never reject
    } finally {
      this.urgent--;
    }
  }

  /** Releases timers (after shutdown). */
  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
    this.timer = this.deadlineTimer = undefined;
  }

  private pastDeadline(): boolean {
    return elapsed() >= this.deadlineElapsed;
  }

  private publishBytes(): void {
    setCounter(this.state, C.bufferedBytes, this.buffer.totalBytes);
    setCounter(this.state, C.bufferedRecords, this.buffer.totalCount);
  }

  /** A request should go out now: a full batch is queued, someone flushes, or the oldest is due. */
  private due(now: number): boolean {
    const b = this.buffer;
    if (b.queuedCount === 0) return false;
    if (this.urgent > 0 || b.queuedCount >= this.opts.batchMaxRecords || b.queuedBytes >= this.opts.batchMaxBytes) return true;
    return now >= (b.oldestAt() ?? now) + this.opts.flushIntervalMs;
  }

  private schedule(): void {
    if (this.pumping) return; // the running loop picks new records up
    const now = elapsed();
    if (this.due(now)) {
      this.kick();
    } else if (this.buffer.queuedCount === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else if (this.timer === undefined) {
      const wait = (this.buffer.oldestAt() ?? now) + this.opts.flushIntervalMs - now;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, Math.max(1, wait));
    }
  }

  private kick(): void {
    if (this.pumping) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      this.schedule();
    });
  }

  /** Until nothing is queued and nothing is in flight (or the deadline made everything drop). */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.buffer.queuedCount > 0) this.kick();
      const running = this.pumping;
      if (!running) return;
      await running;
    }
  }

  private async pump(): Promise<void> {
    while (this.due(elapsed())) {
      const batch = this.buffer.take(this.opts.batchMaxRecords, this.opts.batchMaxBytes);
      try {
        await this.deliver(batch);
      } catch {
        this.giveUp(batch, 'permanent_error'); // unexpected (bug guard): never wedge the loop
      }
    }
  }

  private report(problem: () => DeliveryProblem | undefined): void {
    if (!this.onProblem) return;
    try {
      const found = problem();
      if (found) this.onProblem(found);
    } catch {
      // telling is best effort: delivery goes on
    }
  }

  private giveUp(batch: Entry[], reason: DropReason): void {
    addCounter(this.state, C[reason], batch.length);
    this.buffer.release(batch);
    this.publishBytes();
  }

  private async deliver(batch: Entry[]): Promise<void> {
    // A Structured Field string, as the draft defines the header (RFC 8941 §3.3.3).
    const key = `"${randomUUID()}"`;
    for (let attempt = 0; ; attempt++) {
      if (this.pastDeadline()) return this.giveUp(batch, 'shutdown_timeout');
      const outcome = await this.post(batch, key);
      switch (outcome.decision) {
        case 'ok':
          addCounter(this.state, C.sent, batch.length - outcome.rejected);
          addCounter(this.state, C.rejected, outcome.rejected);
          this.buffer.release(batch);
          this.publishBytes();
          return;
        case 'permanent':
          return this.giveUp(batch, 'permanent_error');
        case 'split': {
          if (batch.length === 1) return this.giveUp(batch, 'too_large');
          const mid = Math.ceil(batch.length / 2);
          await this.deliver(batch.slice(0, mid));
          await this.deliver(batch.slice(mid));
          return;
        }
        case 'retry': {
          if (this.pastDeadline()) return this.giveUp(batch, 'shutdown_timeout');
          addCounter(this.state, C.retries, 1);
          await this.sleepFor(retryDelayMs(attempt, outcome.retryAfterMs, this.random));
        }
      }
    }
  }

  /** Waits `waitMs`, or until the deadline if earlier; re-evaluated when shutdown starts. */
  private async sleepFor(waitMs: number): Promise<void> {
    const at = elapsed() + waitMs;
    for (;;) {
      const ms = Math.min(at, this.deadlineElapsed) - elapsed();
      if (ms <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.wakeSleeper = done;
      });
      this.wakeSleeper = undefined;
    }
  }

  /**
   * The batch's lines as UTF-8 in one reused buffer. Joining them into one string cost about a
   * microsecond per record: a body-sized string lives in V8's large-object space (fresh pages
   * each time), and gzip encoded it to bytes again.
   */
  private ndjson(batch: Entry[]): Buffer {
    let size = 0;
    for (const e of batch) size += e.bytes;
    if (this.ndjsonBuffer.length < size) this.ndjsonBuffer = Buffer.allocUnsafeSlow(Math.max(size, 2 * this.ndjsonBuffer.length));
    let at = 0;
    for (const e of batch) at += this.ndjsonBuffer.write(e.line, at);
    return this.ndjsonBuffer.subarray(0, at);
  }

  private async post(batch: Entry[], idempotencyKey: string): Promise<Outcome> {
    try {
      // uncompressed, a copy: the reused buffer must not change while fetch may still be sending it
      const body = this.opts.gzip === false ? Buffer.from(this.ndjson(batch)) : await gzipAsync(this.ndjson(batch));
      const signal = AbortSignal.any([AbortSignal.timeout(this.opts.requestTimeoutMs), this.stop.signal]);
      const res = await this.fetch(this.url, {
        method: 'POST',
        headers: { ...this.headers, 'idempotency-key': idempotencyKey },
        body,
        signal,
      });
      const text = await res.text(); // always consume, so the connection is reused
      const decision = decide(res.status);
      if (decision === 'ok') return { decision, rejected: countRejected(text, batch.length) };
      // 400 NO_VALID_RECORDS: the collector refused each record for a reason of its own, listed as
      // for a 200, so they count as `rejected` alike, whether or not a valid one shared the batch.
      if (decision === 'permanent' && res.status === 400 && countRejected(text, batch.length) === batch.length) return { decision: 'ok', rejected: batch.length };
      if (decision === 'retry') return { decision, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
      this.report(() => refusal(this.url, res.status, text));
      return { decision };
    } catch (err) {
      this.report(() => tlsFailure(this.url, err));
      return { decision: 'retry' }; // network error, timeout, abort at the deadline
    }
  }
}

/**
 * Number of distinct valid indices in a `{"rejected":[{"index":i,…}]}` body (0 when absent), or
 * its `rejectedCount` when the collector cut the list (more rejections than it lists).
 */
export function countRejected(body: string, batchLength: number): number {
  try {
    const parsed = JSON.parse(body) as { rejected?: Array<{ index?: unknown }>; rejectedCount?: unknown };
    const total = parsed?.rejectedCount;
    if (typeof total === 'number' && Number.isInteger(total) && total >= 0) return Math.min(total, batchLength);
    if (!Array.isArray(parsed?.rejected)) return 0;
    const seen = new Set<number>();
    for (const r of parsed.rejected) {
      if (Number.isInteger(r?.index) && (r.index as number) >= 0 && (r.index as number) < batchLength) seen.add(r.index as number);
    }
    return seen.size;
  } catch {
    return 0;
  }
}
