import * as agg from './aggregate.ts';
import type { PrometheusClient } from './prometheus.ts';
import type { Condition, LogRule, MetricRule, PromqlRule, Rule } from './schema.ts';
import type { LogCountSource, MetricSource, SeriesData } from './sources.ts';

// One evaluation of one rule: from the data sources to a list of instance results. Pure with
// respect to alert state (the state machine lives in state/machine.ts).

/** breach: the fire condition holds; ok: the value passed the clear threshold; hold: in between (hysteresis band). */
export type Cond = 'breach' | 'ok' | 'hold';

export interface InstanceResult {
  /** Group labels (metric: the groupBy labels; promql: the series labels; log: none). */
  labels: Record<string, string>;
  /** groupKey(labels), when already computed. */
  key?: string;
  value: number;
  cond: Cond;
}

export type EvalResult =
  /**
   * `missing` says what an existing instance absent from `instances` means: `nodata` (its data is
   * gone — never "resolved") or `ok` (promql filter expressions: absence is the normal state).
   */
  | {
      kind: 'data';
      instances: InstanceResult[];
      missing: 'nodata' | 'ok';
      /**
       * Keys of groups whose series are still there but gave no value (`rate` of one sample in the
       * window, a histogram without an increase): too little data, not a series gone.
       */
      withoutValue?: Set<string>;
    }
  | { kind: 'error'; error: string };

export interface EvalSources {
  metrics?: MetricSource;
  logs?: LogCountSource;
  prometheus?: PrometheusClient;
}

function compare(v: number, op: Condition['op'], t: number): boolean {
  switch (op) {
    case '>': return v > t;
    case '>=': return v >= t;
    case '<': return v < t;
    case '<=': return v <= t;
    case '==': return v === t;
    case '!=': return v !== t;
  }
}

/** Fire when the comparison holds; clear when the value is strictly past the clear threshold; else hold. */
export function judge(c: Condition, v: number): Cond {
  if (compare(v, c.op, c.threshold)) return 'breach';
  if (c.clear === undefined) return 'ok';
  const cleared = c.op === '>' || c.op === '>=' ? v < c.clear : v > c.clear;
  return cleared ? 'ok' : 'hold';
}

function seriesValue(rule: MetricRule, s: SeriesData): number | undefined {
  switch (rule.aggregation.kind) {
    case 'last': return agg.last(s.samples);
    case 'avg': return agg.avg(s.samples);
    case 'min': return agg.min(s.samples);
    case 'max': return agg.max(s.samples);
    case 'sum': return agg.sum(s.samples);
    case 'rate': return agg.rate(s.samples);
    case 'increase': return agg.increase(s.samples);
    case 'quantile': return undefined;
  }
}

/** Canonical key of a label set (sorted names): identifies an alert instance within its rule. */
export function groupKey(labels: Record<string, string>): string {
  const keys = Object.keys(labels);
  if (!keys.length) return '';
  keys.sort();
  let k = '';
  for (const name of keys) k += `${name}\u0000${labels[name]}\u0001`;
  return k;
}

interface Group {
  key: string;
  labels: Record<string, string>;
}

interface GroupCache {
  bySeries: Map<Record<string, string>, Group>;
  byKey: Map<string, Group>;
}

// The group of a series, cached per rule by the identity of the series' labels object and
// interned by key: with a source that hands out the same labels object at every select (as
// InMemoryMetricSource does), steady-state rounds neither rebuild keys nor hash strings per series.
const groupCaches = new WeakMap<MetricRule, GroupCache>();
const NO_GROUP: Group = { key: '', labels: {} };

function groupCache(rule: MetricRule): GroupCache {
  let c = groupCaches.get(rule);
  if (!c) groupCaches.set(rule, (c = { bySeries: new Map(), byKey: new Map() }));
  return c;
}

function groupOf(rule: MetricRule, cache: GroupCache, labels: Record<string, string>): Group {
  if (!rule.groupBy.length) return NO_GROUP;
  let g = cache.bySeries.get(labels);
  if (g) return g;
  const out: Record<string, string> = {};
  for (const l of rule.groupBy) {
    const v = labels[l];
    if (v !== undefined && v !== '') out[l] = v;
  }
  const key = groupKey(out);
  g = cache.byKey.get(key);
  if (!g) cache.byKey.set(key, (g = { key, labels: out }));
  cache.bySeries.set(labels, g);
  return g;
}

interface Acc {
  n: number;
  sum: number;
  min: number;
  max: number;
}

function combined(how: MetricRule['combine'], a: Acc): number {
  switch (how) {
    case 'sum': return a.sum;
    case 'avg': return a.sum / a.n;
    case 'min': return a.min;
    case 'max': return a.max;
  }
}

