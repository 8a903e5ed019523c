// An Elasticsearch for tests: the parts of the REST API a log shipper uses, with the documented
// semantics (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html):
//  - POST /_bulk and /<index>/_bulk (NDJSON): one result per action inside a 200 answer,
//    `errors: true` when any failed; `filter_path` honoured;
//  - data streams: an index matching a template with `data_stream: {}` (ours, or the built-in
//    `logs` template for logs-*-*) accepts only `create` and needs `@timestamp`;
//  - 409 version_conflict_engine_exception on an `_id` already in the index / data stream;
//  - mappings: explicit ones from the index template, dynamic ones for the rest (long, double,
//    boolean, keyword, date); a value that does not fit → 400 document_parsing_exception;
//    date_nanos before 1970 → 400; a flattened field's leaf whose keyed encoding
//    (`<key>\0<value>`) is longer than Lucene's 32766-byte term limit and not skipped by the
//    field's `ignore_above` → 400 for the whole document, and so is a flattened value with objects
//    nested deeper than the field's `depth_limit` (default 20; the value's own object is level 1)
//    (https://www.elastic.co/guide/en/elasticsearch/reference/current/flattened.html#flattened-params);
//    more fields than index.mapping.total_fields.limit (default
//    1000; object and leaf fields count, flattened subfields do not) → 400 for the document that
//    would add them (https://www.elastic.co/guide/en/elasticsearch/reference/current/mapping-settings-limit.html);
//  - injected per-item failures (`itemFault`, e.g. 429 es_rejected_execution_exception);
//  - PUT/GET /_index_template/<name>; GET / (cluster info); basic or ApiKey auth;
//  - whole-request faults (fault-server.ts): down, reset, slow, any status with Retry-After.

import type { ServerResponse } from 'node:http';
import { ndjsonChunks } from '../../collector/src/receivers/native/ndjson-chunks.ts';
import { authorized, FaultServer, type ServerTls, type Fault } from './fault-server.ts';

export interface EsDoc {
  index: string;
  id: string;
  source: Record<string, unknown>;
}

export interface ItemError {
  status: number;
  type: string;
  reason: string;
  caused_by?: { type: string; reason: string };
}

export interface ElasticsearchServerOptions {
  port?: number;
  auth?: { basic?: { username: string; password: string }; apiKey?: string };
  delayMs?: number;
  maxBodyBytes?: number;
  /** Serve https (fault-server.ts). */
  tls?: ServerTls;
  /** false: answer and count only, keep nothing (benchmarks: constant memory; no 409 detection). */
  keepDocuments?: boolean;
}

type Mapping = Map<string, string>; // dotted path → type ("object", "flattened", "long", …)

interface Template {
  index_patterns?: string[];
  data_stream?: object;
  priority?: number;
  template?: {
    settings?: Record<string, unknown>;
    mappings?: { properties?: Record<string, unknown>; dynamic_templates?: Array<Record<string, { path_match?: string; mapping?: { type?: string } }>> };
  };
}

/** index.mapping.total_fields.limit of a template's settings (flat or nested keys), else Elasticsearch's default. */
function totalFieldsLimit(template: Template | undefined): number {
  const settings = template?.template?.settings ?? {};
  const nested = (settings as { index?: { mapping?: { total_fields?: { limit?: unknown } } } }).index?.mapping?.total_fields?.limit;
  const value = settings['index.mapping.total_fields.limit'] ?? nested;
  return value === undefined ? 1000 : Number(value);
}

const BUILTIN_LOGS: Template = {
  index_patterns: ['logs-*-*'],
  data_stream: {},
  priority: 100,
  template: { mappings: { properties: { '@timestamp': { type: 'date' } } } },
};

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Fills `out` with each mapped path's type, `ignoreAbove` with the paths that set `ignore_above`,
 * `depthLimit` with the flattened paths' `depth_limit`.
 */
function flattenProperties(props: Record<string, unknown>, prefix: string, out: Mapping, ignoreAbove: Map<string, number>, depthLimit: Map<string, number>): void {
  for (const [name, def] of Object.entries(props)) {
    const d = def as { type?: string; properties?: Record<string, unknown>; ignore_above?: number; depth_limit?: number };
    const path = prefix ? `${prefix}.${name}` : name;
    if (d.properties) {
      out.set(path, 'object');
      flattenProperties(d.properties, path, out, ignoreAbove, depthLimit);
    } else out.set(path, d.type ?? 'object');
    if (typeof d.ignore_above === 'number') ignoreAbove.set(path, d.ignore_above);
    if (d.type === 'flattened') depthLimit.set(path, d.depth_limit ?? FLATTENED_DEPTH_LIMIT);
  }
}

