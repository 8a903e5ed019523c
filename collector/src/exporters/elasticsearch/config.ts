import { Type, type Static } from '@sinclair/typebox';
import { exporterObject, logExporterKeys } from '../common-config.ts';

/**
 * `exporters[] (type: elasticsearch)` — `_bulk` into a data stream.
 * https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
 */
export const elasticsearchConfigSchema = exporterObject('elasticsearch', {
  ...logExporterKeys({ maxRecords: 5000, maxBytes: '5MiB', wait: '1s' }),
  /** Data stream name: logs-<dataset>-<namespace> matches Elastic's logs-*-* conventions. */
  dataStream: Type.String({ default: 'logs-periscope-default', pattern: '^[a-z0-9][a-z0-9._+-]*$' }),
  /**
   * PUT _index_template/<templateName> on start (data stream + ECS mappings, see
   * docs/exporters.md). Turn off when the user manages templates; the mapping is documented.
   */
  installTemplate: Type.Boolean({ default: true }),
  templateName: Type.String({ default: 'periscope-logs', pattern: '^[a-z0-9][a-z0-9._-]*$' }),
  /** Constant `labels.*` on every document, e.g. { env: prod }. */
  labels: Type.Record(Type.String(), Type.String(), { default: {} }),
  /**
   * Also ship the spans of the collector's span store (POST /v1/traces) into a traces data stream,
   * under the exporter name `<name>:traces` in metrics and health (span-document.ts for the fields).
   */
  traces: Type.Object(
    {
      enabled: Type.Boolean({ default: false }),
      dataStream: Type.String({ default: 'traces-periscope-default', pattern: '^[a-z0-9][a-z0-9._+-]*$' }),
      templateName: Type.String({ default: 'periscope-traces', pattern: '^[a-z0-9][a-z0-9._-]*$' }),
      /** Spans per _bulk request. */
      batchMaxSpans: Type.Integer({ default: 2000, minimum: 1, maximum: 100000 }),
    },
    { additionalProperties: false, default: {} },
  ),
});
export type ElasticsearchConfig = Static<typeof elasticsearchConfigSchema>;
