import { Type, type Static } from '@sinclair/typebox';

/** `metrics:` — OTLP metrics (POST /v1/metrics) held in memory and rendered on /metrics. */
export const metricsConfigSchema = Type.Object(
  {
    staleAfter: Type.String({ default: '5m', format: 'duration', unitMinimum: '1s', description: 'A series not updated for this long disappears from /metrics, alert rules and remote write (delta series then restart from zero).' }),
    maxSeries: Type.Integer({ default: 20000, minimum: 1, description: 'Most series held at once (a histogram counts as one, target_info series included). Points that would create more are handled by onSeriesLimit and counted in periscope_metrics_dropped_points_total{reason="series_limit"}.' }),
    onSeriesLimit: Type.Union([Type.Literal('drop'), Type.Literal('reject')], {
      default: 'drop',
      description: 'drop: points of new series over maxSeries are rejected in the OTLP partial-success response (permanent, not retried) and the rest of the request is kept. reject: the whole request is answered 429 with Retry-After (when the oldest series will have expired) and nothing of it is applied.',
    }),
    sampleWindow: Type.String({ default: '1h', format: 'duration', unitMinimum: '1s', description: 'How long recent samples are kept per series for alert rules (metric threshold rules over the collector\'s own metric store).' }),
    // Memory is about sampleWindow / sampleResolution samples per series: 0 had no bound.
    sampleResolution: Type.String({ default: '15s', format: 'duration', unitMinimum: '1s', description: 'One sample per series per this interval is kept (the last value seen in it), like a scrape interval. Memory: about sampleWindow / sampleResolution samples per series; a histogram sample holds its buckets.' }),
    maxLabelValueLength: Type.Integer({ default: 4096, minimum: 64, description: 'Longest label value (characters) of a data point; a point with a longer attribute value is rejected (partial success). target_info values are cut to it instead.' }),
    logVolume: Type.Object(
      {
        maxServices: Type.Integer({ default: 1000, minimum: 1, description: 'Most services (appName values) with series of their own in periscope_log_records_total{service,level}; records of further services are counted in its {otel_metric_overflow="true",level} series, without a service label (periscope_log_volume_services shows how many are held). Any sender chooses its appName, so without a bound each new one added series for good.' }),
        staleAfter: Type.String({ default: '1h', format: 'duration', unitMinimum: '1m', description: 'At the maxServices bound, a service without records for this long gives its place to a new one (its series disappear, and restart from zero if it logs again). Below the bound no series is removed.' }),
      },
      { additionalProperties: false, default: {}, description: 'periscope_log_records_total, the log volume counted from every ingested record (all receivers).' },
    ),
    exponentialHistograms: Type.Object(
      {
        maxScale: Type.Integer({ default: 2, minimum: -10, maximum: 20, description: 'Exponential histograms are reduced to at most this scale before they are rendered as classic buckets (scale 2: 4 buckets per power of two, bucket bounds about 19 % apart).' }),
        maxBuckets: Type.Integer({ default: 64, minimum: 2, maximum: 1024, description: 'Most classic buckets (le values, +Inf and the zero bucket aside) rendered per exponential histogram; the scale is lowered further until the observed range fits.' }),
      },
      { additionalProperties: false, default: {}, description: 'How OTLP exponential histograms become classic Prometheus buckets (docs/traces-and-metrics.md).' },
    ),
  },
  { additionalProperties: false, default: {}, unitOrder: [['sampleResolution', 'sampleWindow']], description: 'OTLP metrics received on POST /v1/metrics, held in memory per series and rendered on /metrics (docs/traces-and-metrics.md).' },
);
export type MetricsConfig = Static<typeof metricsConfigSchema>;
