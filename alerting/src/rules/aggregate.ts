import type { BucketSnapshot, Sample } from './sources.ts';

// Aggregations of one series over the rule's window. Each returns undefined when the window holds
// too little data to say anything (the engine then treats the series as missing, never as "ok").

export function last(samples: Sample[]): number | undefined {
  return samples.length ? samples[samples.length - 1].v : undefined;
}

export function avg(samples: Sample[]): number | undefined {
  if (!samples.length) return undefined;
  let sum = 0;
  for (const s of samples) sum += s.v;
  return sum / samples.length;
}

export function min(samples: Sample[]): number | undefined {
  if (!samples.length) return undefined;
  let m = Infinity;
  for (const s of samples) if (s.v < m) m = s.v;
  return m;
}

export function max(samples: Sample[]): number | undefined {
  if (!samples.length) return undefined;
  let m = -Infinity;
  for (const s of samples) if (s.v > m) m = s.v;
  return m;
}

export function sum(samples: Sample[]): number | undefined {
  if (!samples.length) return undefined;
  let total = 0;
  for (const s of samples) total += s.v;
  return total;
}

/**
 * Counter increase between the first and the last sample of the window. A decrease is a counter
 * reset (the process restarted and counts from 0), so the sample after it counts in full — as in
 * Prometheus `increase()`, but without extrapolation to the window edges: the result is what the
 * samples show, slightly lower than Prometheus's extrapolated figure. Needs two samples.
 */
export function increase(samples: Sample[]): number | undefined {
  if (samples.length < 2) return undefined;
  let total = 0;
  for (let i = 1; i < samples.length; i++) {
    const d = samples[i].v - samples[i - 1].v;
    total += d >= 0 ? d : samples[i].v;
  }
  return total;
}

/** Per-second rate: `increase` divided by the time between the first and the last sample. */
export function rate(samples: Sample[]): number | undefined {
  const inc = increase(samples);
  if (inc === undefined) return undefined;
  const seconds = (samples[samples.length - 1].t - samples[0].t) / 1000;
  return seconds > 0 ? inc / seconds : undefined;
}

function total(counts: number[]): number {
  let n = 0;
  for (const c of counts) n += c;
  return n;
}

function sameLayout(a: number[], b: number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when no bucket of `cur` is below `prev` and the layout is the same (no reset in between). */
function continues(prev: BucketSnapshot, cur: BucketSnapshot): boolean {
  if (!sameLayout(prev.le, cur.le)) return false;
  const a = prev.counts;
  const b = cur.counts;
  for (let i = 0; i < b.length; i++) if (b[i] < a[i]) return false;
  return true;
}

/**
 * Observations per bucket that arrived within the window: the increase of each bucket from the
 * first to the last snapshot, reset-aware (each bucket is a counter, as in Prometheus: a snapshot
 * where any bucket went down, or whose layout changed, starts a new count and counts in full).
 * Needs two snapshots. Returns the layout (of the last snapshot) and the counts.
 */
export function bucketIncrease(snapshots: BucketSnapshot[]): { le: number[]; counts: number[] } | undefined {
  const n = snapshots.length;
  if (n < 2) return undefined;
  const firstSnap = snapshots[0];
  const lastSnap = snapshots[n - 1];
  const le = lastSnap.le;
  let clean: boolean;
  if (firstSnap.resets !== undefined && firstSnap.resets === lastSnap.resets) clean = true; // the source's hint
  else {
    clean = true;
    for (let i = 1; i < n && clean; i++) clean = continues(snapshots[i - 1], snapshots[i]);
  }
  if (clean) {
    const first = snapshots[0].counts;
    return { le, counts: lastSnap.counts.map((c, b) => c - first[b]) };
  }
  const acc = new Array<number>(le.length + 1).fill(0);
  for (let i = 1; i < n; i++) {
    const prev = snapshots[i - 1];
    const cur = snapshots[i];
    if (!sameLayout(cur.le, le)) continue; // an older layout: only the latest layout's history counts
    const reset = !continues(prev, cur);
    for (let b = 0; b < cur.counts.length; b++) acc[b] += reset ? cur.counts[b] : cur.counts[b] - prev.counts[b];
  }
  return { le, counts: acc };
}

/**
 * The q-quantile (0 < q < 1) of a histogram, interpolated linearly inside the bucket where the
 * rank falls, as Prometheus `histogram_quantile` does: the lowest bucket starts at 0 (when its
 * bound is positive); a rank in the +Inf bucket returns the highest finite bound.
 * Undefined when the histogram holds no observation.
 */
export function quantile(q: number, le: number[], counts: number[]): number | undefined {
  const n = total(counts);
  if (n <= 0 || !le.length) return undefined;
  const rank = q * n;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const before = cum;
    cum += counts[i];
    if (cum >= rank && counts[i] > 0) {
      if (i === le.length) return le[le.length - 1];
      const upper = le[i];
      const lower = i === 0 ? (upper > 0 ? 0 : upper) : le[i - 1];
      if (i === 0 && upper <= 0) return upper;
      return lower + (upper - lower) * ((rank - before) / counts[i]);
    }
  }
  return le[le.length - 1];
}

/**
 * `h`'s counts on `le`, a subset of its bounds: each bucket goes to the first bound of `le` at or
 * above its own (+Inf stays +Inf). Exact: the same observations in coarser buckets.
 */
function rebucket(h: { le: number[]; counts: number[] }, le: number[]): number[] {
  const out = new Array<number>(le.length + 1).fill(0);
  let j = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const upper = i < h.le.length ? h.le[i] : Number.POSITIVE_INFINITY;
    while (j < le.length && le[j] < upper) j++;
    out[j] += h.counts[i];
  }
  return out;
}

/**
 * Adds histogram `b` into `a`. When their layouts differ (a rolling deploy that changed the
 * buckets, two versions of an app), both are brought to the bounds they share, which merges
 * neighbouring buckets exactly, as `sum by (le)` over them would have to. Returns false when they
 * share no finite bound (nothing would be left to interpolate in).
 */
export function mergeBuckets(a: { le: number[]; counts: number[] }, b: { le: number[]; counts: number[] }): boolean {
  if (sameLayout(a.le, b.le)) {
    for (let i = 0; i < a.counts.length; i++) a.counts[i] += b.counts[i];
    return true;
  }
  const inB = new Set(b.le);
  const shared = a.le.filter((x) => inB.has(x));
  if (shared.length === 0) return false;
  const fromB = rebucket(b, shared);
  a.counts = rebucket(a, shared).map((c, i) => c + fromB[i]);
  a.le = shared;
  return true;
}
