// Sending one batch of items until each has a final result: the one loop that the log delivery
// (delivery.ts, records) and the traces export (elasticsearch/span-export.ts, spans) share.
// Contract:
//  - Every attempt waits for the exporter's circuit breaker and reports to it: a request that got
//    some item through (or refused for good) counts as an answer from a working backend.
//  - Per-item answers (Elasticsearch `_bulk`): only the retryable items are sent again, and those
//    refused as a whole request refusing everything would be (401/403/404: an API key without the
//    privilege to write the data stream, or to create it): every item of the request goes to
//    the same data stream, so they are the configuration's refusal, not the records'.
//  - A whole-request permanent failure that names no item (`bisect`: Loki 400, 413) is sent again
//    in halves until the bad items are alone; they, and every item of any other permanent
//    failure, are returned as permanent (for the dead letters). Items the answer does name
//    (`refused`: a Loki 400 about a whole stream) are permanent at once, and the rest is sent again.
//  - A whole-request retryable failure sends the same array again, so a sender can recognise it
//    (and reuse a body encoded for it elsewhere). So does a whole-request refusal of everything as
//    configured (401, 403, 404, 405, 407: credentials, tenant, URL; backend-status.ts): it says
//    nothing about the items, and dead-lettering them filed the whole stream away while the
//    credentials were wrong, past `deadLetter.maxRecords` (the oldest then deleted) and into what
//    Loki refuses on replay (an entry more than an hour older than its stream's newest).
//  - Retries wait for the shared retry helper (backoff, Retry-After, budget).

import { refusesEverything, type BackendStatus } from './backend-status.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { ExporterMetrics } from './metrics.ts';
import type { ExportResult } from './result.ts';
import type { Retrier, RunResult } from './retry.ts';
import type { BatchResult } from './sink.ts';

/** What became of a batch's items. */
export interface Resolution<T> {
  delivered: number;
  /** Of `delivered`, the items the backend already had (an Elasticsearch 409 on the deterministic `_id`). */
  duplicates: number;
  permanent: Array<{ item: T; result: ExportResult }>;
  /** Not resolved: aborted, out of rounds, or given up (`gaveUp`). */
  unresolved: T[];
  gaveUp: boolean;
}

/** Adds the resolution of a part of a batch (a half, the rest after named refusals) to the batch's. */
function addResolution<T>(out: Resolution<T>, part: Resolution<T>): void {
  out.delivered += part.delivered;
  out.duplicates += part.duplicates;
  out.permanent.push(...part.permanent);
  out.unresolved.push(...part.unresolved);
  out.gaveUp ||= part.gaveUp;
}

export interface ResolveLimits {
  /** Attempts per item at most; Infinity until resolved or aborted. */
  maxRounds?: number;
  /** Asked before each retry: true stops, the rest is returned unresolved with `gaveUp`. */
  giveUp?: () => boolean;
  /**
   * Return the items unresolved instead of waiting while the circuit is not closed (a dead-letter
   * replay: its HTTP client waits for the answer, and the circuit stays open for up to
   * circuitBreaker.maxOpenDuration per round).
   */
  notWhileOpen?: boolean;
}

/** One exporter's resolver: its breaker, retry helper, health and metrics. */
export class BatchResolver {
  readonly #breaker: CircuitBreaker;
  readonly #retrier: Retrier;
  readonly #status: BackendStatus;
  readonly #metrics: ExporterMetrics;
  readonly #labels: { exporter: string; type: string };

  constructor(deps: { breaker: CircuitBreaker; retrier: Retrier; status: BackendStatus; metrics: ExporterMetrics; labels: { exporter: string; type: string } }) {
    this.#breaker = deps.breaker;
    this.#retrier = deps.retrier;
    this.#status = deps.status;
    this.#metrics = deps.metrics;
    this.#labels = deps.labels;
  }

  /**
   * One request that carries no items (installing an index template), retried until success, a
   * permanent failure or abort, and counted like a batch's requests: retries, failed requests by
   * class, the backend's health.
   */
  request(send: () => Promise<ExportResult>, signal: AbortSignal): Promise<RunResult> {
    return this.#retrier.run(
      async (n) => {
        if (n > 1) this.#metrics.retries.inc(this.#labels);
        const result = await send();
        if (signal.aborted) return result;
        if (result.status !== 'success') this.#metrics.failedRequests.inc({ ...this.#labels, class: result.status });
        this.#status.note(result);
        return result;
      },
      { signal, breaker: this.#breaker },
    );
  }

