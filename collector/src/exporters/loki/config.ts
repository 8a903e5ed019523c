import { Type, type Static } from '@sinclair/typebox';
import { exporterObject, labelMap, logExporterKeys } from '../common-config.ts';

/** Labels the exporter can derive from a record (all low-cardinality by design). */
export const DERIVED_LABELS = ['service_name', 'level', 'host'] as const;

/**
 * `exporters[] (type: loki)` — push to Loki's /loki/api/v1/push.
 * https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs
 */
export const lokiConfigSchema = exporterObject('loki', {
  ...logExporterKeys({ maxRecords: 10000, maxBytes: '1MiB', wait: '1s' }),
  /** `X-Scope-OrgID` (multi-tenant Loki). Two Loki exporters with different tenants = two tenants. */
  tenant: Type.Optional(Type.String({ minLength: 1 })),
  /** `protobuf` (snappy-compressed logproto.PushRequest, Loki's native format) or `json`. */
  format: Type.Union([Type.Literal('protobuf'), Type.Literal('json')], { default: 'protobuf' }),
  labels: Type.Object(
    {
      /** Derived labels to attach: service_name (appName, or "unknown_service"), level, host (hostname). */
      include: Type.Array(Type.Union(DERIVED_LABELS.map((l) => Type.Literal(l))), { default: [...DERIVED_LABELS], uniqueItems: true }),
      /** Constant labels on every stream, e.g. { env: prod }. */
      static: labelMap,
    },
    { additionalProperties: false, default: {} },
  ),
  /**
   * true (Loki ≥ 2.9 with allow_structured_metadata, the default in 3.x): the line is the message
   * and the other fields (trace_id, span_id, attributes, …) travel as structured metadata.
   * false: the line is the whole record as JSON (query it with `| json`).
   */
  structuredMetadata: Type.Boolean({ default: true }),
  /** Loki's limits, checked before sending; a record that breaks one goes to the dead letters. 0 = no check. */
  limits: Type.Object(
    {
      maxLineSize: Type.String({ default: '256KB', format: 'bytes' }),
      maxLabelNameLength: Type.Integer({ default: 1024, minimum: 0 }),
      maxLabelValueLength: Type.Integer({ default: 2048, minimum: 0 }),
      maxLabelNamesPerSeries: Type.Integer({ default: 15, minimum: 0 }),
      maxStructuredMetadataEntries: Type.Integer({ default: 128, minimum: 0 }),
      maxStructuredMetadataSize: Type.String({ default: '64KB', format: 'bytes' }),
      /** Loki's reject_old_samples_max_age. */
      rejectOlderThan: Type.String({ default: '7d', format: 'duration' }),
    },
    { additionalProperties: false, default: {} },
  ),
});
export type LokiConfig = Static<typeof lokiConfigSchema>;
