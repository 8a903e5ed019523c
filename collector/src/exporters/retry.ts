// The one retry helper of every exporter (DESIGN.md principle 3): exponential backoff with full
// jitter, Retry-After honoured, and a retry budget so that retries never multiply the load on a
// struggling backend. Backoff with full jitter:
// https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
// Retry budgets (retries as a fraction of requests plus a floor): Finagle / Linkerd.

import { timerDelay } from '../timer-delay.ts';
import { elapsedNow } from './elapsed.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { ExportResult } from './result.ts';

export interface RetryPolicy {
  /** Upper bound of the first retry's delay; later ones double (× multiplier) up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  /** A Retry-After longer than this is cut to it (a backend must not stall us for a day). */
  maxRetryAfterMs: number;
}

export interface RetryBudgetPolicy {
  /** Retries allowed per first attempt (0.2: retries add at most 20 % to the request rate)… */
  ratio: number;
  /** …plus this many retries per second whatever the request rate (so a quiet exporter can retry). */
  minPerSecond: number;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<boolean>;

/** Resolves true after `ms`, or false as soon as `signal` aborts. Never rejects. */
export const sleep: Sleep = (ms, signal) =>
  new Promise<boolean>((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, timerDelay(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Delay before retry number `retry` (1 = the first retry): uniformly random in
 * [0, min(maxBackoff, initial × multiplier^(retry-1))] ("full jitter").
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Token bucket shared by all requests of one exporter. Each first attempt deposits `ratio`
 * tokens, time deposits `minPerSecond` per second, each retry takes one. The bucket holds at most
 * ten seconds' worth of the floor plus ten requests' worth of the ratio, so a long quiet spell
 * cannot save up a retry storm.
 */
export class RetryBudget {
  readonly #policy: RetryBudgetPolicy;
  readonly #now: () => number;
  readonly #cap: number;
  #tokens: number;
  #at: number;

  constructor(policy: RetryBudgetPolicy, now: () => number = elapsedNow) {
    this.#policy = policy;
    this.#now = now;
    this.#cap = Math.max(1, policy.minPerSecond * 10 + policy.ratio * 10);
    this.#tokens = Math.min(this.#cap, Math.max(1, policy.minPerSecond));
    this.#at = now();
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#cap, this.#tokens + ((now - this.#at) / 1000) * this.#policy.minPerSecond);
    this.#at = now;
  }

  /** A first attempt (not a retry) was made. */
  deposit(): void {
    this.#refill();
    this.#tokens = Math.min(this.#cap, this.#tokens + this.#policy.ratio);
  }

  /** Takes a token for one retry; false when the budget is spent. */
  tryWithdraw(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** How long until one token is there (0 when there is one now). */
  msUntilToken(): number {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    if (this.#policy.minPerSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil(((1 - this.#tokens) / this.#policy.minPerSecond) * 1000);
  }
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Attempts in all, first included. Infinity: until success, permanent failure or abort. */
  maxAttempts?: number;
  /** When given, every attempt waits for the breaker's permission and reports its result to it. */
  breaker?: CircuitBreaker;
  /** Called before each retry with the result that caused it (for metrics and logs). */
  onRetry?: (result: ExportResult, retry: number, delayMs: number) => void;
}

export type RunResult = ExportResult & { attempts: number; aborted?: boolean };

/**
 * Retry helper: decides each delay and waits it out. Used directly (`run`) by exporters that
 * send whole requests (remote write, template install, dead-letter replay), and step by step
 * (`waitBeforeRetry`) by the log delivery loop, which retries only the items that failed.
 */
export class Retrier {
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget;
  readonly #sleep: Sleep;
  readonly #random: () => number;

  constructor(policy: RetryPolicy, budget: RetryBudget, options: { sleep?: Sleep; random?: () => number } = {}) {
    this.policy = policy;
    this.budget = budget;
    this.#sleep = options.sleep ?? sleep;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before retry number `retry` after `result`: Retry-After when given (capped), else backoff. */
  delayFor(retry: number, result: ExportResult): number {
    if (result.retryAfterMs !== undefined) return Math.min(result.retryAfterMs, this.policy.maxRetryAfterMs);
    return backoffDelay(retry, this.policy, this.#random);
  }

  /**
   * Waits before retry number `retry`: the delay, then (if the budget is spent) until a token is
   * there. Returns the milliseconds waited, or -1 when `signal` aborted the wait.
   */
  async waitBeforeRetry(retry: number, result: ExportResult, signal?: AbortSignal, delay = this.delayFor(retry, result)): Promise<number> {
    let waited = delay;
    if (!(await this.#sleep(waited, signal))) return -1;
    while (!this.budget.tryWithdraw()) {
      const more = Math.min(this.budget.msUntilToken(), this.policy.maxBackoffMs);
      waited += more;
      if (!(await this.#sleep(more, signal))) return -1;
    }
    return waited;
  }

  /** Calls `attempt` until success, a permanent failure, maxAttempts, or abort. Never throws. */
  async run(attempt: (n: number) => Promise<ExportResult>, options: RunOptions = {}): Promise<RunResult> {
    const max = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    let last: ExportResult = { status: 'retryable', error: 'not attempted' };
    for (let n = 1; n <= max; n++) {
      if (options.signal?.aborted) return { ...last, attempts: n - 1, aborted: true };
      const permit = options.breaker ? await options.breaker.acquire(options.signal) : undefined;
      if (options.breaker && !permit) return { ...last, attempts: n - 1, aborted: true };
      if (n === 1) this.budget.deposit();
      try {
        last = await attempt(n);
      } catch (err) {
        // An attempt function must return values; a throw is a bug, reported and retried.
        last = { status: 'retryable', error: `exporter bug: ${(err as Error).message}` };
      }
      permit?.done(last);
      if (last.status !== 'retryable' || n === max) return { ...last, attempts: n };
      const delay = this.delayFor(n, last);
      options.onRetry?.(last, n, delay);
      if ((await this.waitBeforeRetry(n, last, options.signal, delay)) < 0) return { ...last, attempts: n, aborted: true };
    }
    return { ...last, attempts: max };
  }
}
