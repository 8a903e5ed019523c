// The composable index template the exporter installs on start (PUT _index_template/<name>):
// it makes `dataStream` a data stream (append-only, `create` only, @timestamp required) and maps
// the ECS fields of document.ts. Priority 200 wins over Elasticsearch's built-in `logs` template
// (priority 100, pattern logs-*-*).
// https://www.elastic.co/guide/en/elasticsearch/reference/current/index-templates.html
// https://www.elastic.co/guide/en/elasticsearch/reference/current/set-up-a-data-stream.html

const keyword = { type: 'keyword', ignore_above: 1024 };

/**
 * `labels` (static labels and every scalar attribute, all strings) as one `flattened` field: its
 * keys are searched and aggregated as keywords (`labels.route: "/pay"`) but add no field to the
 * mapping. Mapped one field per key, an app putting ids in attribute names (`order_8812`) reached
 * Elasticsearch's 1000-field limit (index.mapping.total_fields.limit), after which every document
 * with a new key was refused (400) and dead-lettered.
 * https://www.elastic.co/guide/en/elasticsearch/reference/current/flattened.html
 */
const labels = { type: 'flattened', ignore_above: 1024 };

/**
 * The other `flattened` fields (nested attributes, structured data, span events, …). Each leaf is
 * indexed as one term, `<key>\0<value>`, and Lucene refuses a term over 32766 bytes: without
 * `ignore_above` a record with one long value (a stack trace or a request body in a nested
 * attribute, a long structured-data param) was refused whole (400, "contains one immense field")
 * and went to the dead letters for good. Longer values stay in _source, not searchable, as with
 * the keyword fields.
 * `depth_limit` is the receivers' nesting limit (1000 levels, docs/api.md) instead of
 * Elasticsearch's 20: a record whose attributes nested objects deeper (an OTLP kvlist takes 64)
 * was refused whole (400, "exceeds the maximum depth limit of [20]") and dead-lettered for good.
 */
const flattened = { type: 'flattened', ignore_above: 1024, depth_limit: 1000 };

/** A data stream template: `labels` flattened, `properties` as given. */
function dataStreamTemplate(dataStream: string, properties: Record<string, unknown>, description: string) {
  return {
    index_patterns: [dataStream],
    data_stream: {},
    priority: 200,
    template: {
      mappings: {
        properties: { ...properties, labels },
      },
    },
    _meta: { managed_by: 'periscope', description },
  };
}

export function indexTemplate(dataStream: string) {
  return dataStreamTemplate(
    dataStream,
    {
      '@timestamp': { type: 'date_nanos' },
      message: { type: 'match_only_text' },
      log: {
        properties: {
          level: keyword,
          syslog: {
            properties: {
              severity: { properties: { code: { type: 'long' }, name: keyword } },
              facility: { properties: { code: { type: 'long' } } },
              hostname: keyword,
              appname: keyword,
              procid: keyword,
              msgid: keyword,
              structured_data: flattened,
            },
          },
        },
      },
      service: { properties: { name: keyword } },
      host: { properties: { name: keyword } },
      trace: { properties: { id: keyword } },
      span: { properties: { id: keyword } },
      periscope: {
        properties: {
          attributes: flattened,
          truncated: keyword,
          log_id: { type: 'long' },
        },
      },
    },
    'Periscope collector logs (docs/exporters.md)',
  );
}

/** The template for the traces data stream (`traces.enabled`): the fields of span-document.ts. */
export function tracesIndexTemplate(dataStream: string) {
  return dataStreamTemplate(
    dataStream,
    {
      '@timestamp': { type: 'date_nanos' },
      trace: { properties: { id: keyword } },
      span: {
        properties: {
          id: keyword,
          name: keyword,
          kind: keyword,
          status: { properties: { code: keyword, message: { type: 'match_only_text' } } },
        },
      },
      parent: { properties: { id: keyword } },
      event: { properties: { duration: { type: 'long' }, outcome: keyword } },
      service: { properties: { name: keyword, instance: { properties: { id: keyword } } } },
      periscope: {
        properties: {
          attributes: flattened,
          resource: flattened,
          scope: { properties: { name: keyword, version: keyword } },
          events: flattened,
          links: flattened,
          truncated: keyword,
          span_id: { type: 'long' },
        },
      },
    },
    'Periscope collector spans (docs/exporters.md)',
  );
}
