// Elasticsearch exporter: POST /_bulk with `create` actions into a data stream.
// https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
// A 200 answer carries one result per action ("items"), each with its own status:
//   2xx created; 409 version_conflict_engine_exception — the deterministic _id is already there,
//   i.e. an earlier attempt delivered it (success); 429 es_rejected_execution_exception and 5xx —
//   retry that item only; other 4xx (mapper_parsing_exception, …) — dead letter with ES's reason.
// A whole-request 429/5xx is retried; 413 is bisected; other 4xx are permanent.

import { parseDuration } from '../../config/units.ts';
import { displayUrl, httpEndpoint, send, type HttpEndpoint, type Transport } from '../http.ts';
import { classifyHttpStatus, type ExportResult } from '../result.ts';
import type { BatchResult, EncodedBody, LogItem, LogSink, SinkRecipe } from '../sink.ts';
import type { ElasticsearchConfig } from './config.ts';
import { documentId, toDocument } from './document.ts';
import { indexTemplate } from './template.ts';

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
}

/** Only what we read of the answer (smaller to send and to parse). */
const FILTER_PATH = 'errors,items.*.status,items.*.error';

export class ElasticsearchSink implements LogSink {
  readonly type = 'elasticsearch';
  readonly endpoint: string;
  readonly recipe: SinkRecipe;
  readonly #bulk: HttpEndpoint;
  readonly #base: string;
  readonly #config: ElasticsearchConfig;
  readonly #instanceId: string;

