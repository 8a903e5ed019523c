import { describe, expect, it } from 'vitest';
import { avg, bucketIncrease, increase, last, max, min, quantile, rate, sum } from './aggregate.ts';
import type { Sample } from './sources.ts';

const s = (...pairs: Array<[number, number]>): Sample[] => pairs.map(([t, v]) => ({ t: t * 1000, v }));

describe('aggregations over a window', () => {
  const gauge = s([0, 4], [15, 8], [30, 2], [45, 6]);
  it.each([
    { name: 'last', fn: last, want: 6 },
    { name: 'avg', fn: avg, want: 5 },
    { name: 'min', fn: min, want: 2 },
    { name: 'max', fn: max, want: 8 },
    { name: 'sum', fn: sum, want: 20 },
  ])('$name', ({ fn, want }) => {
    expect(fn(gauge)).toBe(want);
  });

  it.each([
    { name: 'last', fn: last },
    { name: 'avg', fn: avg },
    { name: 'min', fn: min },
    { name: 'max', fn: max },
    { name: 'sum', fn: sum },
    { name: 'increase', fn: increase },
    { name: 'rate', fn: rate },
  ])('$name of an empty window is undefined (no data, not zero)', ({ fn }) => {
    expect(fn([])).toBeUndefined();
  });

  it.each([
    { name: 'monotonic counter', samples: s([0, 100], [30, 160], [60, 220]), increase: 120, rate: 2 },
    { name: 'one reset: the value after it counts from zero', samples: s([0, 100], [30, 160], [45, 10], [60, 40]), increase: 60 + 10 + 30, rate: 100 / 60 },
    { name: 'two resets', samples: s([0, 50], [10, 5], [20, 15], [30, 3], [40, 13]), increase: 5 + 10 + 3 + 10, rate: 28 / 40 },
    { name: 'flat counter', samples: s([0, 7], [60, 7]), increase: 0, rate: 0 },
  ])('increase and rate: $name', ({ samples, increase: inc, rate: r }) => {
    expect(increase(samples)).toBeCloseTo(inc, 9);
    expect(rate(samples)).toBeCloseTo(r, 9);
  });

  it('increase and rate need two samples', () => {
    expect(increase(s([0, 5]))).toBeUndefined();
    expect(rate(s([0, 5]))).toBeUndefined();
  });
});

describe('percentiles from histogram buckets', () => {
  // bounds 0.1, 0.5, 1, 5 (+Inf); 100 observations: 10 ≤ 0.1, 40 in (0.1, 0.5], 40 in (0.5, 1], 10 in (1, 5]
  const le = [0.1, 0.5, 1, 5];
  const counts = [10, 40, 40, 10, 0];
  it.each([
    { name: 'p50 interpolates in (0.1, 0.5]', q: 0.5, want: 0.1 + 0.4 * (40 / 40) },
    { name: 'p90 lands at the top of (0.5, 1]', q: 0.9, want: 1 },
    { name: 'p95 in (1, 5]', q: 0.95, want: 1 + 4 * 0.5 },
    { name: 'p05 in the first bucket, starting at 0', q: 0.05, want: 0.05 },
    { name: 'p30 inside (0.1, 0.5]', q: 0.3, want: 0.1 + 0.4 * (20 / 40) },
  ])('$name', ({ q, want }) => {
    expect(quantile(q, le, counts)).toBeCloseTo(want, 9);
  });

  it('a rank in the +Inf bucket returns the highest finite bound', () => {
    expect(quantile(0.99, [1, 2], [0, 0, 10])).toBe(2);
  });

  it('an empty histogram has no percentile', () => {
    expect(quantile(0.5, le, [0, 0, 0, 0, 0])).toBeUndefined();
  });

  it.each([
    {
      name: 'increase between first and last snapshot',
      snaps: [
        { t: 0, le: [1, 2], counts: [5, 5, 0] },
        { t: 15_000, le: [1, 2], counts: [7, 9, 1] },
        { t: 30_000, le: [1, 2], counts: [10, 15, 1] },
      ],
      want: [5, 10, 1],
    },
    {
      name: 'a reset (totals went down) counts the new snapshot in full',
      snaps: [
        { t: 0, le: [1, 2], counts: [50, 50, 0] },
        { t: 15_000, le: [1, 2], counts: [60, 55, 0] },
        { t: 30_000, le: [1, 2], counts: [2, 1, 0] },
        { t: 45_000, le: [1, 2], counts: [4, 6, 1] },
      ],
      want: [10 + 2 + 2, 5 + 1 + 5, 1],
    },
    {
      name: 'a layout change starts over',
      snaps: [
        { t: 0, le: [1], counts: [5, 5] },
        { t: 15_000, le: [1, 2], counts: [1, 1, 1] },
        { t: 30_000, le: [1, 2], counts: [2, 3, 1] },
      ],
      want: [1 + 1, 1 + 2, 1],
    },
  ])('bucketIncrease: $name', ({ snaps, want }) => {
    expect(bucketIncrease(snaps)?.counts).toEqual(want);
  });

  it('bucketIncrease needs two snapshots', () => {
    expect(bucketIncrease([{ t: 0, le: [1], counts: [1, 1] }])).toBeUndefined();
  });
});
