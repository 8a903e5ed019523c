import type { LogRecord } from '../../../sdk/src/record.ts';
import type { ExportResult } from './result.ts';

/** A record as an exporter sees it: its position in the durable log, timestamp (µs) and content. */
export interface LogItem {
  id: number;
  micros: number;
  record: LogRecord;
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
  /** Rough encoded size of a record, for batch.maxBytes. */
  estimateBytes(record: LogRecord): number;
  send(items: LogItem[], signal: AbortSignal): Promise<BatchResult>;
}

/** pino-compatible subset used by exporters. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** A size estimate that costs far less than encoding: string lengths plus a constant per field. */
export function estimateRecordBytes(record: LogRecord): number {
  let n = 96 + record.msg.length + (record.appName?.length ?? 0) + (record.hostname?.length ?? 0);
  if (record.attributes) n += estimateValue(record.attributes, 3);
  if (record.structuredData) n += estimateValue(record.structuredData, 3);
  return n;
}

function estimateValue(value: unknown, depth: number): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object') return 8;
  if (depth === 0) return 64;
  let n = 2;
  if (Array.isArray(value)) {
    for (const v of value) n += estimateValue(v, depth - 1) + 1;
    return n;
  }
  for (const key in value as Record<string, unknown>) n += key.length + 4 + estimateValue((value as Record<string, unknown>)[key], depth - 1);
  return n;
}
