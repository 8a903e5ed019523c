// The in-memory metric store: OTLP metrics (and span metrics) held per series, rendered in the
// Prometheus text format on /metrics, read by alert rules (`select`) and remote write (`samples`).
//
// Temporality (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#temporality):
// cumulative points replace the held value (an older point than the held one is ignored); delta
// points are ADDED to it, so every series is exposed as cumulative, as Prometheus expects. A delta
// point whose time is not after the last applied one is a resend and is ignored (counted as
// `out_of_order`). Gauges always replace. Histograms with delta temporality add bucket-wise; when
// the bucket layout changes the accumulation restarts from the new point (a counter reset to
// Prometheus). Summaries are taken as they come.
//
// Series identity: family name + the full label set (job, instance, otel_scope_*, attributes).
// A series not updated for `staleAfterMs` disappears from every output; a point flagged
// FLAG_NO_RECORDED_VALUE removes its series at once. At most `maxSeries` series are held
// (target_info included); points that would create more are dropped and counted, or, with
// onSeriesLimit "reject", the whole request is refused with 429 + Retry-After before anything of
// it is applied (so a retry cannot double-count deltas).
//
// Recent samples: every series keeps its value at `sampleResolutionMs` resolution (the last value
// seen in each slot) for `sampleWindowMs`, stamped with the time the collector received it, so
// alert rules can compute rate/avg/quantiles without a Prometheus server.

import { PeriscopeError } from '../errors.ts';
import { fit, merge, toExplicit, type ExpHistogram, type ExpLimits } from './exponential.ts';
import { applyFactor, type PromType } from './naming.ts';
import { lowerBound, upperBound } from '../../../alerting/src/sorted-search.ts';
import { compileMatcher, matchesAll } from '../../../alerting/src/rules/matchers.ts';
import type { LabelMatcher } from '../../../alerting/src/types.ts';

export type Labels = Record<string, string>;

export interface ExplicitHistogram {
  /** Ascending finite upper bounds (already in the unit of the family name). */
  bounds: number[];
  /** Observations per bucket, NOT cumulative; bounds.length + 1 entries (or [] for "no buckets"). */
  counts: number[];
  count: number;
  sum: number | undefined;
}

export interface SummaryValue {
  quantiles: Array<{ quantile: number; value: number }>;
  count: number;
  sum: number;
}

/** One data point as the store takes it (see receivers/otlp/metrics.ts for the OTLP mapping). */
export interface MetricPoint {
  /** Prometheus family name (naming.ts), e.g. http_server_request_duration_seconds. */
  name: string;
  /** The name the point was sent with (e.g. http.server.request.duration); select() accepts it too. */
  otelName: string;
  help: string;
  type: PromType;
  /** Every label but __name__/le/quantile: job, instance, otel_scope_*, attributes. */
  labels: Labels;
  /** The resource's target_info labels (job, instance, other resource attributes), if any. */
  target?: Labels;
  temporality: 'cumulative' | 'delta';
  /** Point time, epoch ns; 0n when unknown. */
  timeNs: bigint;
  /** FLAG_NO_RECORDED_VALUE: the series is gone. */
  noRecordedValue?: boolean;
  /** counter and gauge */
  value?: number;
  histogram?: ExplicitHistogram;
  /** Kept in the unit it was sent in; `factor` converts bounds and sum when rendering. */
  exponential?: ExpHistogram;
  factor?: number;
  summary?: SummaryValue;
}

export interface MetricRejection {
  /** Position of the point in the array given to apply(). */
  index: number;
  code: string;
  message: string;
}

export const METRIC_STORE_ERROR_CODES = {
  SERIES_LIMIT: 'PERISCOPE_ERR_METRICS_SERIES_LIMIT',
  TYPE_CONFLICT: 'PERISCOPE_ERR_OTLP_METRIC_TYPE_CONFLICT',
  NAME_RESERVED: 'PERISCOPE_ERR_OTLP_METRIC_NAME_RESERVED',
} as const;

export type DropReason = 'series_limit' | 'type_conflict' | 'name_reserved' | 'out_of_order' | 'bucket_layout_changed';

export interface MetricStoreOptions {
  maxSeries: number;
  staleAfterMs: number;
  sampleWindowMs: number;
  sampleResolutionMs: number;
  onSeriesLimit: 'drop' | 'reject';
  exponential: ExpLimits;
  /** Names this store refuses (another component renders them). */
  isReserved?: (name: string) => boolean;
  /** Emit target_info for the resources of the points. Default true. */
  targetInfo?: boolean;
  now?: () => number;
}

