/**
 * Series recorded by deploy/prometheus/rules/recording.yml that the dashboards read.
 * Names follow https://prometheus.io/docs/practices/rules/#naming (level:metric:operations).
 * test/deploy/prometheus-rules.test.ts fails when a name used here is not recorded there.
 *
 * "Requests" are entry spans: every span_kind except INTERNAL, CLIENT and PRODUCER (a negative
 * matcher, so series without a span_kind label still count). All three are 5-minute rates per
 * service and instance, so the dashboards can filter by both and aggregate further.
 */
export const RED = {
  /** Requests per second. */
  calls: 'service_name_instance:traces_span_metrics_calls:rate5m',
  /** Requests per second that ended with status ERROR. */
  errors: 'service_name_instance:traces_span_metrics_errors:rate5m',
  /** Per-bucket rate of the request duration histogram (keeps `le` for histogram_quantile). */
  durationBuckets: 'service_name_instance_le:traces_span_metrics_duration_seconds_bucket:rate5m',
} as const;

/** RFC 5424 level names (sdk/src/record.ts LEVEL_NAMES) that count as errors: err and worse. */
export const ERROR_LEVELS = 'emerg|alert|crit|err';
