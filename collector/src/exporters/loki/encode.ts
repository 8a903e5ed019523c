// Loki push bodies (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs):
//  - protobuf: logproto.PushRequest (proto/push.proto), snappy block-compressed,
//    Content-Type application/x-protobuf — Loki's native and cheapest format;
//  - JSON: {"streams":[{"stream":{labels},"values":[["<ns>","<line>",{metadata}]]}]}.

import { PbfWriter } from 'pbf';
import { snappyBlock } from '../snappy-block.ts';
import { tsNanos, type LabelPair, type LokiEntry } from './entry.ts';

// logproto.PushRequest (proto/push.proto) written field by field with pbf
// (https://github.com/mapbox/pbf): one growing buffer, no intermediate message objects. The
// protobufjs encoder used before builds an object per entry and an operation object per field
// (garbage for the encode worker's GC) and took 1.5–4× as long: 1.7–4.3 µs against 1.0–1.6 µs
// per record of bench/exporters.ts' load (5 metadata pairs). As protobufjs does for proto3, zero
// scalars and empty strings are left out: the bytes are the same (loki.test.ts compares them, and
// decodes them with protobufjs and push.proto).
function writeTimestamp(e: LokiEntry, w: PbfWriter): void {
  // google.protobuf.Timestamp: int64 seconds = 1 (negative: 10-byte two's complement), int32 nanos = 2.
  if (e.seconds !== 0) w.writeVarintField(1, e.seconds);
  if (e.nanos !== 0) w.writeVarintField(2, e.nanos);
}

function writeLabelPair(p: LabelPair, w: PbfWriter): void {
  w.writeStringField(1, p.name);
  if (p.value !== '') w.writeStringField(2, p.value);
}

function writeEntry(e: LokiEntry, w: PbfWriter): void {
  w.writeMessage(1, writeTimestamp, e);
  if (e.line !== '') w.writeStringField(2, e.line);
  for (const p of e.metadata) w.writeMessage(3, writeLabelPair, p);
}

function writeStream(list: LokiEntry[], w: PbfWriter): void {
  w.writeStringField(1, list[0].stream);
  for (const e of list) w.writeMessage(2, writeEntry, e);
}

/** Groups entries by stream, keeping each stream's entries in batch order. */
function byStream(entries: LokiEntry[]): Map<string, LokiEntry[]> {
  const streams = new Map<string, LokiEntry[]>();
  for (const e of entries) {
    const list = streams.get(e.stream);
    if (list) list.push(e);
    else streams.set(e.stream, [e]);
  }
  return streams;
}

/**
 * The writer's memory, grown as needed and kept (per thread) between batches. A fresh PbfWriter
 * starts at 16 bytes and doubles up to the batch's size: each doubling a new zeroed allocation
 * and a copy, and the larger ones fresh pages, each first touch a page fault (`perf` of a Loki
 * drain: 6–8 % of an encode thread). Safe to reuse because snappy reads it synchronously and
 * copies its output out (snappy-block.ts).
 */
let scratch: Uint8Array = new Uint8Array(1 << 16);

export function encodeProtobuf(entries: LokiEntry[]): Uint8Array {
  const w = new PbfWriter(scratch);
  for (const list of byStream(entries).values()) w.writeMessage(1, writeStream, list);
  scratch = w.buf;
  return snappyBlock(w.finish());
}

/**
 * Loki's JSON push body. The label and metadata objects have no prototype: a name `__proto__`
 * (an attribute of that name, made a metadata name as it is) set on a plain object is no
 * property, and the record's value was left out of the push.
 */
export function encodeJson(entries: LokiEntry[]): string {
  const streams = [];
  for (const list of byStream(entries).values()) {
    const stream: Record<string, string> = Object.create(null);
    for (const l of list[0].labels) stream[l.name] = l.value;
    streams.push({
      stream,
      values: list.map((e) => {
        if (e.metadata.length === 0) return [tsNanos(e), e.line];
        const md: Record<string, string> = Object.create(null);
        for (const p of e.metadata) md[p.name] = p.value;
        return [tsNanos(e), e.line, md];
      }),
    });
  }
  return JSON.stringify({ streams });
}
