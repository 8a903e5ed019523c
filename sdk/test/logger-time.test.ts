import { afterEach, describe, expect, it, vi } from 'vitest';
import { rfc3339Micros } from '../src/record.ts';
import { microsecondTime } from '../src/logs/logger.ts';

describe('microsecondTime (pino timestamp)', () => {
  it('is wall-clock epoch ms with a µs fraction, never going back', () => {
    const times: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const part = microsecondTime();
      expect(part).toMatch(/^,"time":\d{13}\.\d{3}$/);
      times.push(Number(part.slice(8)));
    }
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]);
    expect(Math.abs(times[times.length - 1] - Date.now())).toBeLessThan(50);
    // Sub-millisecond digits are real: 2000 calls do not all land on whole milliseconds.
    expect(times.some((t) => !Number.isInteger(t))).toBe(true);
    // …and survive into the record's RFC 3339 timestamp.
    const t = times.find((x) => !Number.isInteger(x))!;
    expect(rfc3339Micros(t).slice(23, 26)).not.toBe('000');
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('follows a step of the wall clock back (NTP, a VM resumed, date -s) within a second, instead of holding the time of before the step', () => {
    const realNow = Date.now();
    const realPerf = performance.now();
    let wall = realNow;
    let perf = realPerf;
    vi.spyOn(Date, 'now').mockImplementation(() => wall);
    vi.spyOn(performance, 'now').mockImplementation(() => perf);
    perf += 1500; // re-anchored at the next call
    wall += 1500;
    const before = Number(microsecondTime().slice(8));
    expect(Math.abs(before - wall)).toBeLessThan(5);
    wall -= 3_600_000; // an hour back
    perf += 1500;
    wall += 1500;
    const after = Number(microsecondTime().slice(8));
    expect(Math.abs(after - wall)).toBeLessThan(5);
  });
});