  /**
   * Sends `items` (through `send`, which must answer in the order of the items it was given) until
   * each has a final result, or abort, `maxRounds` attempts, or `giveUp()`.
   */
  async resolve<T>(items: T[], send: (items: T[]) => Promise<BatchResult>, signal: AbortSignal, limits: ResolveLimits = {}): Promise<Resolution<T>> {
    const maxRounds = limits.maxRounds ?? Number.POSITIVE_INFINITY;
    const out: Resolution<T> = { delivered: 0, duplicates: 0, permanent: [], unresolved: [], gaveUp: false };
    let pending = items;
    for (let round = 1; pending.length > 0; round++) {
      if (limits.notWhileOpen && this.#breaker.state !== 'closed') break;
      const permit = await this.#breaker.acquire(signal);
      if (!permit) break;
      if (round === 1) this.#retrier.budget.deposit();
      else this.#metrics.retries.inc(this.#labels);
      let answer: BatchResult;
      try {
        answer = await send(pending);
      } catch (err) {
        answer = { result: { status: 'retryable', error: `exporter bug: ${(err as Error).message}` } };
      }
      if (signal.aborted && answer.result.status === 'retryable') {
        permit.cancel();
        break;
      }
      const judged = summarize(answer);
      // The status first: the breaker's line when this answer opens the circuit says how long the backend has failed.
      this.#status.note(judged);
      permit.done(judged);
      let retry: T[] = [];
      let retryAfterMs: number | undefined;
      if (answer.items) {
        for (let i = 0; i < pending.length; i++) {
          const r = answer.items[i] ?? answer.result;
          if (r.status === 'success') {
            out.delivered++;
            if (r.httpStatus === 409) out.duplicates++;
          } else if (r.status === 'permanent' && !refusesEverything(r)) out.permanent.push({ item: pending[i], result: r });
          else {
            retry.push(pending[i]);
            if (r.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, r.retryAfterMs);
          }
        }
        if (retry.length) this.#metrics.failedRequests.inc({ ...this.#labels, class: 'retryable' });
      } else if (answer.result.status === 'success') {
        out.delivered += pending.length;
      } else if (answer.result.status === 'permanent' && refusesEverything(answer.result)) {
        this.#metrics.failedRequests.inc({ ...this.#labels, class: 'permanent' });
        retry = pending;
      } else if (answer.result.status === 'permanent') {
        this.#metrics.failedRequests.inc({ ...this.#labels, class: 'permanent' });
        const named = answer.bisect ? namedItems(answer, pending.length) : undefined;
        if (named) {
          // Refused by the answer itself: no bisection down to them; the rest is sent once more.
          for (const [index, error] of named) out.permanent.push({ item: pending[index], result: { status: 'permanent', error, httpStatus: answer.result.httpStatus } });
          const rest = pending.filter((_, i) => !named.has(i));
          if (rest.length) {
            addResolution(out, await this.resolve(rest, send, signal, { ...limits, maxRounds }));
          }
          return out;
        }
        if (answer.bisect && pending.length > 1) {
          const mid = pending.length >> 1;
          for (const half of [pending.slice(0, mid), pending.slice(mid)]) {
            addResolution(out, await this.resolve(half, send, signal, { ...limits, maxRounds }));
          }
          return out;
        }
        for (const item of pending) out.permanent.push({ item, result: answer.result });
      } else {
        this.#metrics.failedRequests.inc({ ...this.#labels, class: 'retryable' });
        retry = pending;
        retryAfterMs = answer.result.retryAfterMs;
      }
      pending = retry;
      if (pending.length === 0) break;
      if (round >= maxRounds) break;
      if (limits.giveUp?.()) {
        out.gaveUp = true;
        break;
      }
      const waited = await this.#retrier.waitBeforeRetry(round, { status: 'retryable', retryAfterMs }, signal);
      if (waited < 0) break;
    }
    out.unresolved.push(...pending);
    return out;
  }
}

/** The items an answer refuses by itself (BatchResult.refused), by index: at least one, or undefined. */
function namedItems(answer: BatchResult, count: number): Map<number, string> | undefined {
  if (!answer.refused) return undefined;
  const named = new Map<number, string>();
  for (const { index, error } of answer.refused) if (Number.isInteger(index) && index >= 0 && index < count) named.set(index, error);
  return named.size > 0 ? named : undefined;
}

/**
 * One result for the breaker and health from a batch answer: an item refused for good (its reason
 * becomes health's lastError, as a whole request's refusal does), else success when any item got
 * through, else the first retryable item's. The first two tell the breaker the backend works.
 */
function summarize(answer: BatchResult): ExportResult {
  if (!answer.items) return answer.result;
  const refused = answer.items.find((r) => r.status === 'permanent');
  if (refused) return refused;
  if (answer.items.some((r) => r.status === 'success')) return { status: 'success' };
  return answer.items.find((r) => r.status === 'retryable') ?? answer.result;
}
