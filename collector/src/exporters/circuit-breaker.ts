// One circuit breaker per exporter: after `failureThreshold` consecutive retryable failures the
// backend is considered down and is left alone for `openMs`; then one probe request is let
// through (half-open). A probe that succeeds closes the circuit; one that fails opens it again
// for twice as long (up to `maxOpenMs`). Nothing is lost while the circuit is open: log records
// stay in the durable log behind the exporter's cursor.
// Pattern: https://martinfowler.com/bliki/CircuitBreaker.html

import type { ExportResult } from './result.ts';
import { elapsedNow } from './elapsed.ts';
import { sleep as defaultSleep, type Sleep } from './retry.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';
export const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

export interface CircuitBreakerPolicy {
  failureThreshold: number;
  openMs: number;
  maxOpenMs: number;
}

/** Permission for one attempt. Exactly one of `done` / `cancel` must be called. */
export interface Permit {
  done(result: ExportResult): void;
  /** The attempt was not made (aborted): frees the probe slot without judging the backend. */
  cancel(): void;
}

export class CircuitBreaker {
  readonly #policy: CircuitBreakerPolicy;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openFor: number;
  #openUntil = 0;
  #probing = false;
  #waiters = new Set<() => void>();
  #listeners = new Set<(state: CircuitState) => void>();

  constructor(policy: CircuitBreakerPolicy, options: { now?: () => number; sleep?: Sleep } = {}) {
    this.#policy = policy;
    this.#now = options.now ?? elapsedNow;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#openFor = policy.openMs;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Consecutive retryable failures seen while closed. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** When the circuit is open: the time the next probe is allowed, on the breaker's clock (`now`). */
  get openUntil(): number | undefined {
    return this.#state === 'open' ? this.#openUntil : undefined;
  }

  /** When the circuit is open: how long until the next probe is allowed (ms). */
  get nextProbeInMs(): number | undefined {
    return this.#state === 'open' ? Math.max(0, this.#openUntil - this.#now()) : undefined;
  }

  onChange(listener: (state: CircuitState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Waits until an attempt is allowed; resolves undefined when `signal` aborts first.
   * Closed: at once. Open: until the open period ends, then the first caller becomes the probe.
   * Half-open with a probe in flight: until the probe's result is known.
   */
  async acquire(signal?: AbortSignal): Promise<Permit | undefined> {
    for (;;) {
      if (signal?.aborted) return undefined;
      if (this.#state === 'closed') return this.#permit(false);
      if (this.#state === 'open') {
        const wait = this.#openUntil - this.#now();
        if (wait > 0) {
          if (!(await this.#waitForChange(wait, signal))) return undefined;
          continue;
        }
        this.#set('half-open');
      }
      if (!this.#probing) {
        this.#probing = true;
        return this.#permit(true);
      }
      if (!(await this.#waitForChange(this.#policy.maxOpenMs, signal))) return undefined;
    }
  }

  /** Reports a result obtained outside `acquire` (e.g. a health probe). */
  record(result: ExportResult): void {
    this.#onResult(result, this.#state === 'half-open');
  }

  #permit(probe: boolean): Permit {
    let settled = false;
    return {
      done: (result) => {
        if (settled) return;
        settled = true;
        if (probe) this.#probing = false;
        this.#onResult(result, probe);
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        if (probe) {
          this.#probing = false;
          this.#wake();
        }
      },
    };
  }

  #onResult(result: ExportResult, probe: boolean): void {
    if (result.status !== 'retryable') {
      // The backend answered (even a permanent 4xx means it is up).
      this.#failures = 0;
      this.#openFor = this.#policy.openMs;
      if (this.#state !== 'closed') this.#set('closed');
      return;
    }
    if (probe || this.#state === 'half-open') {
      this.#openFor = Math.min(this.#policy.maxOpenMs, this.#openFor * 2);
      this.#open(result);
      return;
    }
    if (this.#state !== 'closed') return; // late result of an attempt started before opening
    this.#failures++;
    if (this.#failures >= this.#policy.failureThreshold) this.#open(result);
  }

  #open(result: ExportResult): void {
    // A Retry-After longer than the open period is respected by the breaker too.
    const wait = Math.max(this.#openFor, Math.min(result.retryAfterMs ?? 0, this.#policy.maxOpenMs));
    this.#openUntil = this.#now() + wait;
    this.#failures = 0;
    this.#set('open');
  }

  #set(state: CircuitState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const l of this.#listeners) l(state);
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Sleeps up to `ms` or until the state changes; false when aborted. */
  async #waitForChange(ms: number, signal?: AbortSignal): Promise<boolean> {
    const inner = new AbortController();
    const wake = () => inner.abort();
    this.#waiters.add(wake);
    const onAbort = () => inner.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    await this.#sleep(ms, inner.signal);
    this.#waiters.delete(wake);
    signal?.removeEventListener('abort', onAbort);
    return !signal?.aborted;
  }
}
