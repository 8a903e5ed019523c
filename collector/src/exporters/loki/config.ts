import { Type, type Static } from '@sinclair/typebox';
import { exporterObject, labelMap, logExporterKeys } from '../common-config.ts';

/** Labels the exporter can derive from a record (all low-cardinality by design). */
export const DERIVED_LABELS = ['service_name', 'level', 'host'] as const;

/**
 * `exporters[] (type: loki)` — push to Loki's /loki/api/v1/push.
 * https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs
 */
export const lokiConfigSchema = exporterObject('loki', 'Push to Loki (docs/exporters.md, Loki).', {
  ...logExporterKeys({ maxRecords: 10000, maxBytes: '1MiB', wait: '1s' }),
  // Loki's tenant ID rules (dskit tenant.ValidTenantID): Loki refuses a push with another tenant,
  // and every record went to the dead letters, each after a bisection of its batch.
  tenant: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 150,
      pattern: "^(?!\\.\\.?$)[a-zA-Z0-9!._*'()-]+$",
      description: "`X-Scope-OrgID` (multi-tenant Loki); two Loki exporters with different tenants ship to two tenants. One tenant ID, as Loki accepts it: up to 150 of a-z A-Z 0-9 ! - _ . * ' ( ), not `.` or `..`.",
    }),
  ),
  format: Type.Union([Type.Literal('protobuf'), Type.Literal('json')], { default: 'protobuf', description: "`protobuf` (snappy-compressed logproto.PushRequest, Loki's native format) or `json`." }),
  labels: Type.Object(
    {
      include: Type.Array(Type.Union(DERIVED_LABELS.map((l) => Type.Literal(l))), {
        default: [...DERIVED_LABELS],
        uniqueItems: true,
        description: 'Stream labels derived from each record: service_name (appName, or "unknown_service"), level, host (hostname, absent on some records). Loki needs a label on every stream: without service_name and level, set static labels.',
      }),
      static: labelMap('Constant labels on every stream, e.g. { env: prod }; not a name of labels.include (Loki refuses a label twice).'),
    },
    { additionalProperties: false, default: {} },
  ),
  structuredMetadata: Type.Boolean({
    default: true,
    description: 'true (Loki ≥ 2.9 with allow_structured_metadata, the default in 3.x): the line is the message and the other fields (trace_id, span_id, attributes, …) travel as structured metadata. false: the line is the whole record as JSON (query it with `| json`).',
  }),
  limits: Type.Object(
    {
      // Loki reads sizes with c2h5oh/datasize, where KB is 1024 bytes: its 256KB default is 256KiB
      // here. Written 256KB (256 000 bytes), lines of 256 001–262 144 bytes, which Loki takes, were
      // dead-lettered by this check.
      maxLineSize: Type.String({ default: '256KiB', format: 'bytes', description: "Loki's max_line_size. Loki reads KB and MB as 1024 and 1024² bytes: copy its value with KiB or MiB (Loki's 512KB is 512KiB here)." }),
      maxLabelNameLength: Type.Integer({ default: 1024, minimum: 0, description: "Loki's max_label_name_length." }),
      maxLabelValueLength: Type.Integer({ default: 2048, minimum: 0, description: "Loki's max_label_value_length." }),
      maxLabelNamesPerSeries: Type.Integer({ default: 15, minimum: 0, description: "Loki's max_label_names_per_series." }),
      maxStructuredMetadataEntries: Type.Integer({ default: 128, minimum: 0, description: "Loki's max_structured_metadata_entries_count; a record over it keeps its fields in the line (as JSON)." }),
      maxStructuredMetadataSize: Type.String({ default: '64KiB', format: 'bytes', description: "Loki's max_structured_metadata_size (Loki's 64KB: 64KiB here, see maxLineSize); a record over it keeps its fields in the line (as JSON)." }),
      rejectOlderThan: Type.String({ default: '7d', format: 'duration', description: "Loki's reject_old_samples_max_age." }),
      // A deploy with a clock or time-zone bug stamps records hours ahead: Loki refuses each (400,
      // "timestamp too new"), which names no stream, so every batch was bisected down to each record.
      creationGracePeriod: Type.String({ default: '10m', format: 'duration', description: "Loki's creation_grace_period: a record stamped further than this ahead of the collector's clock is refused." }),
    },
    { additionalProperties: false, default: {}, description: "Loki's limits, checked before sending: a record that breaks one goes to the dead letters with Loki's reason. 0 turns a check off." },
  ),
});
export type LokiConfig = Static<typeof lokiConfigSchema>;