// ── The read interfaces ───────────────────────────────────────────────────────────────────────────

/** Mirrors alerting/src/rules/sources.ts (SeriesData) so the adapter is a plain pass-through. */
export interface SelectedSeries {
  labels: Labels;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Array<{ t: number; v: number }>;
  buckets?: Array<{ t: number; le: number[]; counts: number[] }>;
}

/** Mirrors collector/src/exporters/prometheus-remote-write/samples.ts (SampleBatch). */
export interface RemoteWriteBatch {
  samples: Array<{ labels: Labels; value: number; timestampMs: number }>;
  metadata: Array<{ name: string; type: PromType; help: string }>;
}

// ── Internals ─────────────────────────────────────────────────────────────────────────────────────

type Snapshot = ExplicitHistogram | ExpHistogram;

interface Series {
  key: string;
  labels: Labels;
  /** Rendered `k="v",…` (no braces), built once. */
  labelText: string;
  updatedMs: number;
  timeNs: bigint;
  value: number;
  hist?: ExplicitHistogram;
  exp?: ExpHistogram;
  factor: number;
  summary?: SummaryValue;
  /** Recent samples from `head` on: receive time, value (count for histograms), histogram state. */
  ts: number[];
  vs: number[];
  snaps: Array<Snapshot | undefined>;
  head: number;
}

interface Family {
  name: string;
  type: PromType;
  help: string;
  otelNames: Set<string>;
  series: Map<string, Series>;
}

const TARGET_INFO = 'target_info';

function seriesKey(name: string, labels: Labels): string {
  let key = name;
  for (const k of Object.keys(labels).sort()) key += `\u0000${k}\u0001${labels[k]}`;
  return key;
}

function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function labelText(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabelValue(labels[k])}"`)
    .join(',');
}

/** Lines of one piece of renderPieces: a few milliseconds of rendering. */
const RENDER_PIECE_LINES = 2000;

/** Prometheus text-format float. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The common grid of exponential snapshots: the smallest scale, the union of their ranges, the largest zero threshold. */
interface ExpLayout {
  scale: number;
  lo: number;
  hi: number;
  zeroThreshold: number;
}

/**
 * The layout every exponential snapshot of one select() answer is brought to, across its series
 * as well as over time: rules merge the buckets of the series of a group (all instances of a
 * service), which needs one `le` list. Undefined when there is no exponential snapshot.
 */
function expLayout(snaps: readonly Snapshot[], maxBuckets: number): ExpLayout | undefined {
  let scale = Number.POSITIVE_INFINITY;
  let zeroThreshold = 0;
  for (const e of snaps) {
    if (!('scale' in e)) continue;
    if (e.scale < scale) scale = e.scale;
    if (e.zeroThreshold > zeroThreshold) zeroThreshold = e.zeroThreshold;
  }
  if (scale === Number.POSITIVE_INFINITY) return undefined;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const e of snaps) {
    if (!('scale' in e) || e.positive.length === 0) continue;
    // Its range at `scale` (downscale's index >> shift), without building its buckets.
    const shift = e.scale - scale;
    const first = e.offset >> shift;
    const end = ((e.offset + e.positive.length - 1) >> shift) + 1;
    if (first < lo) lo = first;
    if (end > hi) hi = end;
  }
  if (lo === Number.POSITIVE_INFINITY) return { scale, lo: 0, hi: 0, zeroThreshold };
  // Coarser while the union spans more than maxBuckets, as fit() bounds each histogram.
  while (hi - lo > maxBuckets) {
    scale--;
    lo >>= 1;
    hi = ((hi - 1) >> 1) + 1;
  }
  return { scale, lo, hi, zeroThreshold };
}

/** `e` on `layout`: its buckets merged to the layout's scale (as downscale does) and spread over [lo, hi), the layout's zero threshold. */
function onLayout(e: ExpHistogram, layout: ExpLayout): ExpHistogram {
  const { scale, lo, hi, zeroThreshold } = layout;
  const shift = e.scale - scale; // >= 0: the layout's scale is the smallest
  const positive = new Array<number>(hi - lo).fill(0);
  for (let i = 0; i < e.positive.length; i++) positive[((e.offset + i) >> shift) - lo] += e.positive[i];
  return { ...e, scale, zeroThreshold, offset: lo, positive };
}

