// OTLP metrics (normalized by decode.ts) → MetricStore points, with per-data-point rejections.
//
// Mapping (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#otlp-metric-points-to-prometheus,
// names and units: collector/src/metrics/naming.ts, temporality: collector/src/metrics/store.ts):
// - Gauge → gauge. Sum monotonic → counter (`_total`); non-monotonic → gauge. Histogram → histogram
//   (explicit buckets). ExponentialHistogram → histogram with classic buckets (exponential.ts).
//   Summary → summary (quantile label, _sum, _count).
// - resource `service.namespace`/`service.name` → `job` ("ns/name" or "name"), `service.instance.id`
//   → `instance`; the other resource attributes only go to `target_info`.
// - scope name/version → `otel_scope_name` / `otel_scope_version` labels (when not empty).
// - data point attributes → labels (naming.ts: sanitized, colliding keys joined with ";").
// - Values, bucket bounds and sums are converted to the base unit of the name (ms → seconds …).
// - Exemplars, min/max and start times are not used.
//
// Rejections (partial success, the rest of the request is kept). `index` is the position of the
// data point in document order over every resourceMetrics/scopeMetrics/metric/dataPoints; a
// problem of the metric itself (no data, bad temporality, a wrong field type in it, its scope or
// resource) rejects all its points and is reported once, at the index of its first point, with
// rejectedCount counting every point (at least 1 for a metric that has none).

import {
  applyFactor,
  attributesToLabels,
  translateMetricName,
  type PromType,
} from '../../metrics/naming.ts';
import { firstIssue } from './attributes.ts';
import type { ExpHistogram } from '../../metrics/exponential.ts';
import type { ExplicitHistogram, Labels, MetricPoint, SummaryValue } from '../../metrics/store.ts';
import {
  ItemRejection,
  type Attributes,
  type FieldIssue,
  type NormalizedMessage,
  type NormalizedMetricsRequest,
  type NormalizedResourceMetrics,
  type OtlpRejection,
} from './decode.ts';

export const OTLP_METRIC_ERROR_CODES = {
  BAD_FIELD_TYPE: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE',
  BAD_METRIC: 'PERISCOPE_ERR_OTLP_BAD_METRIC',
  BAD_TEMPORALITY: 'PERISCOPE_ERR_OTLP_BAD_TEMPORALITY',
  BAD_VALUE: 'PERISCOPE_ERR_OTLP_BAD_VALUE',
  BAD_HISTOGRAM: 'PERISCOPE_ERR_OTLP_BAD_HISTOGRAM',
  BAD_TIMESTAMP: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP',
  LABEL_TOO_LARGE: 'PERISCOPE_ERR_OTLP_LABEL_TOO_LARGE',
} as const;

const C = OTLP_METRIC_ERROR_CODES;

export interface OtlpMetricsOptions {
  /** Longest label value (UTF-16 units) of a data point; longer → the point is rejected. target_info values are cut instead. Default 4096. */
  maxLabelValueLength?: number;
}

export interface OtlpMetricsResult {
  points: MetricPoint[];
  /** OTLP data point index of each entry of `points` (to report store rejections). */
  pointIndex: number[];
  rejected: OtlpRejection[];
  /** Data points rejected (a metric rejected as a whole counts all its points). */
  rejectedCount: number;
}

export const DEFAULT_MAX_LABEL_VALUE_LENGTH = 4096;
const FLAG_NO_RECORDED_VALUE = 1;
const MIN_SCALE = -10;
const MAX_SCALE = 20;

interface ResourceContext {
  issue?: FieldIssue;
  base: Labels;
  target: Labels;
}

