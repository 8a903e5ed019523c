import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from './clock.ts';

describe('systemClock', () => {
  afterEach(() => vi.useRealTimers());

  it('fires a wait longer than Node allows one timer (24.8 days) when due, not at once', async () => {
    let fired = 0;
    const handle = systemClock.setTimeout(() => fired++, 30 * 86_400_000);
    await new Promise((resolve) => setTimeout(resolve, 50)); // Node would run an overflowing timer after 1 ms
    expect(fired).toBe(0);
    systemClock.clearTimeout(handle);
  });

  it('chains the steps to the due time, and clearTimeout stops a chained wait', () => {
    vi.useFakeTimers({ now: 0 });
    let fired = 0;
    systemClock.setTimeout(() => fired++, 60 * 86_400_000);
    vi.advanceTimersByTime(60 * 86_400_000 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    const cleared = systemClock.setTimeout(() => fired++, 40 * 86_400_000);
    vi.advanceTimersByTime(30 * 86_400_000); // past the first step
    systemClock.clearTimeout(cleared);
    vi.advanceTimersByTime(20 * 86_400_000);
    expect(fired).toBe(1);
  });

  it('runs short and negative waits as before', () => {
    vi.useFakeTimers({ now: 0 });
    const order: string[] = [];
    systemClock.setTimeout(() => order.push('10ms'), 10);
    systemClock.setTimeout(() => order.push('now'), -5);
    vi.advanceTimersByTime(10);
    expect(order).toEqual(['now', '10ms']);
  });
});
