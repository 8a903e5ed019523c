import type { LabelMatcher } from '../../../alerting/src/types.ts';
import type { MetricSource, SeriesData } from '../../../alerting/src/rules/sources.ts';
import type { MetricStore } from './store.ts';

/**
 * The collector's metric stores as the alerting engine's MetricSource: metric threshold rules
 * read OTLP metrics and span metrics without a Prometheus server. A name is looked up in every
 * store (they never share a family name: the OTLP store refuses traces_span_metrics_*).
 * Semantics of names, samples and histogram buckets: MetricStore.select.
 */
export function metricSourceOf(...stores: MetricStore[]): MetricSource {
  return {
    select(name: string, matchers: LabelMatcher[], windowMs: number, now: number): SeriesData[] {
      const out: SeriesData[] = [];
      for (const store of stores) out.push(...store.select(name, matchers, windowMs, now));
      return out;
    },
  };
}