/** Converts a normalized ExportMetricsServiceRequest (decodeOtlp('metrics', …)) into store points. */
export function otlpMetricsToPoints(req: NormalizedMetricsRequest, options: OtlpMetricsOptions = {}): OtlpMetricsResult {
  const maxLabel = options.maxLabelValueLength ?? DEFAULT_MAX_LABEL_VALUE_LENGTH;
  const latestNs = BigInt(Date.now()) * 1_000_000n + FUTURE_GRACE_NS; // once per request, not per point
  const out: OtlpMetricsResult = { points: [], pointIndex: [], rejected: [], rejectedCount: 0 };
  let index = 0;
  for (const rm of req.resourceMetrics ?? []) {
    const resource = resourceContext(rm, maxLabel);
    for (const sm of rm.scopeMetrics ?? []) {
      const scopeIssue = firstIssue(sm, sm.scope);
      const base: Labels = { ...resource.base };
      if (sm.scope?.name) base.otel_scope_name = sm.scope.name;
      if (sm.scope?.version) base.otel_scope_version = sm.scope.version;
      for (const metric of sm.metrics ?? []) {
        const dataPoints = dataPointsOf(metric);
        try {
          const inherited = scopeIssue ?? resource.issue;
          if (inherited) throw new ItemRejection(C.BAD_FIELD_TYPE, `${inherited.path}: ${inherited.message}`);
          const plan = planMetric(metric);
          for (const dp of dataPoints) {
            try {
              out.points.push(toPoint(plan, dp, base, resource.target, maxLabel, latestNs));
              out.pointIndex.push(index);
            } catch (err) {
              if (!(err instanceof ItemRejection)) throw err;
              out.rejected.push({ index, code: err.code, message: err.message });
              out.rejectedCount++;
            }
            index++;
          }
        } catch (err) {
          if (!(err instanceof ItemRejection)) throw err;
          out.rejected.push({ index, code: err.code, message: `${metricLabel(metric)}: ${err.message}` });
          out.rejectedCount += Math.max(1, dataPoints.length);
          index += dataPoints.length;
        }
      }
    }
  }
  return out;
}

function metricLabel(metric: NormalizedMessage): string {
  return typeof metric.name === 'string' && metric.name ? `metric ${JSON.stringify(metric.name.slice(0, 100))}` : 'metric';
}


function resourceContext(rm: NormalizedResourceMetrics, maxLabel: number): ResourceContext {
  const attrs: Attributes = { ...rm.resource?.attributes };
  const ctx: ResourceContext = { issue: firstIssue(rm, rm.resource), base: {}, target: {} };
  const str = (key: string): string | undefined => {
    const v = attrs[key];
    delete attrs[key];
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  };
  const name = str('service.name');
  const namespace = str('service.namespace');
  const instance = str('service.instance.id');
  if (name) ctx.base.job = namespace ? `${namespace}/${name}` : name;
  if (instance) ctx.base.instance = instance;
  const target = attributesToLabels(attrs, { ...ctx.base });
  for (const k of Object.keys(target)) if (target[k].length > maxLabel) target[k] = target[k].slice(0, maxLabel);
  ctx.target = target;
  return ctx;
}

function dataPointsOf(metric: NormalizedMessage): NormalizedMessage[] {
  for (const field of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
    const data = metric[field] as NormalizedMessage | undefined;
    if (data && Array.isArray(data.dataPoints)) return data.dataPoints as NormalizedMessage[];
  }
  return [];
}

interface MetricPlan {
  kind: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  type: PromType;
  name: string;
  otelName: string;
  help: string;
  factor: number;
  temporality: 'cumulative' | 'delta';
  monotonic: boolean;
}

