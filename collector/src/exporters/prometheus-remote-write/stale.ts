// Stale markers (remote write 1.0, https://prometheus.io/docs/specs/prw/remote_write_spec/#stale-markers):
// a sender MUST send one when a series will no longer be appended to, as the special NaN
// 0x7ff0000000000002. Without it the receiving Prometheus keeps answering a series' last value for
// its lookback delta (5 minutes) after the series left /metrics (expired after metrics.staleAfter,
// removed by FLAG_NO_RECORDED_VALUE, an exporter gone), where a scrape of /metrics drops it at once.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Sample } from './samples.ts';

/** Series looked at between two event-loop turns: 342 000 samples took 0.7-3.5 s in one go. */
const SERIES_PER_TURN = 2000;

/** Prometheus' StaleNaN (model/value.StaleNaN); protobuf writes its bits unchanged. */
export const STALE_NAN = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0];

/** True for the stale-marker NaN (not for any other NaN, which is an ordinary value). */
export function isStaleMarker(value: number): boolean {
  const f = new Float64Array(1);
  f[0] = value; // not new Float64Array([value]): a JS array of doubles makes every NaN the same NaN
  return new BigUint64Array(f.buffer)[0] === 0x7ff0000000000002n;
}

type Labels = Record<string, string>;

/**
 * A 53-bit identity of a label set, without building a string per sample (a string key per sample
 * tripled the cost of a read of 20 000 histograms). Each name/value pair is hashed on two 32-bit
 * lanes and the pairs are summed, so the order of the labels in the object does not matter: a
 * live series can never look like a gone one. Two gone series could share an identity with a live
 * one (about 1 in 10^5 reads with 360 000 series); that only leaves a marker out.
 */
function identity(labels: Labels): number {
  let a = 0;
  let b = 0;
  for (const name in labels) {
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    const value = labels[name];
    for (let i = 0, n = name.length + 1 + value.length; i < n; i++) {
      const c = i < name.length ? name.charCodeAt(i) : i === name.length ? 0 : value.charCodeAt(i - name.length - 1);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    a = (a + (h1 >>> 0)) >>> 0;
    b = (b + (h2 >>> 0)) >>> 0;
  }
  return a * 2 ** 21 + (b >>> 11);
}

/**
 * The series each source gave at the previous read, to mark those that disappeared. A source
 * whose read failed keeps its series unmarked (a failed read says nothing about them); the series
 * of a source no longer registered are all marked.
 */
export class StaleSeries {
  #last = new Map<string, Map<number, Labels>>();

  /**
   * The stale markers, stamped `nowMs`, for this read (`bySource` as MetricsSources.collect gives
   * it), letting the event loop turn every SERIES_PER_TURN series. Calls must not overlap.
   */
  async markers(bySource: ReadonlyMap<string, readonly Sample[] | undefined>, nowMs: number): Promise<Sample[]> {
    const out: Sample[] = [];
    const next = new Map<string, Map<number, Labels>>();
    let seen = 0;
    for (const [name, samples] of bySource) {
      const before = this.#last.get(name);
      if (!samples) {
        if (before) next.set(name, before);
        continue;
      }
      const now = new Map<number, Labels>();
      for (const s of samples) {
        now.set(identity(s.labels), s.labels);
        if (++seen % SERIES_PER_TURN === 0) await yieldToLoop();
      }
      if (before) {
        for (const [key, labels] of before) {
          if (!now.has(key)) out.push({ labels, value: STALE_NAN, timestampMs: nowMs });
          if (++seen % SERIES_PER_TURN === 0) await yieldToLoop();
        }
      }
      next.set(name, now);
    }
    for (const [name, before] of this.#last) {
      if (!bySource.has(name)) for (const labels of before.values()) out.push({ labels, value: STALE_NAN, timestampMs: nowMs });
    }
    this.#last = next;
    return out;
  }
}
