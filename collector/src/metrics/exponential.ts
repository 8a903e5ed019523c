// OTLP exponential histograms held at a bounded resolution and rendered as classic Prometheus
// buckets (no native histograms: Prometheus 2.42 scrapes them only over protobuf, behind a
// feature flag, and remote write / promtool / Grafana queries of classic buckets work everywhere).
//
// Data model (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#exponentialhistogram):
// with base = 2^(2^-scale), positive bucket `index` holds values in (base^index, base^(index+1)];
// the zero bucket holds |v| <= zeroThreshold. Downscaling by one merges buckets pairwise
// (index → index >> 1), which is exact: every boundary of scale s-1 is a boundary of scale s.
//
// Periscope's choice: each histogram is reduced to at most `maxScale` (and further until its
// populated range fits `maxBuckets`), then rendered as `le` = the upper bound of every bucket
// from the lowest to the highest populated one, plus one `le` at the zero threshold. Because all
// bounds come from the same power-of-two grid, a series keeps its `le` values from scrape to
// scrape (new ones appear as the observed range grows), so rate() and histogram_quantile() work.
// Negative observations are counted in every bucket (they are below every positive bound); the
// negative range itself is not resolved.

import { applyFactor } from './naming.ts';

export interface ExpHistogram {
  scale: number;
  zeroThreshold: number;
  /** Observations in the zero bucket. */
  zeroCount: number;
  /** All observations below -zeroThreshold, in total. */
  negativeCount: number;
  /** Index of positive[0]. */
  offset: number;
  positive: number[];
  count: number;
  sum: number | undefined;
}

export interface ExpLimits {
  maxScale: number;
  maxBuckets: number;
}

/** Merges buckets until the scale is `target` (<= current). */
export function downscale(h: ExpHistogram, target: number): ExpHistogram {
  if (target >= h.scale) return h;
  if (h.positive.length === 0) return { ...h, scale: target };
  const shift = h.scale - target;
  const first = h.offset >> shift;
  const last = (h.offset + h.positive.length - 1) >> shift;
  const positive = new Array<number>(last - first + 1).fill(0);
  for (let i = 0; i < h.positive.length; i++) positive[((h.offset + i) >> shift) - first] += h.positive[i];
  return { ...h, scale: target, offset: first, positive };
}

/** Drops empty buckets at both ends (keeps `offset` right). */
function trim(h: ExpHistogram): ExpHistogram {
  let a = 0;
  let b = h.positive.length;
  while (a < b && h.positive[a] === 0) a++;
  while (b > a && h.positive[b - 1] === 0) b--;
  if (a === 0 && b === h.positive.length) return h;
  return { ...h, offset: h.offset + a, positive: h.positive.slice(a, b) };
}

/** Reduces `h` to the limits: scale <= maxScale and at most maxBuckets populated-range buckets. */
export function fit(h: ExpHistogram, limits: ExpLimits): ExpHistogram {
  let out = trim(h);
  if (out.scale > limits.maxScale) out = downscale(out, limits.maxScale);
  while (out.positive.length > limits.maxBuckets) out = downscale(out, out.scale - 1);
  return out;
}

/** a + b (delta accumulation): brought to the smaller scale, then bucket-wise added. */
export function merge(a: ExpHistogram, b: ExpHistogram, limits: ExpLimits): ExpHistogram {
  const scale = Math.min(a.scale, b.scale);
  const x = downscale(a, scale);
  const y = downscale(b, scale);
  let positive: number[];
  let offset: number;
  if (x.positive.length === 0) {
    positive = y.positive.slice();
    offset = y.offset;
  } else if (y.positive.length === 0) {
    positive = x.positive.slice();
    offset = x.offset;
  } else {
    offset = Math.min(x.offset, y.offset);
    const end = Math.max(x.offset + x.positive.length, y.offset + y.positive.length);
    positive = new Array<number>(end - offset).fill(0);
    for (let i = 0; i < x.positive.length; i++) positive[x.offset - offset + i] += x.positive[i];
    for (let i = 0; i < y.positive.length; i++) positive[y.offset - offset + i] += y.positive[i];
  }
  return fit(
    {
      scale,
      zeroThreshold: Math.max(a.zeroThreshold, b.zeroThreshold),
      zeroCount: a.zeroCount + b.zeroCount,
      negativeCount: a.negativeCount + b.negativeCount,
      offset,
      positive,
      count: a.count + b.count,
      sum: a.sum === undefined || b.sum === undefined ? undefined : a.sum + b.sum,
    },
    limits,
  );
}

/** Upper bound of positive bucket `index` at `scale`: base^(index+1), base = 2^(2^-scale). */
export function upperBound(index: number, scale: number): number {
  return 2 ** ((index + 1) * 2 ** -scale);
}

/**
 * Classic buckets: ascending finite upper bounds (times `factor`, the unit conversion) and the
 * observations per bucket (not cumulative). The +Inf bucket is implied by `count`.
 */
export function toExplicit(h: ExpHistogram, factor: number): { bounds: number[]; counts: number[] } {
  const bounds: number[] = [];
  const counts: number[] = [];
  // Past the range of doubles a bound is +Inf (2^1024 and up, or after the unit factor) or repeats
  // the one before (0 below 2^-1074): its observations are left to +Inf (implied by `count`) or
  // added to the bucket below, so `le` stays a strictly increasing list of finite values (a
  // repeated `le` is a duplicate series: scraped or remote-written, Prometheus keeps the first one,
  // e.g. +Inf holding 1 of 2 observations).
  let overflow = false;
  const add = (upper: number, n: number) => {
    const bound = applyFactor(upper, factor);
    const last = bounds.length - 1;
    if (overflow || !Number.isFinite(bound)) overflow = true;
    else if (last >= 0 && !(bound > bounds[last])) counts[last] += n;
    else {
      bounds.push(bound);
      counts.push(n);
    }
  };
  // The zero bucket and every negative observation sit below the first positive bound.
  let below = h.zeroCount + h.negativeCount;
  const firstUpper = h.positive.length > 0 ? upperBound(h.offset, h.scale) : Number.POSITIVE_INFINITY;
  if (h.zeroThreshold < firstUpper) {
    add(h.zeroThreshold, below);
    below = 0;
  }
  // The lower edge of the lowest populated bucket, holding nothing: without it Prometheus
  // interpolates that bucket's observations from the zero threshold up (all in (861, 1024]
  // gave a median of 512).
  const firstLower = h.positive.length > 0 ? upperBound(h.offset - 1, h.scale) : Number.POSITIVE_INFINITY;
  if (firstLower > h.zeroThreshold && firstLower < firstUpper) {
    add(firstLower, below);
    below = 0;
  }
  for (let i = 0; i < h.positive.length; i++) {
    add(upperBound(h.offset + i, h.scale), h.positive[i] + below);
    below = 0;
  }
  return { bounds, counts };
}
