import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.ts';
import type { Sleep } from './retry.ts';

function clock() {
  let now = 0;
  const sleep: Sleep = async (ms, signal) => {
    // Time passes only when the test says so; a sleeper wakes on abort (state change) or after advance().
    if (signal?.aborted) return false;
    await new Promise<void>((resolve) => {
      const until = now + ms;
      const check = setInterval(() => {
        if (signal?.aborted || now >= until) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    return !signal?.aborted;
  };
  return { now: () => now, sleep, advance: (ms: number) => (now += ms) };
}

const retryable = { status: 'retryable' as const, error: 'HTTP 503' };
const success = { status: 'success' as const };

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive retryable failures, not before', async () => {
    const c = clock();
    const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, maxOpenMs: 8000 }, c);
    for (let i = 0; i < 2; i++) (await b.acquire())!.done(retryable);
    expect(b.state).toBe('closed');
    (await b.acquire())!.done(success); // a success resets the count
    for (let i = 0; i < 2; i++) (await b.acquire())!.done(retryable);
    expect(b.state).toBe('closed');
    (await b.acquire())!.done(retryable);
    expect(b.state).toBe('open');
    expect(b.openUntil).toBe(1000);
  });

  it('a permanent answer counts as the backend being up', async () => {
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 1000, maxOpenMs: 8000 }, clock());
    (await b.acquire())!.done({ status: 'permanent', httpStatus: 400 });
    expect(b.state).toBe('closed');
  });

  it('holds callers while open, lets exactly one probe through, closes on its success', async () => {
    const c = clock();
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 1000, maxOpenMs: 8000 }, c);
    (await b.acquire())!.done(retryable);
    let granted = 0;
    const waiters = [b.acquire(), b.acquire()].map((p) => p.then((permit) => (granted++, permit)));
    await new Promise((r) => setTimeout(r, 20));
    expect(granted).toBe(0);
    c.advance(1000);
    const probe = await Promise.race(waiters);
    expect(b.state).toBe('half-open');
    await new Promise((r) => setTimeout(r, 20));
    expect(granted).toBe(1); // the second caller waits for the probe
    probe!.done(success);
    await Promise.all(waiters);
    expect(granted).toBe(2);
    expect(b.state).toBe('closed');
  });

  it('a failed probe opens again for twice as long, up to the maximum', async () => {
    const c = clock();
    const states: string[] = [];
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 1000, maxOpenMs: 3000 }, c);
    b.onChange((s) => states.push(s));
    (await b.acquire())!.done(retryable);
    for (const expected of [2000, 3000, 3000]) {
      c.advance(b.openUntil! - c.now());
      const probe = await b.acquire();
      probe!.done(retryable);
      expect(b.openUntil! - c.now()).toBe(expected);
    }
    expect(states.slice(0, 3)).toEqual(['open', 'half-open', 'open']);
  });

  it('a cancelled probe frees the slot; an aborted wait resolves undefined', async () => {
    const c = clock();
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 1000, maxOpenMs: 8000 }, c);
    (await b.acquire())!.done(retryable);
    const abort = new AbortController();
    const waiting = b.acquire(abort.signal);
    abort.abort();
    expect(await waiting).toBeUndefined();
    c.advance(1000);
    (await b.acquire())!.cancel();
    const next = await b.acquire();
    expect(next).toBeDefined();
    next!.done(success);
    expect(b.state).toBe('closed');
  });

  it('respects a Retry-After longer than the open period', async () => {
    const c = clock();
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 1000, maxOpenMs: 60_000 }, c);
    (await b.acquire())!.done({ status: 'retryable', retryAfterMs: 30_000 });
    expect(b.openUntil).toBe(30_000);
  });
});
