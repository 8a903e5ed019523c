// Optional pull endpoint: the app's own /metrics through @opentelemetry/exporter-prometheus, for
// teams that scrape apps directly.
//
// Names: the exporter turns dots into underscores and adds `_total` to monotonic sums, but (in this
// version) no unit suffix. So that a direct scrape gives the same names as the collector's /metrics
// (the names the dashboards use: v8js_memory_heap_used_bytes, nodejs_eventloop_utilization_ratio, …),
// each metric is renamed before serialization with the unit suffix of the OTel → Prometheus
// compatibility spec (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/):
// `{annotation}` units add nothing, `1` adds `_ratio` on gauges only, known UCUM units add their
// word, and a name that already ends with the suffix is left alone. Values are not converted.
// The module is loaded only when a port is configured (it costs ~100 ms of start-up).

import { createRequire } from 'node:module';
import type { CollectionResult, IMetricReader, MetricCollectOptions, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';

// Made when first used: import.meta.url is undefined in a CommonJS bundle, where createRequire()
// threw as the bundle loaded, before init() could say the SDK cannot run from a bundle (logs/index.ts).
const require = (id: string): unknown => createRequire(import.meta.url)(id);

const UNIT_WORDS: Record<string, string> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes',
  bit: 'bits', m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '%': 'percent',
};

/** The unit word(s) appended to a metric name, "" for none. */
export function unitSuffix(unit: string, isGauge: boolean): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  if (u === '1') return isGauge ? 'ratio' : '';
  const [num, per] = u.split('/', 2);
  const a = UNIT_WORDS[num];
  if (a === undefined) return '';
  if (per === undefined) return a;
  const b = UNIT_WORDS[per] ?? { s: 'second', m: 'minute', h: 'hour', d: 'day' }[per];
  return b === undefined ? '' : `${a}_per_${b.replace(/s$/, '')}`;
}

/** A Prometheus gauge: an OTel gauge, or a sum that is not monotonic (an up-down counter), as the collector types them. */
function isPrometheusGauge(metric: MetricData): boolean {
  return metric.dataPointType === DataPointType.GAUGE || (metric.dataPointType === DataPointType.SUM && !metric.isMonotonic);
}

function renamed(metric: MetricData): MetricData {
  const suffix = unitSuffix(metric.descriptor.unit, isPrometheusGauge(metric));
  if (suffix === '') return metric;
  const name = metric.descriptor.name;
  const sanitized = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (sanitized.endsWith(`_${suffix}`)) return metric;
  return { ...metric, descriptor: { ...metric.descriptor, name: `${name}_${suffix}`, unit: suffix } } as MetricData;
}

export function prometheusNames(rm: ResourceMetrics): ResourceMetrics {
  return { ...rm, scopeMetrics: rm.scopeMetrics.map((sm) => ({ ...sm, metrics: sm.metrics.map(renamed) })) };
}

/** A PrometheusExporter (a pull MetricReader) serving /metrics on host:port with the names above. */
export function createPrometheusReader(
  port: number,
  host: string,
  onError: (err: unknown) => void,
): IMetricReader {
  const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
  class UnitSuffixedPrometheusExporter extends PrometheusExporter {
    override async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
      const result = await super.collect(options);
      return { ...result, resourceMetrics: prometheusNames(result.resourceMetrics) };
    }
  }
  return new UnitSuffixedPrometheusExporter({ port, host }, (err) => {
    if (err) onError(err);
  }) as unknown as IMetricReader;
}