/** A flattened field's default `depth_limit`. */
const FLATTENED_DEPTH_LIMIT = 20;

/**
 * How deep a flattened value's objects nest, as Elasticsearch counts it for `depth_limit`
 * (FlattenedFieldParser: an object's depth is its key path's length + 1; arrays add none).
 */
function objectDepth(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((max: number, v) => Math.max(max, objectDepth(v)), 0);
  if (value === null || typeof value !== 'object') return 0;
  let inner = 0;
  for (const v of Object.values(value)) inner = Math.max(inner, objectDepth(v));
  return 1 + inner;
}

/** Lucene's IndexWriter.MAX_TERM_LENGTH: no indexed term may be longer, in UTF-8 bytes. */
const MAX_TERM_BYTES = 32766;

/**
 * The first leaf of a flattened field's value whose keyed encoding (`<key>\0<value>`, the term
 * Elasticsearch indexes) is over Lucene's limit, unless `ignore_above` skips it (values longer
 * than that many characters are kept in _source only). Returns its key and lengths.
 */
function immenseFlattenedLeaf(value: unknown, key: string, ignoreAbove: number | undefined): { key: string; keyBytes: number; valueBytes: number } | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = immenseFlattenedLeaf(v, key, ignoreAbove);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = immenseFlattenedLeaf(v, key ? `${key}.${k}` : k, ignoreAbove);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null) return undefined;
  const text = String(value);
  if (ignoreAbove !== undefined && text.length > ignoreAbove) return undefined;
  const keyBytes = Buffer.byteLength(key);
  const valueBytes = Buffer.byteLength(text);
  return keyBytes + 1 + valueBytes > MAX_TERM_BYTES ? { key, keyBytes, valueBytes } : undefined;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

/** What filter_path keeps of a key: all of its value, or what `rest` keeps of it; null: nothing. */
type FilterStep = { keep: true } | { keep: false; rest: string[][] } | null;

/**
 * Steps already worked out, per list of paths and key: a bulk answer applies the same paths to
 * thousands of items, and working each step out again was most of this server's answer time.
 */
const filterSteps = new WeakMap<string[][], Map<string, FilterStep>>();

function filterStep(paths: string[][], key: string): FilterStep {
  let byKey = filterSteps.get(paths);
  if (!byKey) filterSteps.set(paths, (byKey = new Map()));
  let step = byKey.get(key);
  if (step === undefined) {
    const rest = paths.filter((p) => p[0] === key || p[0] === '*');
    step = rest.length === 0 ? null : rest.some((p) => p.length === 1) ? { keep: true } : { keep: false, rest: rest.map((p) => p.slice(1)) };
    byKey.set(key, step);
  }
  return step;
}

/** Applies ES's filter_path (comma-separated paths, `*` matches one key) to an answer. */
export function filterPath(value: unknown, paths: string[][]): unknown {
  if (Array.isArray(value)) return value.map((v) => filterPath(v, paths));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const step = filterStep(paths, key);
    if (step === null) continue;
    const v = (value as Record<string, unknown>)[key];
    if (step.keep) out[key] = v;
    else {
      const f = filterPath(v, step.rest);
      if (f !== undefined && !(typeof f === 'object' && f !== null && !Array.isArray(f) && Object.keys(f).length === 0)) out[key] = f;
    }
  }
  return out;
}

/**
 * The non-empty lines of an NDJSON body, decoded a chunk at a time: one string for a whole body
 * (megabytes from a log shipper) went to fresh large-object pages each request, about a fifth of
 * this server's CPU per item while the bench drained a backlog into it.
 */
function bodyLines(body: Buffer): string[] {
  const lines: string[] = [];
  for (const text of ndjsonChunks(body)) for (const line of text.split('\n')) if (line.length > 0) lines.push(line);
  return lines;
}