function planMetric(metric: NormalizedMessage): MetricPlan {
  const own = firstIssue(metric);
  if (own) throw new ItemRejection(C.BAD_FIELD_TYPE, `${own.path}: ${own.message}`);
  const otelName = metric.name as string;
  if (!otelName) throw new ItemRejection(C.BAD_METRIC, 'name is empty');
  const kinds = (['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const).filter((k) => metric[k] !== undefined);
  if (kinds.length !== 1) throw new ItemRejection(C.BAD_METRIC, kinds.length === 0 ? 'no gauge, sum, histogram, exponentialHistogram or summary' : `more than one data kind (${kinds.join(', ')})`);
  const kind = kinds[0];
  const data = metric[kind] as NormalizedMessage;
  const dataIssue = firstIssue(data);
  if (dataIssue) throw new ItemRejection(C.BAD_FIELD_TYPE, `${dataIssue.path}: ${dataIssue.message}`);
  let temporality: MetricPlan['temporality'] = 'cumulative';
  if (kind === 'sum' || kind === 'histogram' || kind === 'exponentialHistogram') {
    const t = data.aggregationTemporality;
    if (t === 1) temporality = 'delta';
    else if (t !== 2) throw new ItemRejection(C.BAD_TEMPORALITY, `aggregationTemporality must be 1 (delta) or 2 (cumulative), got ${String(t)}`);
  }
  const monotonic = kind === 'sum' && data.isMonotonic === true;
  const type: PromType = kind === 'sum' ? (monotonic ? 'counter' : 'gauge') : kind === 'gauge' ? 'gauge' : kind === 'summary' ? 'summary' : 'histogram';
  const { name, factor } = translateMetricName(otelName, typeof metric.unit === 'string' ? metric.unit : '', type);
  if (!name) throw new ItemRejection(C.BAD_METRIC, `name ${JSON.stringify(otelName.slice(0, 100))} has no usable character`);
  const help = typeof metric.description === 'string' ? metric.description.slice(0, 4096) : '';
  return { kind, type, name, otelName, help, factor, temporality, monotonic };
}

function toPoint(plan: MetricPlan, dp: NormalizedMessage, base: Labels, target: Labels, maxLabel: number, latestNs: bigint): MetricPoint {
  const own = firstIssue(dp);
  if (own) throw new ItemRejection(C.BAD_FIELD_TYPE, `${own.path}: ${own.message}`);
  const labels = attributesToLabels((dp.attributes ?? {}) as Attributes, { ...base });
  for (const k of Object.keys(labels)) {
    if (labels[k].length > maxLabel) throw new ItemRejection(C.LABEL_TOO_LARGE, `label ${k} is ${labels[k].length} characters long, over the limit of ${maxLabel}`);
  }
  const point: MetricPoint = {
    name: plan.name,
    otelName: plan.otelName,
    help: plan.help,
    type: plan.type,
    labels,
    target,
    temporality: plan.temporality,
    timeNs: parseNanos(dp.timeUnixNano, latestNs),
  };
  if (((dp.flags as number) & FLAG_NO_RECORDED_VALUE) !== 0) {
    point.noRecordedValue = true;
    return point;
  }
  switch (plan.kind) {
    case 'gauge':
    case 'sum': {
      let v: number;
      if (dp.asInt !== undefined) v = Number(dp.asInt);
      else if (dp.asDouble !== undefined) v = dp.asDouble as number;
      else throw new ItemRejection(C.BAD_VALUE, 'data point has neither asInt nor asDouble');
      if (plan.monotonic && !(v >= 0)) throw new ItemRejection(C.BAD_VALUE, `a monotonic sum cannot be ${v}`);
      if (plan.temporality === 'delta') requireFiniteDelta(v, 'value');
      point.value = applyFactor(v, plan.factor);
      return point;
    }
    case 'histogram':
      point.histogram = explicitHistogram(dp, plan.factor);
      if (plan.temporality === 'delta') requireFiniteDelta(point.histogram.sum, 'sum');
      return point;
    case 'exponentialHistogram':
      point.exponential = exponentialHistogram(dp);
      point.factor = plan.factor;
      if (plan.temporality === 'delta') requireFiniteDelta(point.exponential.sum, 'sum');
      return point;
    case 'summary':
      point.summary = summary(dp, plan.factor);
      return point;
  }
}

/** A delta point is added to its series' total: a NaN or infinite one would stay in it until the series expires. */
function requireFiniteDelta(value: number | undefined, what: string): void {
  if (value !== undefined && !Number.isFinite(value)) throw new ItemRejection(C.BAD_VALUE, `a delta point's ${what} cannot be ${value}: it would stay in the series' total`);
}

/**
 * How far ahead of the collector's clock a point may be (Loki's and Mimir's creation grace
 * period): a series keeps its latest point's time, so one point dated years ahead made every
 * later point of the series out of order, silently, until it went stale.
 */
const FUTURE_GRACE_NS = 10n * 60n * 1_000_000_000n;

/** timeUnixNano: an integer from 0 to `latestNs`. */
function parseNanos(value: unknown, latestNs: bigint): bigint {
  if (value === undefined || value === '') return 0n;
  let n: bigint;
  try {
    n = BigInt(value as string);
  } catch {
    throw new ItemRejection(C.BAD_TIMESTAMP, `timeUnixNano is not an integer: ${String(value).slice(0, 40)}`);
  }
  if (n < 0n) throw new ItemRejection(C.BAD_TIMESTAMP, 'timeUnixNano is negative');
  if (n > latestNs) {
    throw new ItemRejection(C.BAD_TIMESTAMP, `timeUnixNano ${n} is more than 10 minutes ahead of the collector's clock`);
  }
  return n;
}

function count(value: unknown, what: string): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new ItemRejection(C.BAD_HISTOGRAM, `${what} must be a non-negative integer below 2^53, got ${String(value).slice(0, 40)}`);
  return n;
}

function optionalSum(dp: NormalizedMessage, factor: number): number | undefined {
  if (dp.sum === undefined) return undefined;
  if (typeof dp.sum !== 'number') throw new ItemRejection(C.BAD_HISTOGRAM, 'sum must be a number');
  return applyFactor(dp.sum, factor);
}

function explicitHistogram(dp: NormalizedMessage, factor: number): ExplicitHistogram {
  const total = count(dp.count, 'count');
  const rawCounts = (dp.bucketCounts ?? []) as unknown[];
  const rawBounds = (dp.explicitBounds ?? []) as number[];
  if (rawCounts.length === 0) return { bounds: [], counts: [], count: total, sum: optionalSum(dp, factor) };
  if (rawCounts.length !== rawBounds.length + 1) {
    throw new ItemRejection(C.BAD_HISTOGRAM, `bucketCounts has ${rawCounts.length} entries, explicitBounds ${rawBounds.length}; expected explicitBounds + 1`);
  }
  const bounds = rawBounds.map((b) => applyFactor(b, factor));
  for (let i = 0; i < bounds.length; i++) {
    if (!Number.isFinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      throw new ItemRejection(C.BAD_HISTOGRAM, 'explicitBounds must be finite and strictly increasing');
    }
  }
  const counts = rawCounts.map((c, i) => count(c, `bucketCounts[${i}]`));
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum !== total) throw new ItemRejection(C.BAD_HISTOGRAM, `count is ${total} but the buckets hold ${sum}`);
  return { bounds, counts, count: total, sum: optionalSum(dp, factor) };
}

