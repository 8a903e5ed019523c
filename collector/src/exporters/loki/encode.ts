// Loki push bodies (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs):
//  - protobuf: logproto.PushRequest (proto/push.proto), snappy block-compressed,
//    Content-Type application/x-protobuf — Loki's native and cheapest format;
//  - JSON: {"streams":[{"stream":{labels},"values":[["<ns>","<line>",{metadata}]]}]}.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { compressSync } from 'snappy';
import { tsNanos, type LokiEntry } from './entry.ts';

const PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto', 'push.proto');

function loadPushRequest(): protobuf.Type {
  const root = new protobuf.Root();
  // google/protobuf/timestamp.proto resolves to the copy bundled inside protobufjs.
  root.resolvePath = (_origin: string, target: string) => (target.startsWith('google/protobuf/') ? target : path.resolve(path.dirname(PROTO), target));
  root.loadSync(PROTO, { keepCase: true });
  root.resolveAll();
  return root.lookupType('logproto.PushRequest');
}

export const PushRequest = loadPushRequest();

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

export function encodeProtobuf(entries: LokiEntry[]): Uint8Array {
  const streams = [];
  for (const [labels, list] of byStream(entries)) {
    const out = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      out[i] = { timestamp: { seconds: e.seconds, nanos: e.nanos }, line: e.line, structuredMetadata: e.metadata };
    }
    streams.push({ labels, entries: out });
  }
  return compressSync(PushRequest.encode({ streams }).finish());
}

export function encodeJson(entries: LokiEntry[]): string {
  const streams = [];
  for (const list of byStream(entries).values()) {
    const stream: Record<string, string> = {};
    for (const l of list[0].labels) stream[l.name] = l.value;
    streams.push({
      stream,
      values: list.map((e) => {
        if (e.metadata.length === 0) return [tsNanos(e), e.line];
        const md: Record<string, string> = {};
        for (const p of e.metadata) md[p.name] = p.value;
        return [tsNanos(e), e.line, md];
      }),
    });
  }
  return JSON.stringify({ streams });
}