export async function evaluateMetricRule(rule: MetricRule, source: MetricSource, now: number): Promise<EvalResult> {
  const selected = source.select(rule.selector.name, rule.selector.matchers, rule.windowMs, now);
  const series = Array.isArray(selected) ? selected : await selected;
  const instances: InstanceResult[] = [];
  const cache = groupCache(rule);
  // Bounded: a source that hands out new label objects at every select (or series churn) only
  // costs key rebuilding, never unbounded memory.
  const bound = 2 * series.length + 64;
  if (cache.bySeries.size > bound || cache.byKey.size > bound) {
    cache.bySeries.clear(); // both together: a group must stay one object within an evaluation
    cache.byKey.clear();
  }
  const withoutValue = new Set<string>();
  if (rule.aggregation.kind === 'quantile') {
    const groups = new Map<Group, { le: number[]; counts: number[] }>();
    for (const s of series) {
      const g = groupOf(rule, cache, s.labels);
      const inc = s.buckets && agg.bucketIncrease(s.buckets);
      if (!inc) {
        withoutValue.add(g.key);
        continue;
      }
      const existing = groups.get(g);
      if (!existing) groups.set(g, inc);
      else if (!agg.mergeBuckets(existing, inc)) {
        throw new Error(`histogram bucket bounds of the series of group ${JSON.stringify(g.labels)} have no finite bound in common; group by a label that separates them`);
      }
    }
    for (const [g, hist] of groups) {
      const v = agg.quantile(rule.aggregation.q, hist.le, hist.counts);
      if (v !== undefined && !Number.isNaN(v)) instances.push({ labels: g.labels, key: g.key, value: v, cond: judge(rule.condition, v) });
      else withoutValue.add(g.key);
    }
  } else {
    const groups = new Map<Group, Acc>();
    for (const s of series) {
      const v = seriesValue(rule, s);
      const g = groupOf(rule, cache, s.labels);
      if (v === undefined || Number.isNaN(v)) {
        withoutValue.add(g.key);
        continue;
      }
      const a = groups.get(g);
      if (!a) groups.set(g, { n: 1, sum: v, min: v, max: v });
      else {
        a.n++;
        a.sum += v;
        if (v < a.min) a.min = v;
        if (v > a.max) a.max = v;
      }
    }
    for (const [g, a] of groups) {
      const v = combined(rule.combine, a);
      instances.push({ labels: g.labels, key: g.key, value: v, cond: judge(rule.condition, v) });
    }
  }
  return withoutValue.size ? { kind: 'data', instances, missing: 'nodata', withoutValue } : { kind: 'data', instances, missing: 'nodata' };
}

/**
 * frequency: value = records in the window (default: fire when > threshold);
 * absence:   value = records in the window (default: fire when < threshold, threshold 1 = none);
 * spike:     value = rate in the window / rate in the reference window just before it. A reference
 *            with no record counts as one record (no division by zero; a burst from silence still
 *            shows as a large ratio), and the rule never fires while the window holds fewer than
 *            `minCount` records.
 */
export async function evaluateLogRule(rule: LogRule, source: LogCountSource, now: number): Promise<EvalResult> {
  const count = await source.count(rule.filter, now - rule.windowMs, now);
  if (rule.mode !== 'spike') return { kind: 'data', instances: [{ labels: {}, value: count, cond: judge(rule.condition, count) }], missing: 'nodata' };
  const start = now - rule.windowMs;
  const reference = await source.count(rule.filter, start - rule.referenceWindowMs, start);
  const ratio = count / rule.windowMs / (Math.max(reference, 1) / rule.referenceWindowMs);
  const value = Math.round(ratio * 1e6) / 1e6;
  const cond = count < rule.minCount ? 'ok' : judge(rule.condition, value);
  return { kind: 'data', instances: [{ labels: {}, value, cond }], missing: 'nodata' };
}

/**
 * Without a threshold (filter mode, Prometheus alerting semantics): every returned series is
 * active and a series that is no longer returned is ok. With a threshold: each series is compared
 * (hysteresis available) and a series that is no longer returned has no data.
 */
export async function evaluatePromqlRule(rule: PromqlRule, client: PrometheusClient, now: number): Promise<EvalResult> {
  const series = await client.query(rule.expr, now);
  const instances: InstanceResult[] = [];
  for (const s of series) {
    if (Number.isNaN(s.value)) continue;
    instances.push({ labels: s.labels, value: s.value, cond: rule.condition ? judge(rule.condition, s.value) : 'breach' });
  }
  return { kind: 'data', instances, missing: rule.condition ? 'nodata' : 'ok' };
}

/** Evaluates a rule; a failure of any kind becomes an `error` result (never an empty one). */
export async function evaluateRule(rule: Rule, sources: EvalSources, now: number): Promise<EvalResult> {
  try {
    switch (rule.kind) {
      case 'metric':
        if (!sources.metrics) return { kind: 'error', error: 'no metric source is configured' };
        return await evaluateMetricRule(rule, sources.metrics, now);
      case 'log':
        if (!sources.logs) return { kind: 'error', error: 'no log source is configured' };
        return await evaluateLogRule(rule, sources.logs, now);
      case 'promql':
        if (!sources.prometheus) return { kind: 'error', error: 'no Prometheus server is configured (alerting.prometheus.url)' };
        return await evaluatePromqlRule(rule, sources.prometheus, now);
    }
  } catch (err) {
    return { kind: 'error', error: (err as Error).message || String(err) };
  }
}
