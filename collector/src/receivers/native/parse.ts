import { isUtf8 } from 'node:buffer';
import { parseJsonExact } from '../../../../sdk/src/exact-json.ts';
import { ERR } from '../../errors.ts';
import { emptyColumns, pushRecord, type LogColumns } from '../../ingest/log-batch.ts';
import { normalizeRecord } from '../../records/normalize.ts';
import { ndjsonChunks } from './ndjson-chunks.ts';

export interface Rejection {
  index: number;
  code: string;
  message: string;
}

/**
 * Rejections listed one by one (with their messages) per request; the others are only counted.
 * A body of 2 million lines of plain text listed them all: a 250 MB answer, 1.7 GB of collector
 * memory and 14 s of the ingest thread to write it, at the 16 MiB body limit a crash.
 */
export const MAX_LISTED_REJECTIONS = 1000;

/** One request body, parsed and normalised: the records as store columns, and what was refused. */
export interface ParsedLogs {
  columns: LogColumns;
  /** The first MAX_LISTED_REJECTIONS rejections, in index order. */
  rejected: Rejection[];
  /** Every rejection (listed or not), by code. */
  rejectedByCode: Record<string, number>;
  rejectedCount: number;
}

/** A parsed value; `invalidUtf8` when bytes of its line (its array element) were not UTF-8 and became U+FFFD. */
type Item = { ok: true; value: unknown; invalidUtf8?: true } | { ok: false; message: string };

/**
 * Splits an NDJSON body into parsed values; a line that is not JSON becomes a rejection with
 * its index (the position among non-blank lines) instead of failing the request.
 */
export function parseNdjson(text: string, out: Item[] = []): Item[] {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    if (line) {
      try {
        out.push({ ok: true, value: parseJsonExact(line) });
      } catch (err) {
        out.push({ ok: false, message: `malformed JSON: ${(err as Error).message}` });
      }
    }
    start = end + 1;
  }
  return out;
}

/** parseNdjson over the bytes of a body, decoded a chunk at a time (ndjson-chunks.ts). */
export function parseNdjsonBytes(body: Buffer): Item[] {
  const out: Item[] = [];
  for (const text of ndjsonChunks(body)) parseNdjson(text, out);
  return out;
}

/**
 * The items of an NDJSON body that is not all UTF-8, each flagged when its own line is not: one
 * line at a time, as parseNdjson reads them (its index counts the non-blank lines).
 */
function parseNdjsonFlagged(body: Buffer): Item[] {
  const out: Item[] = [];
  for (let start = 0; start < body.length; ) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    const before = out.length;
    parseNdjson(body.toString('utf8', start, end), out);
    if (out.length > before && !isUtf8(body.subarray(start, end))) {
      const item = out[out.length - 1];
      if (item.ok) item.invalidUtf8 = true;
    }
    start = end + 1;
  }
  return out;
}

/** Body → candidate records. application/json: an array, one object, or (lenient) JSON lines. */
function parseBody(contentType: string, body: Uint8Array): Item[] {
  // Invalid UTF-8 is replaced (U+FFFD), never fatal: the valid records must survive. The records
  // it was in say so (attributes.invalidUtf8, as syslog's), so that a U+FFFD in them is told
  // from one the sender wrote. isUtf8 (simdutf) costs little; a body that fails it is read again
  // line by line to tell which records.
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const utf8 = isUtf8(bytes);
  if (contentType.startsWith('application/json')) {
    const items = parseJsonBody(bytes);
    // Elements of one document cannot be told apart by their bytes: those holding a U+FFFD are flagged.
    if (!utf8) for (const item of items) if (item.ok && JSON.stringify(item.value)?.includes('\uFFFD')) item.invalidUtf8 = true;
    return items;
  }
  return utf8 ? parseNdjsonBytes(bytes) : parseNdjsonFlagged(bytes);
}

/** An application/json body: an array, one object, or (lenient) JSON lines. */
function parseJsonBody(bytes: Buffer): Item[] {
  // A leading BOM (Windows tools write one) is no part of the document: RFC 8259 §8.1 lets a
  // parser ignore it, as the OTLP/JSON receiver and NDJSON bodies do; JSON.parse refuses it.
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    const value = parseJsonExact(text);
    return Array.isArray(value) ? value.map((v) => ({ ok: true as const, value: v })) : [{ ok: true, value }];
  } catch (err) {
    // A broken array is one broken document: its lines are not records (a pretty-printed
    // array read line by line kept some elements and reported the rest by line number).
    if (text.trimStart().startsWith('[')) return [{ ok: false, message: `malformed JSON array: ${(err as Error).message}` }];
    // Otherwise read it as JSON lines so each bad line is reported by index.
  }
  return parseNdjson(text);
}

/**
 * The whole CPU work of POST /api/v1/logs short of the store write: JSON → normalised records
 * (docs/record-format.md) → store columns with each record's canonical JSON. Pure, so it runs
 * the same on the ingest thread or in a parse worker (parse-pool.ts).
 */
export function parseLogBatch(contentType: string, body: Uint8Array, nowMs: number): ParsedLogs {
  const items = parseBody(contentType, body);
  const columns = emptyColumns();
  const parsed: ParsedLogs = { columns, rejected: [], rejectedByCode: {}, rejectedCount: 0 };
  const reject = (index: number, code: string, message: string) => {
    if (parsed.rejected.length < MAX_LISTED_REJECTIONS) parsed.rejected.push({ index, code, message });
    parsed.rejectedByCode[code] = (parsed.rejectedByCode[code] ?? 0) + 1;
    parsed.rejectedCount++;
  };
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item.ok) {
      reject(i, ERR.BAD_JSON, item.message);
      continue;
    }
    const n = normalizeRecord(item.value, nowMs);
    if (!n.ok) {
      reject(i, n.code, n.message);
      continue;
    }
    if (item.invalidUtf8) n.record.attributes = { ...n.record.attributes, invalidUtf8: true };
    try {
      pushRecord(columns, n.record, n.micros);
    } catch (err) {
      // deeper than MAX_RECORD_DEPTH (log-batch.ts), or than JSON.stringify's recursion can go
      reject(i, ERR.BAD_RECORD, `record: cannot be stored (${(err as Error).message}); nest attributes less deeply`);
    }
  }
  return parsed;
}
