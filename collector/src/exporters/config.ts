import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { elasticsearchConfigSchema, type ElasticsearchConfig } from './elasticsearch/config.ts';
import { lokiConfigSchema, type LokiConfig } from './loki/config.ts';
import { remoteWriteConfigSchema, type RemoteWriteConfig } from './prometheus-remote-write/config.ts';
import { tlsUrlProblems } from './tls.ts';
import { proxyProblems } from '../../../alerting/src/proxy.ts';

const BY_TYPE: Record<string, TSchema> = {
  loki: lokiConfigSchema,
  elasticsearch: elasticsearchConfigSchema,
  prometheusRemoteWrite: remoteWriteConfigSchema,
};
export const EXPORTER_TYPES = Object.keys(BY_TYPE);

export type ExporterConfig = LokiConfig | ElasticsearchConfig | RemoteWriteConfig;

/**
 * One list item: `type` selects the schema (if/then per type, so an error names only the keys of
 * the item's own type, e.g. `exporters.1.url: missing required key`). Defaults are filled per type.
 */
const exporterItemSchema = Type.Unsafe<ExporterConfig>({
  type: 'object',
  required: ['type', 'name'],
  properties: { type: { enum: EXPORTER_TYPES, description: 'What the exporter sends to: Loki and Elasticsearch get the log records, a Prometheus remote-write endpoint the metrics the collector holds.' } },
  allOf: Object.entries(BY_TYPE).map(([type, schema]) => ({
    if: { properties: { type: { const: type } }, required: ['type'] },
    then: schema,
  })),
});

/** `exporters:` — any number of each type, e.g. two Loki exporters for two tenants. */
export const exportersConfigSchema = Type.Array(exporterItemSchema, {
  default: [],
  description: 'Where stored records and metrics are sent, each exporter with its own cursor, retries and dead letters (docs/exporters.md); `type` picks the keys below. None: the collector only stores.',
});
export type ExportersConfig = Static<typeof exportersConfigSchema>;

/** An item of the `exporters:` list as read from the file: checked by its schema separately. */
type ExporterItem = Record<string, unknown>;

/**
 * What the schema of each item cannot say about the `exporters:` list (checked with the file, at
 * start and by check-config): names, headers, index templates, Loki labels, URLs (below), a `tls:`
 * block on an http:// URL (tls.ts; its files are checked by load.ts, which knows the config's folder),
 * the proxy keys (alerting/src/proxy.ts).
 */
export function exporterListProblems(configs: ReadonlyArray<ExporterItem>): string[] {
  return [
    ...exporterNameProblems(configs),
    ...exporterHeaderProblems(configs),
    ...exporterTemplateProblems(configs),
    ...lokiLabelProblems(configs),
    ...exporterUrlProblems(configs),
    ...tlsUrlProblems(configs),
    ...configs.flatMap((c, i) => proxyProblems(c, `exporters.${i}`)),
  ];
}

/**
 * Headers the exporter sets itself, and the key that sets them. An extra header of the same name
 * replaced basic auth or was sent beside the tenant (`x-scope-orgid: other, team-q`): every
 * record then went to the dead letters with a 401, though check-config had said valid.
 */
const OWN_HEADERS: Record<string, string | undefined> = {
  authorization: 'auth',
  'x-scope-orgid': 'tenant',
  'content-type': undefined,
  'content-encoding': undefined,
  'content-length': undefined,
  host: undefined,
};

/** Extra `headers` that clash with what the exporter sends. Returns the problems found. */
function exporterHeaderProblems(configs: ReadonlyArray<ExporterItem>): string[] {
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if (typeof c?.headers !== 'object' || c.headers === null) return;
    for (const name of Object.keys(c.headers)) {
      const lower = name.toLowerCase();
      // undici's ProxyAgent refuses a request that carries one (its credentials are the proxy URL's).
      if (lower === 'proxy-authorization' && (c.proxyUrl !== undefined || c.proxyFromEnvironment === true)) {
        problems.push(`exporters.${i}.headers.${name}: the proxy's credentials go in proxyUrl (http://user:password@proxy:port), which sends them to the proxy only`);
      }
      if (!Object.hasOwn(OWN_HEADERS, lower)) continue;
      const key = OWN_HEADERS[lower];
      if (key === undefined) problems.push(`exporters.${i}.headers.${name}: set by the exporter itself`);
      else if ((c as Record<string, unknown>)[key] !== undefined) problems.push(`exporters.${i}.headers.${name}: conflicts with exporters.${i}.${key} (set one of them)`);
    }
  });
  return problems;
}

/** Names must be unique: they key cursors, metrics and dead letters. Returns the problems found. */
function exporterNameProblems(configs: ReadonlyArray<ExporterItem>): string[] {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if (typeof c?.name !== 'string') return; // a schema error of its own
    const first = seen.get(c.name);
    if (first !== undefined) problems.push(`exporters.${i}.name: "${c.name}" is already the name of exporters.${first}`);
    else seen.set(c.name, i);
  });
  return problems;
}

/**
 * A Loki or Elasticsearch `url` is a base that the exporter adds its own paths to (the push path,
 * `_bulk?filter_path=…`, `_index_template/…`): a query string or fragment in it made every request
 * go to a broken URL. A remote-write URL is used as it is, query included. Returns the problems found.
 */
