import type { LogRecord } from '../../../sdk/src/record.ts';
import { appendIndexText, emptyIndexText, type IndexText } from '../store/index-queue.ts';

/**
 * Records as the store writes them: one array per column, each record's canonical JSON body
 * (docs/record-format.md) included. Plain arrays of strings and numbers, so a batch built in a
 * parse worker crosses to the ingest thread by structured clone without any per-record objects.
 */
export interface LogColumns {
  /** Record timestamp, epoch microseconds. */
  micros: number[];
  severity: number[];
  /** appName, or null. */
  service: Array<string | null>;
  traceId: Array<string | null>;
  /** JSON.stringify of the canonical record. */
  bodies: string[];
  /** The records' messages and trace ids as the search indexer takes them (not stored as columns). */
  index: IndexText;
}

/**
 * A batch of normalised records on its way into the store and to ingest subscribers. Record
 * objects are materialised from the bodies only when a subscriber asks for them (an exporter, a
 * tail session), so a batch parsed in a worker costs the ingest thread no per-record parsing.
 */
export class LogBatch implements LogColumns {
  readonly micros: number[];
  readonly severity: number[];
  readonly service: Array<string | null>;
  readonly traceId: Array<string | null>;
  readonly bodies: string[];
  readonly index: IndexText;
  #records: LogRecord[] | undefined;

  constructor(columns: LogColumns, records?: LogRecord[]) {
    this.micros = columns.micros;
    this.severity = columns.severity;
    this.service = columns.service;
    this.traceId = columns.traceId;
    this.bodies = columns.bodies;
    this.index = columns.index;
    this.#records = records;
  }

  static fromRecords(records: LogRecord[], micros: number[]): LogBatch {
    const columns = emptyColumns();
    for (let i = 0; i < records.length; i++) pushRecord(columns, records[i], micros[i]);
    return new LogBatch(columns, records);
  }

  get length(): number {
    return this.bodies.length;
  }

  get records(): LogRecord[] {
    return (this.#records ??= this.bodies.map((b) => JSON.parse(b) as LogRecord));
  }
}

/** Deepest nesting of `{`/`[` in a JSON text (brackets inside strings do not count). */
function nestingDepth(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export function emptyColumns(): LogColumns {
  return { micros: [], severity: [], service: [], traceId: [], bodies: [], index: emptyIndexText() };
}

/**
 * Deepest nesting of objects and arrays a stored record may have. Explicit, because the limit
 * recursion would set depends on the thread's stack: a parse worker serialized 6000 levels that
 * the query API then failed to read (500). Elasticsearch's JSON parser stops at 1000 too.
 */
export const MAX_RECORD_DEPTH = 1000;

/** Adds one record; when it throws (a record nested too deeply to store), `columns` is unchanged. */
export function pushRecord(columns: LogColumns, record: LogRecord, micros: number): void {
  const body = JSON.stringify(record);
  // MAX_RECORD_DEPTH levels take at least twice as many characters: shorter bodies need no scan.
  if (body.length > 2 * MAX_RECORD_DEPTH && nestingDepth(body) > MAX_RECORD_DEPTH) {
    throw new Error(`nested more than ${MAX_RECORD_DEPTH} levels deep`);
  }
  columns.micros.push(micros);
  columns.severity.push(record.severity);
  columns.service.push(record.appName ?? null);
  columns.traceId.push(record.traceId ?? null);
  columns.bodies.push(body);
  appendIndexText(columns.index, record.msg, record.traceId);
}
