import { describe, expect, it } from 'vitest';
import { downscale, fit, merge, toExplicit, upperBound, type ExpHistogram } from './exponential.ts';

function exp(partial: Partial<ExpHistogram>): ExpHistogram {
  const positive = partial.positive ?? [];
  const zeroCount = partial.zeroCount ?? 0;
  const negativeCount = partial.negativeCount ?? 0;
  return {
    scale: 0,
    zeroThreshold: 0,
    zeroCount,
    negativeCount,
    offset: 0,
    positive,
    count: zeroCount + negativeCount + positive.reduce((a, b) => a + b, 0),
    sum: 0,
    ...partial,
  };
}

describe('exponential histograms → classic buckets', () => {
  it('bucket bounds follow base = 2^(2^-scale)', () => {
    expect(upperBound(0, 0)).toBe(2); // (1, 2]
    expect(upperBound(-1, 0)).toBe(1); // (0.5, 1]
    expect(upperBound(1, 1)).toBe(2); // scale 1: base √2, index 1 → (√2, 2]
    expect(upperBound(0, -1)).toBe(4); // scale -1: base 4
  });

  it.each([
    { name: 'beyond the largest double (2^1100…)', h: exp({ offset: 1100, positive: [1, 1] }), factor: 1 },
    { name: 'below the smallest double (2^-1100…): bounds underflow to 0, the zero threshold', h: exp({ offset: -1100, positive: [1, 1] }), factor: 1 },
    { name: 'finite until the unit factor (d → s)', h: exp({ offset: 1020, positive: [1, 1, 1] }), factor: 86_400 },
  ])('le stays finite and strictly increasing with buckets $name; their observations are counted above', ({ h, factor }) => {
    // Infinite or repeated le values made duplicate series: Prometheus (scrape and remote write)
    // kept the first, a +Inf bucket of 1 for a _count of 2.
    const { bounds, counts } = toExplicit(h, factor);
    expect(bounds.every((b) => Number.isFinite(b))).toBe(true);
    for (let i = 1; i < bounds.length; i++) expect(bounds[i]).toBeGreaterThan(bounds[i - 1]);
    expect(counts).toHaveLength(bounds.length);
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(h.count);
    if (bounds.length > 0 && bounds[0] === 0) expect(counts[0]).toBe(h.offset < 0 ? h.count : 0);
  });

  it('downscaling merges buckets pairwise (index >> 1), negative indexes included', () => {
    // scale 1, indexes -3..2 → scale 0 indexes -2..1
    const h = downscale(exp({ scale: 1, offset: -3, positive: [1, 2, 3, 4, 5, 6] }), 0);
    expect(h).toMatchObject({ scale: 0, offset: -2, positive: [1, 5, 9, 6] });
    expect(h.positive.reduce((a, b) => a + b, 0)).toBe(21);
  });

  it('fit lowers the scale to maxScale and until the populated range fits maxBuckets', () => {
    const h = exp({ scale: 8, offset: 1000, positive: new Array(300).fill(1) });
    const a = fit(h, { maxScale: 20, maxBuckets: 160 });
    expect(a.scale).toBe(7);
    expect(a.positive.length).toBeLessThanOrEqual(160);
    const b = fit(h, { maxScale: 3, maxBuckets: 160 });
    expect(b.scale).toBe(3);
    expect(b.positive.reduce((x, y) => x + y, 0)).toBe(300);
  });

  it('merge (delta accumulation) aligns scales and ranges', () => {
    const a = exp({ scale: 1, offset: 0, positive: [1, 1], sum: 3 });
    const b = exp({ scale: 0, offset: 2, positive: [4], zeroCount: 2, sum: 20 });
    const m = merge(a, b, { maxScale: 20, maxBuckets: 160 });
    expect(m).toMatchObject({ scale: 0, offset: 0, positive: [2, 0, 4], zeroCount: 2, count: 8, sum: 23 });
  });

  it('toExplicit: a zero bucket le, the lowest bucket\'s lower edge, then each bucket upper bound; counts per bucket; unit factor applied', () => {
    const h = exp({ scale: 0, offset: -1, positive: [1, 0, 2], zeroCount: 3, negativeCount: 1 });
    expect(toExplicit(h, 1)).toEqual({ bounds: [0, 0.5, 1, 2, 4], counts: [4, 0, 1, 0, 2] });
    expect(toExplicit(h, 1e-3).bounds).toEqual([0, 0.0005, 0.001, 0.002, 0.004]);
  });

  it('toExplicit: observations in one bucket far from zero give quantiles inside that bucket', () => {
    // 100 observations in (861, 1024] (scale 2, index 39); Prometheus interpolates linearly inside a bucket
    const { bounds, counts } = toExplicit(exp({ scale: 2, offset: 39, positive: [100] }), 1);
    expect(bounds.map((b) => Math.round(b))).toEqual([0, 861, 1024]);
    expect(counts).toEqual([0, 0, 100]);
  });

  it('toExplicit: a zero threshold at or above the first bound folds the zero bucket into it', () => {
    const h = exp({ scale: 0, offset: 0, positive: [5], zeroCount: 2, zeroThreshold: 3 });
    expect(toExplicit(h, 1)).toEqual({ bounds: [2], counts: [7] });
  });

  it('every bound comes from the same grid, so le values are stable when the scale drops', () => {
    const fine = toExplicit(exp({ scale: 2, offset: 4, positive: [1, 1, 1, 1] }), 1).bounds;
    const coarse = toExplicit(downscale(exp({ scale: 2, offset: 4, positive: [1, 1, 1, 1] }), 1), 1).bounds;
    for (const b of coarse.slice(1)) expect(fine).toContain(b);
  });
});
