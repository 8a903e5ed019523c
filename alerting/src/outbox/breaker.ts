// Per-integration circuit breaker: after `failures` consecutive retryable failures the integration is
// "open" for `cooldownMs` (no attempts, nothing counted against the notifications waiting); then one
// trial attempt ("half-open") closes it on success or reopens it on failure.
// Permanent failures are about one message, not the integration, and do not count.

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  #failures = 0;
  #openUntil = 0;
  #state: BreakerState = 'closed';
  #trialInFlight = false;
  /** When it opened from closed (the outage's start, for the line that says it ended). */
  #openedAt = 0;

  constructor(threshold: number, cooldownMs: number) {
    this.#threshold = threshold;
    this.#cooldownMs = cooldownMs;
  }

  state(now: number): BreakerState {
    if (this.#state === 'open' && now >= this.#openUntil) return 'half_open';
    return this.#state;
  }

  /** When an attempt may be made; 0 means now. */
  readyAt(now: number): number {
    const s = this.state(now);
    if (s === 'open') return this.#openUntil;
    if (s === 'half_open' && this.#trialInFlight) return Number.POSITIVE_INFINITY;
    return 0;
  }

  /** Takes the right to attempt now (the single trial when half-open). */
  tryAcquire(now: number): boolean {
    const s = this.state(now);
    if (s === 'closed') return true;
    if (s === 'open' || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  /** The wall clock stepped by `ms`: the cooldown, elapsed time, ends as much earlier (later) by it. */
  shift(ms: number): void {
    if (this.#state === 'open') this.#openUntil += ms;
  }

  /** A success. Returns how long it had been open when this closed it, else undefined. */
  success(now: number): number | undefined {
    const wasOpen = this.#state === 'open';
    this.#failures = 0;
    this.#state = 'closed';
    this.#trialInFlight = false;
    return wasOpen ? Math.max(0, now - this.#openedAt) : undefined;
  }

  /**
   * A retryable failure. Returns `opened` when it opened the closed breaker, `reopened` when a
   * failed trial opened it again (every cooldown of an outage: not news), else undefined.
   */
  failure(now: number): 'opened' | 'reopened' | undefined {
    const wasTrial = this.#trialInFlight;
    this.#trialInFlight = false;
    this.#failures++;
    if (wasTrial || this.#failures >= this.#threshold) {
      const change = this.#state !== 'open' ? 'opened' : wasTrial ? 'reopened' : undefined;
      if (change === 'opened') this.#openedAt = now;
      this.#state = 'open';
      this.#openUntil = now + this.#cooldownMs;
      return change;
    }
    return undefined;
  }

  /** A permanent failure: says nothing about the integration, but ends a trial. */
  neutral(): void {
    this.#trialInFlight = false;
  }
}
