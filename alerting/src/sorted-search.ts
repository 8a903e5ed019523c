// Binary searches over an ascending array of numbers, from index `from` on: the rule engine's
// in-memory sources and the collector's metric store read windows of series kept as parallel
// arrays of times and values; span metrics find a duration's histogram bucket.

/** The first index i ≥ `from` with ts[i] >= t (ts.length when there is none). */
export function lowerBound(ts: readonly number[], t: number, from: number): number {
  let lo = from;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index i ≥ `from` with ts[i] > t (ts.length when there is none). */
export function upperBound(ts: readonly number[], t: number, from: number): number {
  let lo = from;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
