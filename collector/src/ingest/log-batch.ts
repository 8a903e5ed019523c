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

export function emptyColumns(): LogColumns {
  return { micros: [], severity: [], service: [], traceId: [], bodies: [], index: emptyIndexText() };
}

/** Adds one record; when it throws (a record nested too deeply to serialize), `columns` is unchanged. */
export function pushRecord(columns: LogColumns, record: LogRecord, micros: number): void {
  const body = JSON.stringify(record);
  columns.micros.push(micros);
  columns.severity.push(record.severity);
  columns.service.push(record.appName ?? null);
  columns.traceId.push(record.traceId ?? null);
  columns.bodies.push(body);
  appendIndexText(columns.index, record.msg, record.traceId);
}