export class ElasticsearchServer {
  readonly http: FaultServer;
  readonly templates = new Map<string, Template>();
  /** index name → (_id → doc) */
  readonly #indices = new Map<string, Map<string, EsDoc>>();
  readonly #mappings = new Map<string, Mapping>();
  /** index name → (path → ignore_above) of its template's mapping */
  readonly #ignoreAbove = new Map<string, Map<string, number>>();
  /** index name → (flattened path → depth_limit) of its template's mapping */
  readonly #depthLimit = new Map<string, Map<string, number>>();
  readonly #templateOf = new Map<string, Template | undefined>();
  readonly #options: ElasticsearchServerOptions;
  /** Per-item fault injection: return an error for an item to fail it (nothing is stored). */
  itemFault: ((doc: Record<string, unknown>, id: string, index: string) => ItemError | undefined) | undefined;
  bulkRequests = 0;
  /** Documents created so far (also counted when keepDocuments is false). */
  created = 0;
  /** Items answered 409 (already there). */
  conflicts = 0;
  /** Items refused, by status. */
  readonly refused = new Map<number, number>();

  constructor(options: ElasticsearchServerOptions = {}) {
    this.#options = options;
    this.http = new FaultServer((req, body, res) => this.#handle(req.method ?? '', req.url ?? '', req.headers, body, res), {
      port: options.port,
      delayMs: options.delayMs,
      maxBodyBytes: options.maxBodyBytes,
      tls: options.tls,
    });
  }

  get url(): string {
    return this.http.url;
  }

  setFault(fault: Fault): Promise<void> {
    return this.http.setFault(fault);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** Stored documents of one index / data stream (or all). */
  docs(index?: string): EsDoc[] {
    if (index !== undefined) return [...(this.#indices.get(index)?.values() ?? [])];
    return [...this.#indices.values()].flatMap((m) => [...m.values()]);
  }

  /** The matching template with the highest priority; memoized per index until a template is put. */
  #template(index: string): Template | undefined {
    if (this.#templateOf.has(index)) return this.#templateOf.get(index);
    const all: Template[] = [...this.templates.values(), BUILTIN_LOGS];
    const t = all
      .filter((t) => (t.index_patterns ?? []).some((p) => globToRegExp(p).test(index)))
      .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
    this.#templateOf.set(index, t);
    return t;
  }

  #mapping(index: string): Mapping {
    let m = this.#mappings.get(index);
    if (!m) {
      m = new Map();
      const ignoreAbove = new Map<string, number>();
      const depthLimit = new Map<string, number>();
      const props = this.#template(index)?.template?.mappings?.properties;
      if (props) flattenProperties(props, '', m, ignoreAbove, depthLimit);
      this.#mappings.set(index, m);
      this.#ignoreAbove.set(index, ignoreAbove);
      this.#depthLimit.set(index, depthLimit);
    }
    return m;
  }

  /** Checks (and dynamically extends) the mapping for a document; returns the first error. */
  #mapDocument(index: string, id: string, doc: Record<string, unknown>): ItemError | undefined {
    const mapping = this.#mapping(index);
    const ignoreAbove = this.#ignoreAbove.get(index)!;
    const depthLimit = this.#depthLimit.get(index)!;
    const dynamicTemplates = this.#template(index)?.template?.mappings?.dynamic_templates ?? [];
    const added: Array<[string, string]> = [];
    const fail = (path: string, type: string, value: unknown): ItemError => ({
      status: 400,
      type: 'document_parsing_exception',
      reason: `[1:2] failed to parse field [${path}] of type [${type}] in document with id '${id}'. Preview of field's value: '${typeof value === 'object' ? JSON.stringify(value) : String(value)}'`,
    });
    const walk = (obj: Record<string, unknown>, prefix: string): ItemError | undefined => {
      for (const [key, value] of Object.entries(obj)) {
        const path = prefix ? `${prefix}.${key}` : key;
        let type = mapping.get(path) ?? added.find(([p]) => p === path)?.[1];
        if (value === null) continue;
        if (type === 'flattened') {
          const limit = depthLimit.get(path) ?? FLATTENED_DEPTH_LIMIT;
          if (objectDepth(value) > limit) {
            const reason = `The provided [flattened] field [${path}] exceeds the maximum depth limit of [${limit}].`;
            return { status: 400, type: 'document_parsing_exception', reason: `[1:2] failed to parse: ${reason}`, caused_by: { type: 'illegal_argument_exception', reason } };
          }
          const immense = immenseFlattenedLeaf(value, '', ignoreAbove.get(path));
          if (immense) {
            const reason = `Flattened field [${path}] contains one immense field whose keyed encoding is longer than the allowed max length of ${MAX_TERM_BYTES} bytes. Key length: ${immense.keyBytes}, value length: ${immense.valueBytes} for key starting with [${immense.key.slice(0, 10)}]`;
            return { status: 400, type: 'document_parsing_exception', reason: `[1:2] failed to parse: ${reason}`, caused_by: { type: 'illegal_argument_exception', reason } };
          }
          continue;
        }
        if (type === undefined) {
          const dyn = dynamicTemplates.map((t) => Object.values(t)[0]).find((t) => t.path_match && globToRegExp(t.path_match).test(path));
          if (typeof value === 'object' && !Array.isArray(value)) type = 'object';
          else if (dyn?.mapping?.type) type = dyn.mapping.type;
          else if (typeof value === 'boolean') type = 'boolean';
          else if (typeof value === 'number') type = Number.isInteger(value) ? 'long' : 'float';
          else if (typeof value === 'string' && DATE_RE.test(value) && !Number.isNaN(Date.parse(value))) type = 'date';
          else type = 'keyword';
          added.push([path, type]);
        }
        if (type === 'object') {
          if (typeof value !== 'object' || Array.isArray(value)) {
            return { status: 400, type: 'document_parsing_exception', reason: `[1:2] object mapping for [${path}] tried to parse field [${key}] as object, but found a concrete value` };
          }
          const e = walk(value as Record<string, unknown>, path);
          if (e) return e;
          continue;
        }
        for (const v of Array.isArray(value) ? value : [value]) {
          if (typeof v === 'object' && v !== null) return fail(path, type, v);
          if ((type === 'long' || type === 'integer') && !(typeof v === 'number' || (typeof v === 'string' && /^-?\d+$/.test(v)))) return fail(path, type, v);
          if ((type === 'float' || type === 'double') && !Number.isFinite(Number(v))) return fail(path, type, v);
          if (type === 'boolean' && typeof v !== 'boolean' && v !== 'true' && v !== 'false') return fail(path, type, v);
          if (type === 'date' || type === 'date_nanos') {
            const t = typeof v === 'number' ? v : Date.parse(String(v));
            if (Number.isNaN(t)) return fail(path, type, v);
            if (type === 'date_nanos' && t < 0) {
              return { status: 400, type: 'document_parsing_exception', reason: `[1:2] failed to parse field [${path}] of type [date_nanos] in document with id '${id}'. Preview of field's value: '${String(v)}' (caused by illegal_argument_exception: date[${String(v)}] is before the epoch in 1970 and cannot be stored in nanosecond resolution)` };
            }
          }
        }
      }
      return undefined;
    };
    const error = walk(doc, '');
    if (error) return error;
    const limit = totalFieldsLimit(this.#template(index));
    if (added.length > 0 && mapping.size + added.length > limit) {
      const reason = `Limit of total fields [${limit}] has been exceeded while adding new fields [${added.length}]`;
      return { status: 400, type: 'document_parsing_exception', reason: `[1:2] failed to parse: ${reason}`, caused_by: { type: 'illegal_argument_exception', reason } };
    }
    for (const [p, t] of added) mapping.set(p, t);
    return undefined;
  }

  #handle(method: string, url: string, headers: Record<string, string | string[] | undefined>, body: Buffer, res: ServerResponse): void {
    const [path, query = ''] = url.split('?');
    const params = new URLSearchParams(query);
    const json = (status: number, value: unknown) => {
      // Like Elasticsearch, filter_path shapes successful answers only (error bodies stay whole).
      const filter = status < 300 ? params.get('filter_path') : null;
      const out = filter ? filterPath(value, filter.split(',').map((p) => p.split('.'))) : value;
      res.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' }).end(JSON.stringify(out));
    };
    const error = (status: number, type: string, reason: string) => json(status, { error: { root_cause: [{ type, reason }], type, reason }, status });
    if (!authorized({ headers } as import('node:http').IncomingMessage, this.#options.auth)) {
      return error(401, 'security_exception', `missing authentication credentials for REST request [${path}]`);
    }
    if (method === 'GET' && path === '/') {
      return json(200, { name: 'test-es', cluster_name: 'periscope-test', version: { number: '8.15.0' }, tagline: 'You Know, for Search' });
    }
    const tpl = /^\/_index_template\/([^/]+)$/.exec(path);
    if (tpl) {
      if (method === 'PUT' || method === 'POST') {
        try {
          const t = JSON.parse(body.toString('utf8')) as Template;
          if (!Array.isArray(t.index_patterns)) return error(400, 'action_request_validation_exception', 'Validation Failed: 1: index patterns are missing;');
          this.templates.set(tpl[1], t);
          this.#mappings.clear();
          this.#ignoreAbove.clear();
          this.#depthLimit.clear();
          this.#templateOf.clear();
          return json(200, { acknowledged: true });
        } catch (e) {
          return error(400, 'parse_exception', (e as Error).message);
        }
      }
      if (method === 'GET') {
        const t = this.templates.get(tpl[1]);
        if (!t) return json(404, { error: { type: 'resource_not_found_exception', reason: `index template matching [${tpl[1]}] not found` }, status: 404 });
        return json(200, { index_templates: [{ name: tpl[1], index_template: t }] });
      }
    }
    const bulk = /^(?:\/([^/_][^/]*))?\/_bulk$/.exec(path);
    if (bulk && (method === 'POST' || method === 'PUT')) {
      const ct = String(headers['content-type'] ?? '');
      if (!ct.startsWith('application/x-ndjson') && !ct.startsWith('application/json')) {
        return error(406, 'media_type_header_exception', `Content-Type header [${ct}] is not supported`);
      }
      return this.#bulk(bulk[1], body, json, error);
    }
    return error(404, 'index_not_found_exception', `no such index or route [${method} ${path}]`);
  }

  #bulk(defaultIndex: string | undefined, body: Buffer, json: (status: number, v: unknown) => void, error: (s: number, t: string, r: string) => void): void {
    this.bulkRequests++;
    if (body.length > 0 && body[body.length - 1] !== 0x0a) return error(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    const lines = bodyLines(body);
    const items: unknown[] = [];
    const started = Date.now();
    let errors = false;
    for (let i = 0; i < lines.length; ) {
      let action: Record<string, { _index?: string; _id?: string }>;
      try {
        action = JSON.parse(lines[i++]);
      } catch (e) {
        return error(400, 'x_content_parse_exception', `[1:1] Malformed action/metadata line [${i}]: ${(e as Error).message}`);
      }
      const op = Object.keys(action)[0];
      const meta = action[op] ?? {};
      if (op === 'delete') {
        items.push({ delete: { status: 404, result: 'not_found' } });
        continue;
      }
      let source: Record<string, unknown>;
      try {
        source = JSON.parse(lines[i++] ?? '');
      } catch (e) {
        return error(400, 'x_content_parse_exception', `[1:1] Malformed document line: ${(e as Error).message}`);
      }
      const index = meta._index ?? defaultIndex;
      if (!index) return error(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
      const id = meta._id ?? `auto-${Math.random().toString(36).slice(2)}`;
      const dataStream = this.#template(index)?.data_stream !== undefined;
      const backing = dataStream ? `.ds-${index}-2026.01.01-000001` : index;
      const fail = (e: ItemError) => {
        errors = true;
        this.refused.set(e.status, (this.refused.get(e.status) ?? 0) + 1);
        items.push({ [op]: { _index: backing, _id: id, status: e.status, error: { type: e.type, reason: e.reason, index: backing, ...(e.caused_by ? { caused_by: e.caused_by } : {}) } } });
      };
      if (dataStream && op !== 'create') {
        fail({ status: 400, type: 'illegal_argument_exception', reason: `only write ops with an op_type of create are allowed in data streams` });
        continue;
      }
      if (dataStream && source['@timestamp'] === undefined) {
        fail({ status: 400, type: 'document_parsing_exception', reason: '[1:1] failed to parse: data stream timestamp field [@timestamp] is missing' });
        continue;
      }
      const injected = this.itemFault?.(source, id, index);
      if (injected) {
        fail(injected);
        continue;
      }
      if (this.#options.keepDocuments === false) {
        this.created++;
        items.push({ [op]: { _index: backing, _id: id, _version: 1, result: 'created', status: 201 } });
        continue;
      }
      const docs = this.#indices.get(index) ?? new Map<string, EsDoc>();
      this.#indices.set(index, docs);
      if (docs.has(id) && op === 'create') {
        this.conflicts++;
        fail({ status: 409, type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])` });
        continue;
      }
      const mappingError = this.#mapDocument(index, id, source);
      if (mappingError) {
        fail(mappingError);
        continue;
      }
      docs.set(id, { index, id, source });
      this.created++;
      items.push({ [op]: { _index: backing, _id: id, _version: 1, result: 'created', _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: docs.size - 1, _primary_term: 1, status: 201 } });
    }
    json(200, { took: Date.now() - started, errors, items });
  }
}

export async function startElasticsearchServer(options: ElasticsearchServerOptions = {}): Promise<ElasticsearchServer> {
  const server = new ElasticsearchServer(options);
  await server.http.listen();
  return server;
}
