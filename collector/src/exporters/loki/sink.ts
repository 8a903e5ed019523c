// Loki exporter: POST /loki/api/v1/push.
// https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs
// Loki validates each entry and ingests the valid ones even when it answers 400 (the 400 text
// lists the rejected entries, one reason per line: line too long, too old, bad labels, …).
// So a 400 is bisected by the delivery loop: halves are re-sent until each bad entry is alone and
// dead-lettered with Loki's reason. Re-sent valid entries are not duplicated: Loki drops an entry
// equal (stream, timestamp, line) to one it has. 429 and 5xx are retried; other 4xx are permanent.

import { parseBytes, parseDuration } from '../../config/units.ts';
import { displayUrl, httpEndpoint, send, type HttpEndpoint, type Transport } from '../http.ts';
import type { BatchResult, EncodedBody, LogItem, LogSink, SinkRecipe } from '../sink.ts';
import type { LokiConfig } from './config.ts';
import { encodeJson, encodeProtobuf } from './encode.ts';
import { StreamCache, toEntry, type EntryPolicy, type LokiEntry } from './entry.ts';
import { streamRefusals } from './refusals.ts';

export const PUSH_PATH = '/loki/api/v1/push';

export interface LokiLimits {
  maxLineSize: number;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  maxLabelNamesPerSeries: number;
  rejectOlderThanMs: number;
  creationGracePeriodMs: number;
}

/** The memo slot a LogItem carries: its mapped entry (computed once by check, reused by send). */
const ENTRY = Symbol('lokiEntry');
type MemoItem = LogItem & { [ENTRY]?: LokiEntry };

export class LokiSink implements LogSink {
  readonly type = 'loki';
  readonly endpoint: string;
  readonly recipe: SinkRecipe;
  readonly #http: HttpEndpoint;
  readonly #policy: EntryPolicy;
  readonly #limits: LokiLimits;
  readonly #format: 'protobuf' | 'json';
  readonly #streams = new StreamCache();
  readonly #now: () => number;

  /** `transport`: the exporter's pool for `tls:` or a proxy; not in the recipe, encode workers send nothing. */
  constructor(config: LokiConfig, now: () => number = Date.now, transport?: Transport) {
    this.recipe = { kind: 'loki', args: [config] };
    const base = config.url.replace(/\/+$/, '');
    this.#http = httpEndpoint(base.endsWith(PUSH_PATH) ? base : base + PUSH_PATH, '', config.auth, { ...config.headers }, parseDuration(config.timeout), transport);
    // Set after: the tenant is no secret (extra headers are redacted), Loki's errors may name it.
    if (config.tenant) this.#http.headers['x-scope-orgid'] = config.tenant;
    this.endpoint = displayUrl(this.#http);
    this.#format = config.format;
    this.#now = now;
    this.#policy = {
      include: config.labels.include,
      staticLabels: config.labels.static,
      structuredMetadata: config.structuredMetadata,
      maxStructuredMetadataEntries: config.limits.maxStructuredMetadataEntries,
      maxStructuredMetadataSize: parseBytes(config.limits.maxStructuredMetadataSize),
    };
    this.#limits = {
      maxLineSize: parseBytes(config.limits.maxLineSize),
      maxLabelNameLength: config.limits.maxLabelNameLength,
      maxLabelValueLength: config.limits.maxLabelValueLength,
      maxLabelNamesPerSeries: config.limits.maxLabelNamesPerSeries,
      rejectOlderThanMs: parseDuration(config.limits.rejectOlderThan),
      creationGracePeriodMs: parseDuration(config.limits.creationGracePeriod),
    };
  }

  #entry(item: LogItem): LokiEntry {
    const memo = item as MemoItem;
    return (memo[ENTRY] ??= toEntry(item, this.#policy, this.#streams));
  }

  /**
   * Loki's own validation (pkg/validation), applied before sending so that a record Loki would
   * refuse goes to the dead letters without a round trip. Texts follow Loki's messages.
   */
  check(item: LogItem): string | undefined {
    const e = this.#entry(item);
    const l = this.#limits;
    if (l.maxLabelNamesPerSeries > 0 && e.labels.length > l.maxLabelNamesPerSeries) {
      return `entry for stream '${e.stream}' has ${e.labels.length} label names; limit ${l.maxLabelNamesPerSeries}`;
    }
    // Lengths in UTF-8 bytes, as Go's len() counts them (a name is ASCII: its length is its bytes).
    for (const label of e.labels) {
      if (l.maxLabelNameLength > 0 && label.name.length > l.maxLabelNameLength) return `stream '${e.stream}' has label name too long: '${label.name}'`;
      if (l.maxLabelValueLength > 0 && label.value.length * 3 > l.maxLabelValueLength && Buffer.byteLength(label.value) > l.maxLabelValueLength) {
        return `stream '${e.stream}' has label value too long: '${label.value}'`;
      }
    }
    if (l.maxLineSize > 0 && e.line.length * 3 > l.maxLineSize) {
      const size = Buffer.byteLength(e.line);
      if (size > l.maxLineSize) return `Max entry size '${l.maxLineSize}' bytes exceeded for stream '${e.stream}' while adding an entry with length '${size}' bytes`;
    }
    const now = this.#now(); // once per record for both time checks
    if (l.creationGracePeriodMs > 0 && item.micros / 1000 > now + l.creationGracePeriodMs) {
      return `entry for stream '${e.stream}' has timestamp too new: ${new Date(item.micros / 1000).toISOString()}`;
    }
    if (l.rejectOlderThanMs > 0) {
      const oldest = now - l.rejectOlderThanMs;
      if (item.micros / 1000 < oldest) {
        return `entry for stream '${e.stream}' has timestamp too old: ${new Date(item.micros / 1000).toISOString()}, oldest acceptable timestamp is: ${new Date(oldest).toISOString()}`;
      }
    }
    return undefined;
  }

  /** The line and metadata are about the stored body's size. */
  estimateBytes(bodyBytes: number): number {
    return bodyBytes;
  }

  encode(items: LogItem[]): EncodedBody {
    const entries = items.map((item) => this.#entry(item));
    return this.#format === 'protobuf' ? encodeProtobuf(entries) : encodeJson(entries);
  }

  async send(items: LogItem[], signal: AbortSignal, encoded?: EncodedBody): Promise<BatchResult> {
    const body = encoded ?? this.encode(items);
    const contentType = this.#format === 'protobuf' ? 'application/x-protobuf' : 'application/json';
    const answer = await send(this.#http, body, { 'content-type': contentType }, { signal });
    const result = answer.result;
    // 400: Loki names bad entries in prose only; 413: the batch is too big. Either way, split,
    // except the entries a 400 refuses as a whole stream (refusals.ts).
    if (result.httpStatus !== 400 || !answer.body) return { result, bisect: result.httpStatus === 413 || result.httpStatus === 400 };
    const refused = streamRefusals(items.map((item) => this.#entry(item)), answer.body).map(({ index, error }) => ({ index, error: this.#http.redactor.redact(`HTTP 400: ${error}`) }));
    return { result, bisect: true, ...(refused.length ? { refused } : {}) };
  }
}