/** One exposition line's worth: series-name suffix, the extra label (le/quantile) and the value. */
type Line = [suffix: string, extra: string | undefined, extraValue: string | undefined, value: number];

export class MetricStore {
  readonly #o: Required<MetricStoreOptions>;
  readonly #families = new Map<string, Family>();
  /** OTel name → family names (select() by the name the app used). */
  readonly #aliases = new Map<string, Set<string>>();
  #seriesCount = 0;
  #lastSweepMs = 0;
  readonly dropped: Record<DropReason, number> = { series_limit: 0, type_conflict: 0, name_reserved: 0, out_of_order: 0, bucket_layout_changed: 0 };
  expired = 0;

  constructor(options: MetricStoreOptions) {
    this.#o = { targetInfo: true, now: Date.now, isReserved: () => false, ...options };
  }

  get seriesCount(): number {
    return this.#seriesCount;
  }

  /**
   * Applies points in order. Returns the points refused (type conflict, reserved name, series
   * limit in "drop" mode). Throws PeriscopeError 429 (with retryAfterSeconds) in "reject" mode
   * when the points need more new series than there is room for; nothing is applied then.
   */
  apply(points: readonly MetricPoint[]): { rejected: MetricRejection[] } {
    const now = this.#o.now();
    this.#maybeSweep(now);
    const keys = points.map((p) => seriesKey(p.name, p.labels));
    if (this.#o.onSeriesLimit === 'reject') this.#checkRoom(points, keys, now);
    const rejected: MetricRejection[] = [];
    const targetsSeen = new Set<string>();
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const problem = this.#applyOne(p, keys[i], now);
      if (problem) {
        rejected.push({ index: i, ...problem });
        continue;
      }
      if (p.target && this.#o.targetInfo) {
        const tkey = seriesKey(TARGET_INFO, p.target);
        if (!targetsSeen.has(tkey)) {
          targetsSeen.add(tkey);
          this.#touchTarget(p.target, tkey, now);
        }
      }
    }
    return { rejected };
  }

