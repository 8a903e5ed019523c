// Slow operations: per (service, span name), span durations in one-minute buckets over the last
// `maxWindowMs`, for GET /api/v1/traces/slowest. Kept in memory (fed on ingest, rebuilt from the
// span store at start-up), so the answer costs O(operations × minutes), never a scan of the spans.
//
// Each minute holds a log-scale histogram of durations (16 buckets per power of two, so a
// reported percentile is within ~4.4 % above the true value, and never above the slowest span)
// and the three slowest spans as examples. A span counts in the minute of its start time; spans
// starting in the future (clock skew) count in the current minute, spans that started before the
// largest window (an exporter's backlog sent after an outage) are left out, as the start-up
// rebuild leaves them out: counted in the window's first minute they showed as recent, until a
// restart.

import { setImmediate as yieldToLoop } from 'node:timers/promises';

export interface SlowOperation {
  service: string | null;
  operation: string;
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The slowest spans of the operation in the window, slowest first. */
  examples: Array<{ traceId: string; spanId: string; durationMs: number }>;
}

export interface TimedSpan {
  traceId: string;
  spanId: string;
  service: string | null;
  name: string;
  startMs: number;
  durationNs: number;
}

interface Minute {
  /** log bucket index → count; index i holds durations (2^((i-1)/16), 2^(i/16)] microseconds. */
  buckets: Map<number, number>;
  count: number;
  maxNs: number;
  top: Array<{ traceId: string; spanId: string; durationNs: number }>;
}

interface Operation {
  service: string | null;
  name: string;
  minutes: Map<number, Minute>;
}

const PER_DOUBLING = 16;
/** Operation minutes slowest() merges between event-loop turns: a few milliseconds. */
const MERGE_SLICE = 2000;
const EXAMPLES = 3;
const MINUTE = 60_000;

function bucketOf(durationNs: number): number {
  const us = durationNs / 1000;
  return us <= 1 ? 0 : Math.ceil(Math.log2(us) * PER_DOUBLING);
}

function upperNs(bucket: number): number {
  return 2 ** (bucket / PER_DOUBLING) * 1000;
}

export class SlowOperations {
  readonly #ops = new Map<string, Operation>();
  readonly #maxWindowMs: number;
  readonly #maxOperations: number;
  readonly #now: () => number;
  /** The window's oldest minute at the last prune: nothing older is held, so a prune before it moves finds nothing. */
  #prunedBefore = Number.NEGATIVE_INFINITY;
  dropped = 0;

  constructor(options: { maxWindowMs: number; maxOperations: number; now?: () => number }) {
    this.#maxWindowMs = options.maxWindowMs;
    this.#maxOperations = options.maxOperations;
    this.#now = options.now ?? Date.now;
  }

  get maxWindowMs(): number {
    return this.#maxWindowMs;
  }

  get operationCount(): number {
    return this.#ops.size;
  }

  record(spans: Iterable<TimedSpan>): void {
    const now = this.#now();
    const oldest = Math.floor((now - this.#maxWindowMs) / MINUTE);
    const newest = Math.floor(now / MINUTE);
    for (const s of spans) {
      const minuteKey = Math.min(newest, Math.floor(s.startMs / MINUTE));
      if (minuteKey < oldest) continue;
      const key = `${s.service ?? ''}\u0000${s.name}`;
      let op = this.#ops.get(key);
      if (!op) {
        // At the bound, a prune frees room only once a minute has left the window: pruning for
        // every span of a new operation walked every minute of every operation (10 000 × 60),
        // and 100 spans of new names (unnormalized URLs) held the ingest thread for 0.5–2 s.
        if (this.#ops.size >= this.#maxOperations && oldest > this.#prunedBefore) this.prune(now);
        if (this.#ops.size >= this.#maxOperations) {
          this.dropped++;
          continue;
        }
        op = { service: s.service, name: s.name, minutes: new Map() };
        this.#ops.set(key, op);
      }
      let m = op.minutes.get(minuteKey);
      if (!m) op.minutes.set(minuteKey, (m = { buckets: new Map(), count: 0, maxNs: 0, top: [] }));
      const b = bucketOf(s.durationNs);
      m.buckets.set(b, (m.buckets.get(b) ?? 0) + 1);
      m.count++;
      if (s.durationNs > m.maxNs) m.maxNs = s.durationNs;
      if (m.top.length < EXAMPLES || s.durationNs > m.top[m.top.length - 1].durationNs) {
        m.top.push({ traceId: s.traceId, spanId: s.spanId, durationNs: s.durationNs });
        m.top.sort((x, y) => y.durationNs - x.durationNs);
        if (m.top.length > EXAMPLES) m.top.pop();
      }
    }
  }

  /** Drops minutes older than the maximum window, and operations left empty. */
  prune(now: number = this.#now()): void {
    const oldest = Math.floor((now - this.#maxWindowMs) / MINUTE);
    this.#prunedBefore = Math.max(this.#prunedBefore, oldest);
    for (const [key, op] of this.#ops) {
      for (const minute of op.minutes.keys()) if (minute < oldest) op.minutes.delete(minute);
      if (op.minutes.size === 0) this.#ops.delete(key);
    }
  }

  /**
   * Operations with spans in the last `windowMs` (whole minutes, the current one included), highest
   * p95 first. The event loop gets a turn after every MERGE_SLICE minutes merged: at the bounds
   * (10 000 operations with spans in each minute of an hour) the merge took 1.7–2.6 s, which held
   * the ingest thread. Operations recorded meanwhile may be counted or not.
   */
  async slowest(options: { service?: string; windowMs: number; limit: number }): Promise<SlowOperation[]> {
    const now = this.#now();
    this.prune(now);
    const first = Math.floor((now - Math.min(options.windowMs, this.#maxWindowMs)) / MINUTE);
    const out: SlowOperation[] = [];
    let merged = 0;
    for (const op of this.#ops.values()) {
      if (merged >= MERGE_SLICE) {
        merged = 0;
        await yieldToLoop();
      }
      merged += op.minutes.size;
      if (options.service !== undefined && op.service !== options.service) continue;
      const buckets = new Map<number, number>();
      let count = 0;
      let maxNs = 0;
      const top: Minute['top'] = [];
      for (const [minute, m] of op.minutes) {
        if (minute < first) continue;
        for (const [b, n] of m.buckets) buckets.set(b, (buckets.get(b) ?? 0) + n);
        count += m.count;
        maxNs = Math.max(maxNs, m.maxNs);
        top.push(...m.top);
      }
      if (count === 0) continue;
      const sorted = [...buckets].sort((x, y) => x[0] - y[0]);
      const quantile = (q: number): number => {
        const rank = Math.ceil(q * count);
        let seen = 0;
        for (const [b, n] of sorted) {
          seen += n;
          if (seen >= rank) return Math.min(upperNs(b), maxNs);
        }
        return maxNs;
      };
      top.sort((x, y) => y.durationNs - x.durationNs);
      out.push({
        service: op.service,
        operation: op.name,
        count,
        p50Ms: quantile(0.5) / 1e6,
        p95Ms: quantile(0.95) / 1e6,
        p99Ms: quantile(0.99) / 1e6,
        maxMs: maxNs / 1e6,
        examples: top.slice(0, EXAMPLES).map((t) => ({ traceId: t.traceId, spanId: t.spanId, durationMs: t.durationNs / 1e6 })),
      });
    }
    out.sort((a, b) => b.p95Ms - a.p95Ms || b.maxMs - a.maxMs);
    return out.slice(0, options.limit);
  }
}