function exponentialHistogram(dp: NormalizedMessage): ExpHistogram {
  const total = count(dp.count, 'count');
  const scale = dp.scale as number;
  if (!Number.isInteger(scale) || scale < MIN_SCALE || scale > MAX_SCALE) {
    throw new ItemRejection(C.BAD_HISTOGRAM, `scale must be an integer ${MIN_SCALE}…${MAX_SCALE}, got ${String(scale)}`);
  }
  const positive = (dp.positive ?? { offset: 0, bucketCounts: [] }) as { offset: number; bucketCounts: unknown[] };
  const negative = (dp.negative ?? { offset: 0, bucketCounts: [] }) as { offset: number; bucketCounts: unknown[] };
  const pos = (positive.bucketCounts ?? []).map((c, i) => count(c, `positive.bucketCounts[${i}]`));
  const negativeCount = (negative.bucketCounts ?? []).reduce((a: number, c, i) => a + count(c, `negative.bucketCounts[${i}]`), 0);
  const zeroCount = count(dp.zeroCount, 'zeroCount');
  const zeroThreshold = typeof dp.zeroThreshold === 'number' ? dp.zeroThreshold : 0;
  if (!(zeroThreshold >= 0) || !Number.isFinite(zeroThreshold)) throw new ItemRejection(C.BAD_HISTOGRAM, 'zeroThreshold must be a finite number >= 0');
  const held = zeroCount + negativeCount + pos.reduce((a, b) => a + b, 0);
  if (held !== total) throw new ItemRejection(C.BAD_HISTOGRAM, `count is ${total} but the buckets hold ${held}`);
  if (dp.sum !== undefined && typeof dp.sum !== 'number') throw new ItemRejection(C.BAD_HISTOGRAM, 'sum must be a number');
  return {
    scale,
    zeroThreshold,
    zeroCount,
    negativeCount,
    offset: Number.isInteger(positive.offset) ? positive.offset : 0,
    positive: pos,
    count: total,
    sum: dp.sum as number | undefined,
  };
}

function summary(dp: NormalizedMessage, factor: number): SummaryValue {
  const quantiles = ((dp.quantileValues ?? []) as Array<{ quantile: number; value: number }>).map((q) => {
    if (!(q.quantile >= 0 && q.quantile <= 1)) throw new ItemRejection(C.BAD_VALUE, `quantile must be within 0…1, got ${String(q.quantile)}`);
    return { quantile: q.quantile, value: applyFactor(q.value, factor) };
  });
  return { quantiles, count: count(dp.count, 'count'), sum: applyFactor(typeof dp.sum === 'number' ? dp.sum : 0, factor) };
}