  #checkRoom(points: readonly MetricPoint[], keys: string[], now: number): void {
    const fresh = new Set<string>();
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      if (p.noRecordedValue) continue;
      if (!this.#families.get(p.name)?.series.has(keys[i])) fresh.add(keys[i]);
      if (p.target && this.#o.targetInfo) {
        const tkey = seriesKey(TARGET_INFO, p.target);
        if (!this.#families.get(TARGET_INFO)?.series.has(tkey)) fresh.add(tkey);
      }
    }
    if (this.#seriesCount + fresh.size <= this.#o.maxSeries) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const f of this.#families.values()) for (const s of f.series.values()) if (s.updatedMs < oldest) oldest = s.updatedMs;
    const waitMs = Number.isFinite(oldest) ? oldest + this.#o.staleAfterMs - now : this.#o.staleAfterMs;
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    this.dropped.series_limit += points.length;
    throw new PeriscopeError(
      METRIC_STORE_ERROR_CODES.SERIES_LIMIT,
      `the metric store holds ${this.#seriesCount} of at most ${this.#o.maxSeries} series and this request needs ${fresh.size} more; retry after ${retryAfterSeconds} s, when stale series have expired`,
      429,
      { retryAfterSeconds },
      retryAfterSeconds,
    );
  }

  #applyOne(p: MetricPoint, key: string, now: number): { code: string; message: string } | undefined {
    if (p.name === TARGET_INFO || this.#o.isReserved(p.name)) {
      this.dropped.name_reserved++;
      return { code: METRIC_STORE_ERROR_CODES.NAME_RESERVED, message: `metric name ${p.name} is reserved by the collector` };
    }
    let family = this.#families.get(p.name);
    if (family && family.type !== p.type) {
      this.dropped.type_conflict++;
      return { code: METRIC_STORE_ERROR_CODES.TYPE_CONFLICT, message: `${p.name} is already a ${family.type}, this point is a ${p.type}` };
    }
    let series = family?.series.get(key);
    if (p.noRecordedValue) {
      if (series && family) this.#delete(family, series);
      return undefined;
    }
    if (!series) {
      if (this.#seriesCount >= this.#o.maxSeries) {
        this.dropped.series_limit++;
        return { code: METRIC_STORE_ERROR_CODES.SERIES_LIMIT, message: `series limit of ${this.#o.maxSeries} reached; ${p.name} not stored` };
      }
      if (!family) {
        family = { name: p.name, type: p.type, help: p.help, otelNames: new Set(), series: new Map() };
        this.#families.set(p.name, family);
      }
      series = {
        key,
        labels: p.labels,
        labelText: labelText(p.labels),
        updatedMs: now,
        timeNs: 0n,
        value: 0,
        factor: p.factor ?? 1,
        ts: [],
        vs: [],
        snaps: [],
        head: 0,
      };
      family.series.set(key, series);
      this.#seriesCount++;
    }
    family = family as Family;
    if (p.help) family.help = p.help;
    if (!family.otelNames.has(p.otelName)) {
      family.otelNames.add(p.otelName);
      let set = this.#aliases.get(p.otelName);
      if (!set) this.#aliases.set(p.otelName, (set = new Set()));
      set.add(family.name);
    }
    const delta = p.temporality === 'delta';
    if (series.timeNs !== 0n && p.timeNs !== 0n && (delta ? p.timeNs <= series.timeNs : p.timeNs < series.timeNs)) {
      this.dropped.out_of_order++;
      series.updatedMs = now;
      return undefined;
    }
    if (p.timeNs !== 0n) series.timeNs = p.timeNs;
    series.updatedMs = now;
    let sample: number;
    let snap: Snapshot | undefined;
    if (p.histogram) {
      const h = p.histogram;
      const held = series.hist;
      if (delta && held && sameBounds(held.bounds, h.bounds) && held.counts.length === h.counts.length) {
        series.hist = {
          bounds: held.bounds,
          counts: held.counts.map((c, i) => c + h.counts[i]),
          count: held.count + h.count,
          sum: held.sum === undefined || h.sum === undefined ? undefined : held.sum + h.sum,
        };
      } else {
        if (delta && held) this.dropped.bucket_layout_changed++;
        series.hist = h;
      }
      sample = series.hist.count;
      snap = series.hist;
    } else if (p.exponential) {
      const limits = this.#o.exponential;
      series.exp = delta && series.exp ? merge(series.exp, p.exponential, limits) : fit(p.exponential, limits);
      series.factor = p.factor ?? 1;
      sample = series.exp.count;
      snap = series.exp;
    } else if (p.summary) {
      series.summary = p.summary;
      sample = p.summary.count;
    } else {
      const v = p.value ?? 0;
      series.value = delta ? series.value + v : v;
      sample = series.value;
    }
    this.#record(series, now, sample, snap);
    return undefined;
  }

