import { describe, expect, it } from 'vitest';
import { LeakDetector, leastSquaresSlope } from '../src/metrics/leak.ts';

const MIB = 1024 * 1024;
const MIN = 60_000;
const T0 = 1_760_000_000_000; // epoch ms: the fit must not lose precision on large x

/** A deterministic pseudo-random sequence in [-1, 1) (mulberry32), so "noisy" is reproducible. */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

interface Scenario {
  name: string;
  /** heap used after the i-th major GC (one every 30 s) */
  heap: (i: number, rnd: () => number) => number;
  suspected: 0 | 1;
}

function feed(heap: Scenario['heap'], samples = 60, intervalMs = 30_000) {
  const warnings: number[] = [];
  const d = new LeakDetector({ slopeBytesPerMin: 1 * MIB, windowMs: 15 * MIN, minSamples: 6, onSuspected: (s) => warnings.push(s) });
  const rnd = noise(42);
  const history: Array<0 | 1> = [];
  for (let i = 0; i < samples; i++) {
    d.add(T0 + i * intervalMs, heap(i, rnd));
    history.push(d.suspected);
  }
  return { d, warnings, history };
}

describe('leastSquaresSlope', () => {
  it.each([
    { name: 'exact line', xs: [0, 1, 2, 3], ys: [5, 7, 9, 11], slope: 2 },
    { name: 'flat', xs: [0, 1, 2, 3], ys: [4, 4, 4, 4], slope: 0 },
    { name: 'falling', xs: [0, 2, 4], ys: [10, 6, 2], slope: -2 },
    { name: 'large epoch x', xs: [T0, T0 + 60_000, T0 + 120_000], ys: [100, 200, 300], slope: 100 / 60_000 },
    { name: 'single point', xs: [1], ys: [1], slope: 0 },
    { name: 'same x', xs: [3, 3, 3], ys: [1, 2, 3], slope: 0 },
  ])('$name', ({ xs, ys, slope }) => {
    expect(leastSquaresSlope(xs, ys)).toBeCloseTo(slope, 9);
  });
});

describe('LeakDetector (1 MiB/min threshold, 15 min window, one major GC every 30 s)', () => {
  const base = 200 * MIB;
  it.each<Scenario>([
    { name: 'rising 3 MiB/min → suspected', heap: (i) => base + i * 1.5 * MIB, suspected: 1 },
    { name: 'rising 3 MiB/min with ±8 MiB noise → suspected', heap: (i, r) => base + i * 1.5 * MIB + r() * 8 * MIB, suspected: 1 },
    { name: 'flat → not suspected', heap: () => base, suspected: 0 },
    { name: 'flat with ±20 MiB noise → not suspected', heap: (_i, r) => base + r() * 20 * MIB, suspected: 0 },
    { name: 'sawtooth (cache filling and being cleared) → not suspected', heap: (i) => base + (i % 10) * 4 * MIB, suspected: 0 },
    { name: 'slow growth 0.4 MiB/min (under the threshold) → not suspected', heap: (i) => base + i * 0.2 * MIB, suspected: 0 },
    { name: 'one step up, then flat → not suspected at the end', heap: (i) => base + (i >= 20 ? 50 * MIB : 0), suspected: 0 },
  ])('$name', ({ heap, suspected }) => {
    const { d } = feed(heap);
    expect(d.suspected).toBe(suspected);
    if (suspected) expect(d.slopeBytesPerMin).toBeGreaterThan(1 * MIB);
  });

  it('gives no verdict before minSamples spanning half the window', () => {
    const { history, d } = feed((i) => base + i * 10 * MIB, 20);
    // 30 s apart: half of 15 min is reached at the 16th sample, then 3 confirmations
    expect(history.slice(0, 17)).toEqual(new Array(17).fill(0));
    expect(d.suspected).toBe(1);
  });

  it('warns once for a lasting leak, and not again within the warn interval after it clears and returns', () => {
    const warnings: number[] = [];
    const d = new LeakDetector({ slopeBytesPerMin: MIB, windowMs: 10 * MIN, minSamples: 6, warnIntervalMs: 60 * MIN, onSuspected: (s) => warnings.push(s) });
    let t = T0;
    let heap = base;
    const step = (growth: number, n: number) => {
      for (let i = 0; i < n; i++) {
        t += 30_000;
        heap += growth;
        d.add(t, heap);
      }
    };
    step(2 * MIB, 40); // leak: 4 MiB/min
    expect(d.suspected).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toBeCloseTo(4 * MIB, -3);
    step(0, 40); // fixed: the window forgets the growth
    expect(d.suspected).toBe(0);
    step(2 * MIB, 40); // leaks again 40 min after the first warning: gauge on, no second warning yet
    expect(d.suspected).toBe(1);
    expect(warnings).toHaveLength(1);
    step(0, 40);
    step(2 * MIB, 40); // and again, > 60 min after the first warning: warned again
    expect(warnings).toHaveLength(2);
  });

  it('keeps memory bounded however often GCs happen', () => {
    const d = new LeakDetector({ slopeBytesPerMin: MIB, windowMs: 60 * MIN, minSamples: 6 });
    for (let i = 0; i < 10_000; i++) d.add(T0 + i * 10, base);
    expect(d.sampleCount).toBeLessThanOrEqual(512);
  });
});
