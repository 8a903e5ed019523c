import type { LabelMatcher } from '../types.ts';
import { compileMatcher, matchesAll, type CompiledMatcher } from './matchers.ts';
import { lowerBound, upperBound } from '../sorted-search.ts';

// Data sources of the rule engine. The collector wires its stores behind these interfaces; the
// in-memory implementations serve tests and the bench (and can back a small metric store).

export interface Sample {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

/**
 * A histogram snapshot at time `t`, OpenTelemetry layout: `le` are the explicit upper bounds
 * (ascending), `counts[i]` the observations in bucket i — (le[i-1], le[i]] — NOT cumulative across
 * buckets, `counts.length === le.length + 1` (the last bucket is (le[n-1], +Inf)).
 * Counts are cumulative over time (OTLP cumulative temporality, like a Prometheus counter): they
 * only grow, except at a reset (process restart), which the engine detects. A source holding delta
 * temporality must accumulate before handing snapshots out.
 */
export interface BucketSnapshot {
  t: number;
  le: number[];
  counts: number[];
  /**
   * Optional hint: how many resets (a bucket going down, or a layout change) the source has seen
   * in this series up to and including this snapshot. When the first and last snapshot of a
   * window carry the same number, the engine skips the per-bucket reset scan.
   */
  resets?: number;
}

export interface SeriesData {
  labels: Record<string, string>;
  type: 'counter' | 'gauge' | 'histogram';
  /** Samples with now - windowMs <= t <= now, ascending. Counters are cumulative. */
  samples: Sample[];
  /** Histogram snapshots in the same window, ascending. */
  buckets?: BucketSnapshot[];
}

export interface MetricSource {
  /**
   * Series named `name` matching every matcher (regex matchers fully anchored, a missing label
   * matches as ""), with their samples in [now - windowMs, now].
   */
  select(name: string, matchers: LabelMatcher[], windowMs: number, now: number): SeriesData[] | Promise<SeriesData[]>;
}

export interface LogCountSource {
  /**
   * Number of log records matching `filter` (the query parameters of GET /api/v1/logs: service,
   * severity, q, traceId, attr.<key>, sd.<id>.<param>) with startMs <= timestamp < endMs.
   */
  count(filter: Record<string, string>, startMs: number, endMs: number): number | Promise<number>;
}

/** Same layout and no bucket below the previous snapshot's. */
function continuesFrom(prev: BucketSnapshot, cur: BucketSnapshot): boolean {
  if (prev.le !== cur.le) {
    if (prev.le.length !== cur.le.length) return false;
    for (let i = 0; i < cur.le.length; i++) if (prev.le[i] !== cur.le[i]) return false;
  }
  for (let i = 0; i < cur.counts.length; i++) if (cur.counts[i] < prev.counts[i]) return false;
  return true;
}

interface StoredSeries {
  labels: Record<string, string>;
  type: SeriesData['type'];
  /**
   * Parallel arrays from `head` on (older entries are dropped lazily by retention). Samples are
   * kept as the objects `select` hands out, so a select copies references, not samples.
   */
  ts: number[];
  samples: Sample[];
  head: number;
  hts: number[];
  hs: BucketSnapshot[];
  hhead: number;
}

function seriesKey(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  let key = '';
  for (const k of keys) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

/**
 * In-memory metric store: series by name, samples in time order, bounded by age per series
 * (`retentionMs`, default 1 h) and count (`maxSamplesPerSeries`, default 10 000).
 * Out-of-order samples are inserted in place; a duplicate timestamp replaces the value.
 */
export class InMemoryMetricSource implements MetricSource {
  private readonly byName = new Map<string, Map<string, StoredSeries>>();
  private readonly matcherCache = new Map<string, CompiledMatcher>();
  /** Series matching a selector, per name: rebuilt when a series of that name is created or removed. */
  private readonly selectionCache = new Map<string, Map<string, StoredSeries[]>>();
  private readonly retentionMs: number;
  private readonly maxSamples: number;

  constructor(options: { retentionMs?: number; maxSamplesPerSeries?: number } = {}) {
    this.retentionMs = options.retentionMs ?? 3_600_000;
    this.maxSamples = options.maxSamplesPerSeries ?? 10_000;
  }

  private series(name: string, labels: Record<string, string>, type: SeriesData['type']): StoredSeries {
    let byKey = this.byName.get(name);
    if (!byKey) this.byName.set(name, (byKey = new Map()));
    const key = seriesKey(labels);
    let s = byKey.get(key);
    if (!s) {
      byKey.set(key, (s = { labels: { ...labels }, type, ts: [], samples: [], head: 0, hts: [], hs: [], hhead: 0 }));
      this.selectionCache.delete(name);
    }
    s.type = type;
    return s;
  }

  /** Adds a counter or gauge sample. */
  add(name: string, labels: Record<string, string>, t: number, v: number, type: 'counter' | 'gauge' = 'gauge'): void {
    const s = this.series(name, labels, type);
    const n = s.ts.length;
    const sample = { t, v };
    if (n === s.head || s.ts[n - 1] < t) {
      s.ts.push(t);
      s.samples.push(sample);
    } else {
      const i = lowerBound(s.ts, t, s.head);
      if (s.ts[i] === t) s.samples[i] = sample;
      else {
        s.ts.splice(i, 0, t);
        s.samples.splice(i, 0, sample);
      }
    }
    this.trim(s);
  }

  /** Adds a histogram snapshot (layout and temporality: see BucketSnapshot). */
  addHistogram(name: string, labels: Record<string, string>, t: number, le: number[], counts: number[]): void {
    if (counts.length !== le.length + 1) throw new Error(`histogram ${name}: counts must have le.length + 1 entries`);
    const s = this.series(name, labels, 'histogram');
    const n = s.hts.length;
    const snapshot: BucketSnapshot = { t, le, counts, resets: 0 };
    if (n === s.hhead || s.hts[n - 1] < t) {
      const prev = n > s.hhead ? s.hs[n - 1] : undefined;
      snapshot.resets = prev ? (prev.resets ?? 0) + (continuesFrom(prev, snapshot) ? 0 : 1) : 0;
      s.hts.push(t);
      s.hs.push(snapshot);
    } else {
      const i = lowerBound(s.hts, t, s.hhead);
      if (s.hts[i] === t) s.hs[i] = snapshot;
      else {
        s.hts.splice(i, 0, t);
        s.hs.splice(i, 0, snapshot);
      }
      // Out of order: recount resets from the insertion point on.
      for (let j = Math.max(i, s.hhead); j < s.hs.length; j++) {
        const prev = j > s.hhead ? s.hs[j - 1] : undefined;
        s.hs[j] = { ...s.hs[j], resets: prev ? (prev.resets ?? 0) + (continuesFrom(prev, s.hs[j]) ? 0 : 1) : 0 };
      }
    }
    this.trim(s);
  }

  private trim(s: StoredSeries): void {
    const latest = Math.max(s.ts.length > s.head ? s.ts[s.ts.length - 1] : -Infinity, s.hts.length > s.hhead ? s.hts[s.hts.length - 1] : -Infinity);
    const cutoff = latest - this.retentionMs;
    let head = lowerBound(s.ts, cutoff, s.head);
    head = Math.max(head, s.ts.length - this.maxSamples);
    s.head = head;
    let hhead = lowerBound(s.hts, cutoff, s.hhead);
    hhead = Math.max(hhead, s.hts.length - this.maxSamples);
    s.hhead = hhead;
    // Compact when the dropped prefix dominates (amortized O(1) per sample).
    if (s.head > 1024 && s.head * 2 > s.ts.length) {
      s.ts = s.ts.slice(s.head);
      s.samples = s.samples.slice(s.head);
      s.head = 0;
    }
    if (s.hhead > 256 && s.hhead * 2 > s.hts.length) {
      s.hts = s.hts.slice(s.hhead);
      s.hs = s.hs.slice(s.hhead);
      s.hhead = 0;
    }
  }

  /**
   * Applies the retention to every series against `now` and forgets series left empty (series
   * that stopped receiving samples are otherwise only trimmed when they get a new one). Call it
   * periodically, e.g. once a minute.
   */
  prune(now: number): void {
    const cutoff = now - this.retentionMs;
    for (const [name, byKey] of this.byName) {
      let removed = false;
      for (const [key, s] of byKey) {
        s.head = lowerBound(s.ts, cutoff, s.head);
        s.hhead = lowerBound(s.hts, cutoff, s.hhead);
        if (s.head >= s.ts.length && s.hhead >= s.hts.length) {
          byKey.delete(key);
          removed = true;
        }
      }
      if (removed) this.selectionCache.delete(name);
      if (!byKey.size) this.byName.delete(name);
    }
  }

  /** Removes every series of `name` (or everything). */
  clear(name?: string): void {
    if (name === undefined) {
      this.byName.clear();
      this.selectionCache.clear();
    } else {
      this.byName.delete(name);
      this.selectionCache.delete(name);
    }
  }

  seriesCount(): number {
    let n = 0;
    for (const m of this.byName.values()) n += m.size;
    return n;
  }

  private compiled(m: LabelMatcher): CompiledMatcher {
    const key = `${m.name}\u0000${m.op}\u0000${m.value}`;
    let c = this.matcherCache.get(key);
    if (!c) {
      c = compileMatcher(m);
      if (this.matcherCache.size > 10_000) this.matcherCache.clear();
      this.matcherCache.set(key, c);
    }
    return c;
  }

  private matching(name: string, byKey: Map<string, StoredSeries>, matchers: LabelMatcher[]): StoredSeries[] {
    let perName = this.selectionCache.get(name);
    if (!perName) this.selectionCache.set(name, (perName = new Map()));
    let key = '';
    for (const m of matchers) key += `${m.name}\u0000${m.op}\u0000${m.value}\u0001`;
    let list = perName.get(key);
    if (!list) {
      const compiled = matchers.map((m) => this.compiled(m));
      list = [];
      for (const s of byKey.values()) if (matchesAll(compiled, s.labels)) list.push(s);
      if (perName.size > 1000) perName.clear();
      perName.set(key, list);
    }
    return list;
  }

  select(name: string, matchers: LabelMatcher[], windowMs: number, now: number): SeriesData[] {
    const byKey = this.byName.get(name);
    if (!byKey) return [];
    const from = now - windowMs;
    const out: SeriesData[] = [];
    for (const s of this.matching(name, byKey, matchers)) {
      const a = lowerBound(s.ts, from, s.head);
      const b = upperBound(s.ts, now, a);
      const ha = lowerBound(s.hts, from, s.hhead);
      const hb = upperBound(s.hts, now, ha);
      if (a === b && ha === hb) continue;
      // Shared objects: callers must not mutate labels, samples or snapshots.
      const data: SeriesData = { labels: s.labels, type: s.type, samples: s.samples.slice(a, b) };
      if (hb > ha) data.buckets = s.hs.slice(ha, hb);
      out.push(data);
    }
    return out;
  }
}

/** In-memory log counter for tests: records are (timestamp, fields) pairs matched by equality. */
export class InMemoryLogCountSource implements LogCountSource {
  readonly records: Array<{ t: number; fields: Record<string, string> }> = [];
  /** When set, `count` throws it (to exercise the error state). */
  failWith: Error | undefined;

  add(t: number, fields: Record<string, string> = {}, times = 1): void {
    for (let i = 0; i < times; i++) this.records.push({ t, fields });
  }

  count(filter: Record<string, string>, startMs: number, endMs: number): number {
    if (this.failWith) throw this.failWith;
    let n = 0;
    for (const r of this.records) {
      if (r.t < startMs || r.t >= endMs) continue;
      let ok = true;
      for (const [k, v] of Object.entries(filter)) {
        if (k === 'q' ? !(r.fields.msg ?? '').includes(v) : r.fields[k] !== v) {
          ok = false;
          break;
        }
      }
      if (ok) n++;
    }
    return n;
  }
}