  #touchTarget(labels: Labels, key: string, now: number): void {
    let family = this.#families.get(TARGET_INFO);
    let series = family?.series.get(key);
    if (!series) {
      if (this.#seriesCount >= this.#o.maxSeries) {
        // Counted, or an instance would miss from target_info without a trace.
        this.dropped.series_limit++;
        return;
      }
      if (!family) {
        family = { name: TARGET_INFO, type: 'gauge', help: 'Target metadata: the resource attributes of each service instance sending metrics.', otelNames: new Set(), series: new Map() };
        this.#families.set(TARGET_INFO, family);
      }
      series = { key, labels, labelText: labelText(labels), updatedMs: now, timeNs: 0n, value: 1, factor: 1, ts: [], vs: [], snaps: [], head: 0 };
      family.series.set(key, series);
      this.#seriesCount++;
    }
    series.updatedMs = now;
  }

  #record(s: Series, now: number, v: number, snap: Snapshot | undefined): void {
    const res = this.#o.sampleResolutionMs;
    const n = s.ts.length;
    if (n > s.head && Math.floor(s.ts[n - 1] / res) === Math.floor(now / res)) {
      s.ts[n - 1] = now;
      s.vs[n - 1] = v;
      s.snaps[n - 1] = snap;
    } else {
      s.ts.push(now);
      s.vs.push(v);
      s.snaps.push(snap);
    }
    const cutoff = now - this.#o.sampleWindowMs;
    while (s.head < s.ts.length && s.ts[s.head] < cutoff) s.head++;
    if (s.head > 64 && s.head * 2 > s.ts.length) {
      s.ts = s.ts.slice(s.head);
      s.vs = s.vs.slice(s.head);
      s.snaps = s.snaps.slice(s.head);
      s.head = 0;
    }
  }

  #delete(family: Family, series: Series): void {
    if (family.series.delete(series.key)) this.#seriesCount--;
    if (family.series.size === 0) {
      this.#families.delete(family.name);
      for (const otel of family.otelNames) {
        const set = this.#aliases.get(otel);
        set?.delete(family.name);
        if (set?.size === 0) this.#aliases.delete(otel);
      }
    }
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweepMs >= Math.min(this.#o.staleAfterMs / 4, 15_000)) this.expire(now);
  }

  /** Removes series not updated for staleAfterMs. Returns how many were removed. */
  expire(now: number = this.#o.now()): number {
    this.#lastSweepMs = now;
    const cutoff = now - this.#o.staleAfterMs;
    let removed = 0;
    for (const family of [...this.#families.values()]) {
      for (const s of [...family.series.values()]) {
        if (s.updatedMs < cutoff) {
          this.#delete(family, s);
          removed++;
        }
      }
    }
    this.expired += removed;
    return removed;
  }

  // ── Outputs ───────────────────────────────────────────────────────────────────────────────────

  /**
   * The layouts the exponential histograms of a family are rendered on (expLayout), one per `job`
   * (service): the series of a service (its instances, routes, …) share one `le` list, so
   * `sum by (le)` over them adds like buckets. Rendered each on its own range, a series lacking
   * the `le` values of another's range dropped out of those sums (its high buckets, which hold all
   * of its observations, most of all), and histogram_quantile() over the sum was wrong. Not one
   * list for the whole family: services with latencies apart by orders of magnitude would give
   * every series of each of them the union's buckets, up to maxBuckets Prometheus series each.
   */
  #familyLayouts(family: Family): Map<string, ExpLayout> | undefined {
    if (family.type !== 'histogram') return undefined;
    const byJob = new Map<string, Snapshot[]>();
    for (const s of family.series.values()) {
      if (!s.exp) continue;
      const job = s.labels.job ?? '';
      const snaps = byJob.get(job);
      if (snaps) snaps.push(s.exp);
      else byJob.set(job, [s.exp]);
    }
    if (byJob.size === 0) return undefined;
    const layouts = new Map<string, ExpLayout>();
    for (const [job, snaps] of byJob) layouts.set(job, expLayout(snaps, this.#o.exponential.maxBuckets)!);
    return layouts;
  }

  /** Exposition lines of one series (histograms: _bucket{le}, _sum, _count; exponential ones on their job's layout). */
  #lines(family: Family, s: Series, layouts: Map<string, ExpLayout> | undefined, exp = s.exp): Line[] {
    switch (family.type) {
      case 'counter':
      case 'gauge':
        return [['', undefined, undefined, s.value]];
      case 'histogram': {
        let bounds: number[];
        let counts: number[];
        let count: number;
        let sum: number | undefined;
        if (exp) {
          const layout = layouts?.get(s.labels.job ?? '');
          ({ bounds, counts } = toExplicit(layout ? onLayout(exp, layout) : exp, s.factor));
          count = exp.count;
          sum = exp.sum === undefined ? undefined : applyFactor(exp.sum, s.factor);
        } else {
          const h = s.hist as ExplicitHistogram;
          bounds = h.bounds;
          counts = h.counts;
          count = h.count;
          sum = h.sum;
        }
        const lines: Line[] = [];
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += counts[i] ?? 0;
          lines.push(['_bucket', 'le', formatValue(bounds[i]), cumulative]);
        }
        lines.push(['_bucket', 'le', '+Inf', count]);
        if (sum !== undefined) lines.push(['_sum', undefined, undefined, sum]);
        lines.push(['_count', undefined, undefined, count]);
        return lines;
      }
      case 'summary': {
        const sm = s.summary as SummaryValue;
        const lines: Line[] = sm.quantiles.map((q): Line => ['', 'quantile', formatValue(q.quantile), q.value]);
        lines.push(['_sum', undefined, undefined, sm.sum], ['_count', undefined, undefined, sm.count]);
        return lines;
      }
    }
  }

  /**
   * The exposition lines of `family`, series by series (renderPieces, samplePieces). Its series are
   * taken with their exponential histograms when it is reached, and the job layouts made from those:
   * a point applied while a scrape or collection waits between pieces may not fit the layouts (a
   * lower scale, a wider range), so each histogram is shown as they were made from.
   */
  *#familyLines(family: Family): Generator<readonly [Series, Line[]]> {
    const layouts = this.#familyLayouts(family);
    const series = [...family.series.values()].map((s) => [s, s.exp] as const);
    for (const [s, exp] of series) yield [s, this.#lines(family, s, layouts, exp)];
  }

  /** Prometheus text exposition format 0.0.4 of every live series (stale ones are expired first). */
  render(now: number = this.#o.now()): string {
    let out = '';
    for (const piece of this.renderPieces(now)) out += piece;
    return out;
  }

  /**
   * render() in pieces of about `linesPerPiece` lines (a series is never split), for GET /metrics
   * to let ingest run between them: at the series bounds (20 000 OTLP histograms, 5 000 span
   * metric ones) the text is 350 000 lines, and rendered at once it held the ingest thread for
   * about 3 s at each scrape. A family's series are those live when the scrape reaches it (one
   * added or expired while the scrape waits may be left out or shown, never shown twice); each
   * series' lines are of one moment.
   */
  *renderPieces(now: number = this.#o.now(), linesPerPiece = RENDER_PIECE_LINES): Generator<string> {
    this.expire(now);
    let out = '';
    let lines = 0;
    for (const name of [...this.#families.keys()].sort()) {
      const family = this.#families.get(name);
      if (!family) continue; // its last series expired while the scrape waited
      out += `# HELP ${name} ${escapeHelp(family.help || `${name} (OTLP metric)`)}\n# TYPE ${name} ${family.type}\n`;
      for (const [s, seriesLines] of this.#familyLines(family)) {
        for (const [suffix, extra, extraValue, value] of seriesLines) {
          const labels = extra === undefined ? s.labelText : s.labelText ? `${s.labelText},${extra}="${extraValue}"` : `${extra}="${extraValue}"`;
          out += labels ? `${name}${suffix}{${labels}} ${formatValue(value)}\n` : `${name}${suffix} ${formatValue(value)}\n`;
          lines++;
        }
        if (lines >= linesPerPiece) {
          yield out;
          out = '';
          lines = 0;
        }
      }
    }
    if (out !== '') yield out;
  }

  /**
   * Every live series as Prometheus samples (the series /metrics shows, `__name__` in the labels),
   * stamped `nowMs`, plus one metadata entry per family: samplePieces() joined.
   */
  samples(nowMs: number = this.#o.now()): RemoteWriteBatch {
    const batch: RemoteWriteBatch = { samples: [], metadata: [] };
    for (const piece of this.samplePieces(nowMs)) {
      for (const s of piece.samples) batch.samples.push(s);
      for (const m of piece.metadata) batch.metadata.push(m);
    }
    return batch;
  }

  /**
   * samples() in pieces of about `samplesPerPiece` samples (a series is never split), a family's
   * metadata in the piece its first sample is in: the source the remote-write exporter registers
   * (`MetricsSources.add('otlp-metrics', (now) => store.samplePieces(now))`), which lets ingest
   * run between pieces. At the series bounds (19 000 OTLP histograms, 342 000 samples) samples()
   * held the ingest thread for 0.4-2 s at each remote write interval. The families are those live
   * at `nowMs`, a family's series those live when the collection reaches it (a series is never
   * given twice, even if removed and added again meanwhile); each series' samples are of one
   * moment, and every sample is stamped `nowMs`.
   */
  *samplePieces(nowMs: number = this.#o.now(), samplesPerPiece = RENDER_PIECE_LINES): Generator<RemoteWriteBatch> {
    this.expire(nowMs);
    let piece: RemoteWriteBatch = { samples: [], metadata: [] };
    for (const family of [...this.#families.values()]) {
      piece.metadata.push({ name: family.name, type: family.type, help: family.help || `${family.name} (OTLP metric)` });
      for (const [s, seriesLines] of this.#familyLines(family)) {
        for (const [suffix, extra, extraValue, value] of seriesLines) {
          const labels: Labels = { __name__: family.name + suffix, ...s.labels };
          if (extra !== undefined) labels[extra] = extraValue as string;
          piece.samples.push({ labels, value, timestampMs: nowMs });
        }
        if (piece.samples.length >= samplesPerPiece) {
          yield piece;
          piece = { samples: [], metadata: [] };
        }
      }
    }
    if (piece.samples.length > 0 || piece.metadata.length > 0) yield piece;
  }

  /**
   * Series of `name` matching every matcher (regex matchers fully anchored, a missing label
   * matches as ""), with their samples in [now - windowMs, now]. `name` is the Prometheus family
   * name (`x_total` for counters), the OTel name the app used, or a histogram's `<name>_count` /
   * `<name>_sum` (then a counter). A histogram's samples are its observation count; its bucket
   * snapshots carry the distribution (bounds in the family's unit, counts not cumulative).
   */
  select(name: string, matchers: readonly LabelMatcher[], windowMs: number, now: number): SelectedSeries[] {
    const tests = matchers.map(compileMatcher);
    const from = now - windowMs;
    const out: SelectedSeries[] = [];
    for (const { family, view } of this.#resolve(name)) {
      // Histogram series wait for the layout they will share (exponential ones differ per series).
      const histograms: Array<{ s: Series; a: number; b: number; samples: Array<{ t: number; v: number }> }> = [];
      for (const s of family.series.values()) {
        if (!matchesAll(tests, s.labels)) continue;
        const a = lowerBound(s.ts, from, s.head);
        const b = upperBound(s.ts, now, a);
        if (a === b) continue;
        const samples: Array<{ t: number; v: number }> = [];
        for (let i = a; i < b; i++) samples.push({ t: s.ts[i], v: view === 'sum' ? this.#sumOf(s.snaps[i], s) : s.vs[i] });
        if (view !== 'value') {
          out.push({ labels: { ...s.labels }, type: 'counter', samples });
          continue;
        }
        if (family.type === 'histogram') histograms.push({ s, a, b, samples });
        else if (family.type !== 'summary') out.push({ labels: { ...s.labels }, type: family.type, samples });
      }
      const layout = expLayout(histograms.flatMap(({ s, a, b }) => s.snaps.slice(a, b) as Snapshot[]), this.#o.exponential.maxBuckets);
      for (const { s, a, b, samples } of histograms) {
        out.push({ labels: { ...s.labels }, type: 'histogram', samples, buckets: this.#bucketSnapshots(s, a, b, layout) });
      }
    }
    return out;
  }

  #sumOf(snap: Snapshot | undefined, s: Series): number {
    if (!snap) return s.summary?.sum ?? Number.NaN;
    if ('scale' in snap) return applyFactor(snap.sum ?? Number.NaN, s.factor);
    return snap.sum ?? Number.NaN;
  }

  #resolve(name: string): Array<{ family: Family; view: 'value' | 'count' | 'sum' }> {
    const direct = this.#families.get(name);
    if (direct) return [{ family: direct, view: 'value' }];
    const aliased = this.#aliases.get(name);
    if (aliased) return [...aliased].map((n) => ({ family: this.#families.get(n) as Family, view: 'value' as const })).filter((r) => r.family);
    const total = this.#families.get(`${name}_total`);
    if (total?.type === 'counter') return [{ family: total, view: 'value' }];
    const m = /^(.*)_(count|sum)$/.exec(name);
    const base = m ? this.#families.get(m[1]) : undefined;
    if (m && base && (base.type === 'histogram' || base.type === 'summary')) return [{ family: base, view: m[2] as 'count' | 'sum' }];
    return [];
  }

  /** Histogram snapshots of samples [a, b); exponential ones on `layout` (expLayout), so all have the same `le` list. */
  #bucketSnapshots(s: Series, a: number, b: number, layout: ExpLayout | undefined): Array<{ t: number; le: number[]; counts: number[] }> {
    const snaps = s.snaps.slice(a, b) as Snapshot[];
    const out: Array<{ t: number; le: number[]; counts: number[] }> = [];
    if (layout && snaps.length > 0 && 'scale' in snaps[0]) {
      for (let i = 0; i < snaps.length; i++) {
        const e = snaps[i] as ExpHistogram;
        const { bounds, counts } = toExplicit(onLayout(e, layout), s.factor);
        counts.push(Math.max(0, e.count - counts.reduce((x, y) => x + y, 0)));
        out.push({ t: s.ts[a + i], le: bounds, counts });
      }
      return out;
    }
    for (let i = 0; i < snaps.length; i++) {
      const h = snaps[i] as ExplicitHistogram;
      const counts = h.counts.length === h.bounds.length + 1 ? h.counts.slice() : [...h.bounds.map(() => 0), h.count];
      out.push({ t: s.ts[a + i], le: h.bounds, counts });
    }
    return out;
  }

  /** Family names and their series counts (for health and tests). */
  families(): Array<{ name: string; type: PromType; series: number }> {
    return [...this.#families.values()].map((f) => ({ name: f.name, type: f.type, series: f.series.size }));
  }
}
