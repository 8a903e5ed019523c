import { Type, type Static } from '@sinclair/typebox';
import { exporterObject, logExporterKeys } from '../common-config.ts';

/**
 * `exporters[] (type: elasticsearch)` — `_bulk` into a data stream.
 * https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
 */
export const elasticsearchConfigSchema = exporterObject('elasticsearch', '_bulk into an Elasticsearch data stream (docs/exporters.md, Elasticsearch).', {
  ...logExporterKeys({ maxRecords: 5000, maxBytes: '5MiB', wait: '1s' }),
  dataStream: Type.String({ default: 'logs-periscope-default', pattern: '^[a-z0-9][a-z0-9._+-]*$', description: "Data stream the records go to; logs-<dataset>-<namespace> follows Elastic's logs-*-* conventions." }),
  installTemplate: Type.Boolean({
    default: true,
    description: 'PUT _index_template/<templateName> on start (data stream, ECS mappings). Turn it off when you manage templates yourself; the mapping is in docs/exporters.md.',
  }),
  templateName: Type.String({ default: 'periscope-logs', pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'Name of the index template installed for dataStream; exporters into the same Elasticsearch (same URL) with other data streams need other names (refused at startup otherwise).' }),
  labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Constant `labels.*` fields on every document, e.g. { env: prod }.' }),
  // span-document.ts has the fields of a span document.
  traces: Type.Object(
    {
      enabled: Type.Boolean({ default: false, description: 'Also ship the spans of the span store (POST /v1/traces), as exporter `<name>:traces` in metrics and health.' }),
      dataStream: Type.String({ default: 'traces-periscope-default', pattern: '^[a-z0-9][a-z0-9._+-]*$', description: 'Data stream the spans go to.' }),
      templateName: Type.String({ default: 'periscope-traces', pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'Name of the index template installed for traces.dataStream.' }),
      batchMaxSpans: Type.Integer({ default: 2000, minimum: 1, maximum: 100000, description: "Most spans per _bulk request; a request also stops short of the exporter's batch.maxBytes." }),
    },
    { additionalProperties: false, default: {} },
  ),
});
export type ElasticsearchConfig = Static<typeof elasticsearchConfigSchema>;
