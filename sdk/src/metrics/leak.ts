// Memory-leak signal: the trend of heap used after major GCs.
//
// Contract:
// - add(atMs, heapUsedBytes) is fed one sample per major (mark-sweep-compact) GC, so every sample
//   is close to the live set; samples older than `windowMs` before the newest are forgotten, and at
//   most MAX_SAMPLES are kept (memory is bounded whatever the GC rate).
// - The trend is the least-squares slope of the samples, in bytes per minute.
// - `suspected` turns on when the window holds at least `minSamples` samples spanning at least half
//   the window AND the slope is ≥ `slopeBytesPerMin` on CONFIRMATIONS consecutive samples ("keeps
//   rising": a single burst does not trip it). It turns off again when the slope falls below half the
//   threshold (hysteresis, so the gauge does not flap around the threshold).
// - onSuspected(slope) is called when `suspected` turns on, at most once per `warnIntervalMs`
//   (the SDK logs one warning there). The clock is the caller's `atMs`, so tests need no timers.

export interface LeakDetectorOptions {
  slopeBytesPerMin: number;
  windowMs: number;
  minSamples: number;
  /** Least time between two onSuspected calls. Default 1 h. */
  warnIntervalMs?: number;
  onSuspected?: (slopeBytesPerMin: number) => void;
}

const MAX_SAMPLES = 512;
const CONFIRMATIONS = 3;

/** Least-squares slope of y over x (units of y per unit of x); 0 for fewer than 2 distinct x. */
export function leastSquaresSlope(xs: ArrayLike<number>, ys: ArrayLike<number>, n = xs.length): number {
  if (n < 2) return 0;
  // centre on the first sample: epoch milliseconds squared would lose precision
  const x0 = xs[0];
  const y0 = ys[0];
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] - x0;
    sy += ys[i] - y0;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - x0 - mx;
    sxy += dx * (ys[i] - y0 - my);
    sxx += dx * dx;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

export class LeakDetector {
  private readonly times: number[] = [];
  private readonly values: number[] = [];
  private above = 0;
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private readonly opts: LeakDetectorOptions;
  private readonly warnIntervalMs: number;
  /** 1 while a leak is suspected, else 0 (the `nodejs.heap.leak_suspected` gauge). */
  suspected: 0 | 1 = 0;
  /** The last computed trend in bytes/minute (0 until there are enough samples). */
  slopeBytesPerMin = 0;

  constructor(opts: LeakDetectorOptions) {
    this.opts = opts;
    this.warnIntervalMs = opts.warnIntervalMs ?? 3_600_000;
  }

  get sampleCount(): number {
    return this.times.length;
  }

  add(atMs: number, heapUsedBytes: number): void {
    this.times.push(atMs);
    this.values.push(heapUsedBytes);
    let drop = 0;
    while (drop < this.times.length - 1 && atMs - this.times[drop] > this.opts.windowMs) drop++;
    drop = Math.max(drop, this.times.length - MAX_SAMPLES);
    if (drop > 0) {
      this.times.splice(0, drop);
      this.values.splice(0, drop);
    }
    this.evaluate(atMs);
  }

  private evaluate(atMs: number): void {
    const n = this.times.length;
    const span = this.times[n - 1] - this.times[0];
    if (n < this.opts.minSamples || span < this.opts.windowMs / 2) {
      this.above = 0;
      return;
    }
    this.slopeBytesPerMin = leastSquaresSlope(this.times, this.values) * 60_000;
    if (this.slopeBytesPerMin >= this.opts.slopeBytesPerMin) {
      this.above++;
      if (this.suspected === 0 && this.above >= CONFIRMATIONS) {
        this.suspected = 1;
        if (atMs - this.lastWarnAt >= this.warnIntervalMs) {
          this.lastWarnAt = atMs;
          this.opts.onSuspected?.(this.slopeBytesPerMin);
        }
      }
    } else {
      this.above = 0;
      if (this.slopeBytesPerMin < this.opts.slopeBytesPerMin / 2) this.suspected = 0;
    }
  }
}