function exporterUrlProblems(configs: ReadonlyArray<ExporterItem>): string[] {
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if ((c?.type !== 'loki' && c?.type !== 'elasticsearch') || typeof c.url !== 'string' || !URL.canParse(c.url)) return;
    const url = new URL(c.url);
    if (url.search || url.hash || c.url.includes('?') || c.url.includes('#')) {
      problems.push(`exporters.${i}.url: no query string (?…) or fragment (#…) with type ${c.type}: the exporter adds its own paths to this URL; send parameters as headers`);
    }
  });
  return problems;
}

/**
 * Index templates of elasticsearch exporters (`installTemplate`): a name is one template in a
 * cluster, and each exporter PUTs its own at start. Two exporters into the same Elasticsearch
 * with one templateName (the default) and different data streams replaced each other's template:
 * the first data stream was then created under Elasticsearch's built-in `logs` template (dynamic
 * mapping, millisecond `@timestamp`), without an error anywhere. Returns the problems found.
 */
function exporterTemplateProblems(configs: ReadonlyArray<ExporterItem>): string[] {
  const seen = new Map<string, { index: number; dataStream: string }>();
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if (c?.type !== 'elasticsearch' || c.installTemplate === false || typeof c.url !== 'string' || !URL.canParse(c.url)) return;
    const url = new URL(c.url);
    const cluster = url.host + url.pathname.replace(/\/+$/, '').replace(/\/_bulk$/, ''); // as ElasticsearchSink reads it
    const traces = c.traces as { enabled?: unknown; templateName?: unknown; dataStream?: unknown } | undefined;
    const templates: Array<[string, unknown, unknown]> = [['templateName', c.templateName, c.dataStream]];
    if (traces?.enabled === true) templates.push(['traces.templateName', traces.templateName, traces.dataStream]);
    for (const [key, name, dataStream] of templates) {
      if (typeof name !== 'string' || typeof dataStream !== 'string') continue; // a schema error of its own
      const first = seen.get(`${cluster} ${name}`);
      if (first === undefined) seen.set(`${cluster} ${name}`, { index: i, dataStream });
      else if (first.dataStream !== dataStream) {
        problems.push(`exporters.${i}.${key}: "${name}" is already the index template of data stream ${first.dataStream} (exporters.${first.index}) on this Elasticsearch; give each data stream its own template name`);
      }
    }
  });
  return problems;
}

/**
 * Stream labels Loki refuses for every record, each of which then went to the dead letters after
 * a bisection of its batch:
 *  - none ("at least one label pair is required per stream"): `labels.include` empty or only
 *    `host`, and no static label (`service_name` and `level` are on every record, `host` not);
 *  - one name twice ("duplicate label name"): a static label named like an included derived one;
 *  - a static label over `limits` (Loki's max_label_value_length, max_label_name_length,
 *    max_label_names_per_series): the exporter's own check refused every record before sending.
 * Returns the problems found.
 */
function lokiLabelProblems(configs: ReadonlyArray<ExporterItem>): string[] {
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if (c?.type !== 'loki') return;
    const labels = c.labels as { include?: unknown; static?: unknown } | undefined;
    if (!Array.isArray(labels?.include) || typeof labels.static !== 'object' || labels.static === null) return; // a schema error of its own
    const limits = (c.limits ?? {}) as { maxLabelNameLength?: unknown; maxLabelValueLength?: unknown; maxLabelNamesPerSeries?: unknown };
    const limit = (v: unknown) => (typeof v === 'number' && v > 0 ? v : Number.POSITIVE_INFINITY); // 0: no check
    for (const [name, value] of Object.entries(labels.static as Record<string, unknown>)) {
      if (labels.include.includes(name)) problems.push(`exporters.${i}.labels.static.${name}: also derived from each record (labels.include); Loki refuses a label twice: remove it from one of them`);
      if (name.length > limit(limits.maxLabelNameLength)) problems.push(`exporters.${i}.labels.static.${name}: a name of ${name.length} characters, over limits.maxLabelNameLength (${limits.maxLabelNameLength}): Loki refuses every record of such a stream`);
      const bytes = typeof value === 'string' ? Buffer.byteLength(value) : 0;
      if (bytes > limit(limits.maxLabelValueLength)) problems.push(`exporters.${i}.labels.static.${name}: a value of ${bytes} bytes, over limits.maxLabelValueLength (${limits.maxLabelValueLength}): Loki refuses every record of such a stream`);
    }
    const names = labels.include.length + Object.keys(labels.static).length;
    if (names > limit(limits.maxLabelNamesPerSeries)) problems.push(`exporters.${i}.labels.static: ${names} stream labels with labels.include, over limits.maxLabelNamesPerSeries (${limits.maxLabelNamesPerSeries}): Loki refuses every record of such a stream`);
    if (labels.include.includes('service_name') || labels.include.includes('level') || Object.keys(labels.static).length > 0) return;
    problems.push(`exporters.${i}.labels.include: Loki needs a stream label on every record: include service_name or level, or set labels.static`);
  });
  return problems;
}
