import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.ts';
import { classifyHttpStatus, parseRetryAfter, type ExportResult } from './result.ts';
import { backoffDelay, Retrier, RetryBudget, type RetryPolicy, type Sleep } from './retry.ts';

const policy: RetryPolicy = { initialBackoffMs: 100, maxBackoffMs: 1000, multiplier: 2, maxRetryAfterMs: 5000 };

/** A fake clock whose sleep advances time instantly and records each delay. */
function fakeTime() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const sleep: Sleep = async (ms, signal) => {
    if (signal?.aborted) return false;
    sleeps.push(ms);
    now += ms;
    return !signal?.aborted;
  };
  return { now: () => now, sleep, sleeps, advance: (ms: number) => (now += ms) };
}

describe('classifyHttpStatus', () => {
  it.each([
    { name: '200', status: 200, want: 'success' },
    { name: '204', status: 204, want: 'success' },
    { name: '400 bad request', status: 400, want: 'permanent' },
    { name: '401', status: 401, want: 'permanent' },
    { name: '403', status: 403, want: 'permanent' },
    { name: '404', status: 404, want: 'permanent' },
    { name: '408 request timeout', status: 408, want: 'retryable' },
    { name: '409', status: 409, want: 'permanent' },
    { name: '413', status: 413, want: 'permanent' },
    { name: '429', status: 429, want: 'retryable' },
    { name: '500', status: 500, want: 'retryable' },
    { name: '502', status: 502, want: 'retryable' },
    { name: '503', status: 503, want: 'retryable' },
    { name: '504', status: 504, want: 'retryable' },
  ])('$name → $want', ({ status, want }) => {
    expect(classifyHttpStatus(status).status).toBe(want);
  });

  it('carries Retry-After of retryable answers', () => {
    expect(classifyHttpStatus(429, '7')).toMatchObject({ status: 'retryable', retryAfterMs: 7000, httpStatus: 429 });
    expect(classifyHttpStatus(503, 'Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')).retryAfterMs).toBe(10_000);
  });

  it.each([
    { name: 'seconds', value: '120', want: 120_000 },
    { name: 'zero', value: '0', want: 0 },
    { name: 'date in the past', value: 'Wed, 21 Oct 2015 07:28:00 GMT', want: 0 },
    { name: 'garbage', value: 'soon', want: undefined },
    { name: 'negative', value: '-5', want: undefined },
    { name: 'absent', value: null, want: undefined },
  ])('parseRetryAfter: $name', ({ value, want }) => {
    expect(parseRetryAfter(value, Date.parse('2026-01-01T00:00:00Z'))).toBe(want);
  });
});

describe('backoff with full jitter', () => {
  it('stays within [0, min(max, initial × 2^(n-1))]', () => {
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(99);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(399);
    expect(backoffDelay(10, policy, () => 0.999999)).toBe(999); // capped
    expect(backoffDelay(5, policy, () => 0)).toBe(0);
    const samples = Array.from({ length: 200 }, () => backoffDelay(4, policy));
    expect(Math.max(...samples)).toBeLessThan(800);
    expect(new Set(samples).size).toBeGreaterThan(50); // jittered, not constant
  });

  it('honours Retry-After instead of the backoff, capped at maxRetryAfter', () => {
    const r = new Retrier(policy, new RetryBudget({ ratio: 1, minPerSecond: 100 }), { random: () => 0.5 });
    expect(r.delayFor(1, { status: 'retryable', retryAfterMs: 3000 })).toBe(3000);
    expect(r.delayFor(1, { status: 'retryable', retryAfterMs: 3_600_000 })).toBe(5000);
    expect(r.delayFor(2, { status: 'retryable' })).toBe(100);
  });
});

describe('retry budget', () => {
  it('allows retries up to ratio × requests plus a floor per second, then refills with time', () => {
    const t = fakeTime();
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 1 }, t.now);
    // starts with one floor token
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    budget.deposit();
    budget.deposit(); // 2 × 0.5 = one token
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    expect(budget.msUntilToken()).toBe(1000);
    t.advance(1000);
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('makes the retrier wait for a token when spent', async () => {
    const t = fakeTime();
    const r = new Retrier(policy, new RetryBudget({ ratio: 0, minPerSecond: 2 }, t.now), { sleep: t.sleep, random: () => 0 });
    let calls = 0;
    const result = await r.run(async () => (++calls < 6 ? { status: 'retryable' } : { status: 'success' }));
    expect(result).toMatchObject({ status: 'success', attempts: 6 });
    // 2 tokens to begin with, then one per 500 ms: the later retries wait for the budget.
    expect(t.sleeps.filter((ms) => ms > 0)).toEqual([500, 500, 500]);
  });
});

describe('Retrier.run', () => {
  const newRetrier = (t = fakeTime()) => new Retrier(policy, new RetryBudget({ ratio: 1, minPerSecond: 1000 }, t.now), { sleep: t.sleep, random: () => 0.5 });

  it('retries retryable results with growing delays until success', async () => {
    const t = fakeTime();
    const results: ExportResult[] = [{ status: 'retryable' }, { status: 'retryable', retryAfterMs: 2000 }, { status: 'retryable' }, { status: 'success' }];
    const seen: number[] = [];
    const r = await newRetrier(t).run(async () => results.shift()!, { onRetry: (_r, n, delay) => seen.push(n, delay) });
    expect(r).toMatchObject({ status: 'success', attempts: 4 });
    expect(t.sleeps).toEqual([50, 2000, 200]);
    expect(seen).toEqual([1, 50, 2, 2000, 3, 200]);
  });

  it('stops at a permanent failure', async () => {
    let calls = 0;
    const r = await newRetrier().run(async () => (calls++ === 0 ? { status: 'retryable' } : { status: 'permanent', error: 'HTTP 400' }));
    expect(r).toMatchObject({ status: 'permanent', attempts: 2, error: 'HTTP 400' });
  });

  it('gives up after maxAttempts with the last result', async () => {
    const r = await newRetrier().run(async () => ({ status: 'retryable', error: 'HTTP 503' }), { maxAttempts: 3 });
    expect(r).toMatchObject({ status: 'retryable', attempts: 3, error: 'HTTP 503' });
  });

  it('stops when aborted and turns a throwing attempt into a retryable result', async () => {
    const abort = new AbortController();
    let calls = 0;
    const r = await newRetrier().run(
      async () => {
        if (++calls === 2) abort.abort();
        throw new Error('boom');
      },
      { signal: abort.signal },
    );
    expect(r).toMatchObject({ status: 'retryable', aborted: true, attempts: 2 });
    expect(r.error).toContain('boom');
  });

  it('asks the circuit breaker before each attempt and reports to it', async () => {
    const t = fakeTime();
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 10_000, maxOpenMs: 60_000 }, { now: t.now, sleep: t.sleep });
    let calls = 0;
    const r = await newRetrier(t).run(async () => (++calls <= 2 ? { status: 'retryable' } : { status: 'success' }), { breaker });
    expect(r.status).toBe('success');
    // after two failures the breaker opened: the third attempt waited for the open period
    expect(t.sleeps).toContain(10_000 - 100);
    expect(breaker.state).toBe('closed');
  });
});
