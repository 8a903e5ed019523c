import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_DURATION_BUCKETS } from './span-metrics.ts';

/** `traces:` — OTLP traces (POST /v1/traces): span store, span metrics and slow operations. */
export const tracesConfigSchema = Type.Object(
  {
    retention: Type.Object(
      {
        maxAge: Type.String({ default: '7d', format: 'duration', unitMinimum: '1m', description: 'Spans that started longer ago than this are deleted (on store.retention.schedule). Spans share store.retention.maxBytes with logs: the oldest rows of either are deleted first.' }),
      },
      { additionalProperties: false, default: {}, description: 'Span retention in the embedded store.' },
    ),
    maxAttributeValueBytes: Type.String({ default: '64KiB', format: 'bytes', unitMinimum: '64B', description: 'Longer string attribute values (span, event, link and resource attributes) are cut and listed in the span\'s `truncated`.' }),
    // 0 rejected every span; and a span holding one cut attribute must still fit (unitOrder below).
    maxSpanBytes: Type.String({ default: '1MiB', format: 'bytes', unitMinimum: '1KiB', description: 'A span whose stored JSON (attributes, events, links, resource) is larger after truncation is rejected (partial success).' }),
    spanMetrics: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Derive traces_span_metrics_calls_total and traces_span_metrics_duration_seconds from received spans and render them on /metrics.' }),
        buckets: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { default: DEFAULT_DURATION_BUCKETS, minItems: 1, description: 'Upper bounds (seconds) of the duration histogram buckets.' }),
        maxSeries: Type.Integer({ default: 10000, minimum: 1, description: 'Most span-metric series: each resource, service, span name, kind and status takes two (the calls counter and the duration histogram); spans of further combinations are stored but not counted (periscope_metrics_dropped_points_total{store="span_metrics"}).' }),
        staleAfter: Type.String({ default: '5m', format: 'duration', unitMinimum: '1s', description: 'A span-metric series without spans for this long disappears (and restarts from zero).' }),
      },
      { additionalProperties: false, default: {}, description: 'RED metrics per service and operation, like the OpenTelemetry spanmetrics connector.' },
    ),
    slowest: Type.Object(
      {
        // Durations are kept per minute (slowest.ts): a shorter window holds nothing.
        maxWindow: Type.String({ default: '1h', format: 'duration', unitMinimum: '1m', description: 'Largest `window` GET /api/v1/traces/slowest accepts; durations are kept in memory for this long.' }),
        maxOperations: Type.Integer({ default: 10000, minimum: 1, description: 'Most (service, span name) operations tracked for slow-operation queries. Spans of further operations are left out of GET /api/v1/traces/slowest (counted in periscope_traces_slow_operation_spans_dropped_total and /health/detailed traces.slowOperationSpansDropped) until operations without spans in maxWindow are pruned.' }),
      },
      { additionalProperties: false, default: {}, description: 'Slow-operation tracking for GET /api/v1/traces/slowest.' },
    ),
  },
  { additionalProperties: false, default: {}, unitOrder: [['maxAttributeValueBytes', 'maxSpanBytes']], description: 'OTLP traces received on POST /v1/traces (docs/traces-and-metrics.md).' },
);
export type TracesConfig = Static<typeof tracesConfigSchema>;
