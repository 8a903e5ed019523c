import type { LogRecord } from '../../../sdk/src/record.ts';
import type { ExportResult } from './result.ts';

/** A record as an exporter sees it: its position in the durable log, timestamp (µs) and content. */
export interface LogItem {
  id: number;
  micros: number;
  record: LogRecord;
}

/** Reads a stored record's body again by its log position; undefined when it is gone. */
export type BodyLoader = (id: number) => string | undefined;

/**
 * A record read from the durable log: its stored JSON body is parsed only when `record` is first
 * read, so a batch encoded in a worker (encode-pool.ts) is never parsed on the ingest thread.
 */
export class StoredItem implements LogItem {
  readonly id: number;
  readonly micros: number;
  readonly severity: number;
  /** The stored body's size in UTF-8 bytes (what batch.maxBytes is counted in). */
  readonly bytes: number;
  #body: string | undefined;
  #load: BodyLoader | undefined;
  #record: LogRecord | undefined;

  constructor(id: number, micros: number, severity: number, body: string, bytes: number) {
    this.id = id;
    this.micros = micros;
    this.severity = severity;
    this.bytes = bytes;
    this.#body = body;
  }

  /** The stored body; read again through the loader after `release`. Throws when it is gone. */
  get body(): string {
    if (this.#body !== undefined) return this.#body;
    const body = this.#load?.(this.id);
    if (body === undefined) throw new Error(`log record ${this.id} is no longer stored`);
    return (this.#body = body);
  }

  get record(): LogRecord {
    return (this.#record ??= JSON.parse(this.body) as LogRecord);
  }

  /**
   * Lets go of the body and the parsed record while the item waits on a request: they are read
   * again through `load` if a failure path asks for them. Only for records that stay stored
   * until the item is resolved (retention spares them).
   */
  release(load: BodyLoader): void {
    this.#body = undefined;
    this.#record = undefined;
    this.#load = load;
  }
}

/** How an encode worker builds its own copy of a sink: the sink's kind and constructor arguments (structured-cloneable). */
export interface SinkRecipe {
  kind: 'loki' | 'elasticsearch';
  args: unknown[];
}

/** The answer to one batch. */
export interface BatchResult {
  /** The whole request's result. */
  result: ExportResult;
  /**
   * Per-item results when the backend reports them (Elasticsearch `_bulk` items), in the order of
   * the items sent. When present they decide each item's fate; `result` only describes the request.
   */
  items?: ExportResult[];
  /**
   * A permanent whole-request failure whose cause may lie in some items only (Loki 400 names the
   * bad entries in prose, 413 means "too big"): the delivery splits the batch in halves and sends
   * each again, until the bad items are alone and can be dead-lettered with the backend's reason.
   */
  bisect?: boolean;
  /**
   * With `bisect`: items (by index in the request) the answer refuses for good by itself, with its
   * words about each (Loki's refusal of a whole stream, loki/refusals.ts). They go to the dead
   * letters without being bisected; the rest is sent again, and bisected if refused again.
   */
  refused?: Array<{ index: number; error: string }>;
}

/**
 * What a log exporter implements: turning items into one request and its answer into results.
 * No retries, no state about progress: the delivery loop (delivery.ts) owns those.
 * `send` must never throw (network errors are retryable results) and must honour `signal`.
 */
export interface LogSink {
  readonly type: string;
  /** The backend endpoint for display (no credentials). */
  readonly endpoint: string;
  /** Runs before the first batch (e.g. install an index template). Retryable results are retried. */
  prepare?(signal: AbortSignal): Promise<ExportResult>;
  /** A reason when the backend would refuse this item for sure (checked before sending), else undefined. */
  check?(item: LogItem): string | undefined;
  /** Rough encoded size of a record whose stored JSON body is `bodyBytes` bytes (UTF-8), for batch.maxBytes. */
  estimateBytes(bodyBytes: number): number;
  /**
   * Sends one batch. `encoded`, when given, is what `encode(items)` returns for exactly these
   * items, computed elsewhere (an encode worker); without it the sink encodes them itself.
   */
  send(items: LogItem[], signal: AbortSignal, encoded?: EncodedBody): Promise<BatchResult>;
  /** The request body for `items` (pure CPU work: may run in a worker built from `recipe`). */
  encode?(items: LogItem[]): EncodedBody;
  /** Present when `check` and `encode` can run in an encode worker. */
  readonly recipe?: SinkRecipe;
}

export type EncodedBody = Uint8Array | string;

/** pino-compatible subset used by exporters. */
export interface Logger {
  /** At `log.level: debug` only: a line per exporter request. Optional for test loggers. */
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