  /** `transport`: the exporter's pool for `tls:` or a proxy; not in the recipe, encode workers send nothing. */
  constructor(config: ElasticsearchConfig, instanceId: string, transport?: Transport) {
    this.recipe = { kind: 'elasticsearch', args: [config, instanceId] };
    this.#config = config;
    // 12 hex digits (48 random bits) of the database's instance id: enough to tell databases apart.
    this.#instanceId = instanceId.replace(/-/g, '').slice(0, 12);
    // A URL that ends with the bulk endpoint (as other shippers take it) is the cluster's base
    // with that path: the exporter adds `/_bulk` (and `/_index_template/…`) itself, and went to
    // `…/_bulk/_bulk`, which Elasticsearch refuses, for every request.
    this.#base = config.url.replace(/\/+$/, '').replace(/\/_bulk$/, '');
    this.#bulk = httpEndpoint(this.#base, `/_bulk?filter_path=${encodeURIComponent(FILTER_PATH)}`, config.auth, { ...config.headers }, parseDuration(config.timeout), transport);
    this.endpoint = displayUrl(this.#bulk);
  }

  /** ECS field names and the action line make a document about half again the stored body. */
  estimateBytes(bodyBytes: number): number {
    return bodyBytes * 1.5 + 120;
  }

  /** Installs the index template (when configured). A 4xx (e.g. no privilege) is permanent: logged, not fatal. */
  prepare(signal: AbortSignal): Promise<ExportResult> {
    if (!this.#config.installTemplate) return Promise.resolve({ status: 'success' });
    return this.putTemplate(this.#config.templateName, indexTemplate(this.#config.dataStream), signal);
  }

  /** PUT _index_template/<name>. */
  async putTemplate(name: string, template: object, signal: AbortSignal): Promise<ExportResult> {
    const url = new URL(this.#bulk.url);
    url.pathname = url.pathname.replace(/_bulk$/, `_index_template/${name}`);
    url.search = '';
    const { result } = await send(this.#bulk, JSON.stringify(template), { 'content-type': 'application/json' }, {
      signal,
      method: 'PUT',
      url: url.toString(),
    });
    if (result.status !== 'success') result.error = `installing index template ${name}: ${result.error}`;
    return result;
  }

  /**
   * UTF-8 bytes, not a string: this runs in an encode worker, and bytes come back to the ingest
   * thread as a memcpy and go to the socket as they are, where a string is re-encoded on both
   * steps (about 1.4 µs per record each, measured on 500-byte documents). Each document is
   * written as soon as it is mapped, and its record read once: nothing of a document outlives its
   * own line (see BulkBody).
   */
  encode(items: LogItem[]): EncodedBody {
    const body = new BulkBody(this.#config.dataStream);
    for (const item of items) {
      const one: LogItem = { id: item.id, micros: item.micros, record: item.record };
      body.add(documentId(this.#instanceId, one), JSON.stringify(toDocument(one, this.#config.labels)));
    }
    return body.finish();
  }

  send(items: LogItem[], signal: AbortSignal, encoded?: EncodedBody): Promise<BatchResult> {
    return this.#postBulk(encoded ?? this.encode(items), items.length, signal);
  }

  /** One `_bulk` request of `create` actions into `index` (see #postBulk). */
  bulkCreate(index: string, docs: Array<{ id: string; source: string }>, signal: AbortSignal): Promise<BatchResult> {
    const body = new BulkBody(index);
    for (const d of docs) body.add(d.id, d.source);
    return this.#postBulk(body.finish(), docs.length, signal);
  }

  /**
   * POSTs a `_bulk` body of `actions` actions; per-item results when any item failed (in the
   * order of the actions). Never throws.
   */
  async #postBulk(body: EncodedBody, actions: number, signal: AbortSignal): Promise<BatchResult> {
    const answer = await send(this.#bulk, body, { 'content-type': 'application/x-ndjson' }, { signal });
    if (answer.result.status !== 'success') return { result: answer.result, bisect: answer.result.httpStatus === 413 };
    // Elasticsearch writes its answer compactly, and with FILTER_PATH "errors" is its first key: an
    // answer where nothing failed is known from its start. Parsing it anyway built two objects per
    // action on this (the ingest) thread: ~0.17 µs per record for a 2000-record batch.
    if (answer.body?.startsWith('{"errors":false')) return { result: answer.result };
    let parsed: { errors?: boolean; items?: Array<Record<string, BulkItem>> };
    try {
      parsed = JSON.parse(answer.body ?? '');
    } catch {
      return { result: { status: 'retryable', error: 'bulk answer is not JSON', httpStatus: answer.result.httpStatus } };
    }
    if (parsed.errors === false) return { result: answer.result };
    if (!Array.isArray(parsed.items) || parsed.items.length !== actions) {
      return { result: { status: 'retryable', error: `bulk answer has ${parsed.items?.length ?? 0} items for ${actions} actions`, httpStatus: answer.result.httpStatus } };
    }
    const redactor = this.#bulk.redactor;
    return {
      result: answer.result,
      items: parsed.items.map((entry) => {
        const r = itemResult(entry);
        if (r.error) r.error = redactor.redact(r.error);
        return r;
      }),
    };
  }
}

/** Grown as needed and kept (per thread): where bulk bodies are written before their final copy. */
let scratch = Buffer.allocUnsafeSlow(1 << 16);

/**
 * `_bulk` NDJSON, UTF-8: a `create` action line then the document, per document, written into
 * one reused buffer as they come, then copied once into a buffer of the body's own (which an
 * encode worker can move to the ingest thread, encode-worker.ts). Building the documents first
 * and joining them at the end kept a whole batch of records, documents and per-document buffers
 * alive through the encode, long enough for the young-generation GC to promote them:
 * --trace-gc-nvp of a 5 s backlog's drain, per encode thread, 210–405 MB promoted before and
 * 20–61 MB with this (with encode-worker.ts' TaskItem); Elasticsearch drain 80–96 k → 106–110 k
 * records/s in three alternating pairs. Joining into one string first was slower still: 3.3–3.9
 * µs per record against 0.65 (5 000 documents of about 500 bytes).
 * One at a time per thread: from the first `add` to `finish`, nothing else may write bulk bodies
 * (callers run them without yielding).
 */
class BulkBody {
  readonly #prefix: string;
  #length = 0;

  constructor(index: string) {
    this.#prefix = actionPrefix(index);
  }

  add(id: string, source: string): void {
    const lines = `${this.#prefix}${id}"}}\n${source}\n`;
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    const room = this.#length + lines.length * 3;
    if (room > scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(room, scratch.length * 2));
      scratch.copy(grown, 0, 0, this.#length);
      scratch = grown;
    }
    this.#length += scratch.write(lines, this.#length, 'utf8');
  }

  finish(): Uint8Array {
    const body = Buffer.allocUnsafeSlow(this.#length);
    scratch.copy(body, 0, 0, this.#length);
    return body;
  }
}

/** The `create` action line up to its `_id` value. */
function actionPrefix(index: string): string {
  return `{"create":{"_index":${JSON.stringify(index)},"_id":"`;
}

/**
 * The UTF-8 bytes BulkBody.add writes for a document into `index`: its action line and its
 * source. The action line's fixed part is measured once.
 */
export function bulkItemSizer(index: string): (id: string, source: string) => number {
  const fixed = Buffer.byteLength(actionPrefix(index)) + '"}}\n\n'.length;
  return (id, source) => fixed + Buffer.byteLength(id) + Buffer.byteLength(source);
}

function itemResult(entry: Record<string, BulkItem>): ExportResult {
  const item = entry.create ?? Object.values(entry)[0] ?? {};
  const status = item.status ?? 0;
  if (status === 409) return { status: 'success', httpStatus: 409 }; // already delivered by an earlier attempt
  const result = classifyHttpStatus(status);
  if (result.status !== 'success') {
    const e = item.error;
    const cause = e?.caused_by?.reason ? ` (caused by ${e.caused_by.type}: ${e.caused_by.reason})` : '';
    result.error = `HTTP ${status}: ${e?.type ?? 'error'}: ${e?.reason ?? 'no reason given'}${cause}`;
  }
  return result;
}
