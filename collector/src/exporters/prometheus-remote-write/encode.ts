// Remote write 1.0 body: prometheus.WriteRequest (proto/remote.proto), snappy block-compressed.
// Spec: https://prometheus.io/docs/specs/prw/remote_write_spec/#protocol — label names sorted,
// `__name__` present, no repeated label names, samples of a series in timestamp order.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { snappyBlock } from '../snappy-block.ts';
import type { FamilyMetadata, Sample } from './samples.ts';

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');

function loadWriteRequest(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync(path.join(PROTO_DIR, 'remote.proto'), { keepCase: true });
  root.resolveAll();
  return root.lookupType('prometheus.WriteRequest');
}

export const WriteRequest = loadWriteRequest();

const METADATA_TYPE: Record<FamilyMetadata['type'], number> = { unknown: 0, counter: 1, gauge: 2, histogram: 3, summary: 5 };

/** Label names that remote write receivers (and Prometheus) accept. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Builds one WriteRequest from samples (external labels added where the series lacks them) and
 * returns it snappy-compressed. Samples with an invalid label name are skipped and counted.
 */
export function encodeWriteRequest(samples: Sample[], metadata: FamilyMetadata[], externalLabels: Record<string, string>): { body: Uint8Array; skipped: number } {
  let skipped = 0;
  const timeseries = [];
  for (const s of samples) {
    const merged: Record<string, string> = { ...externalLabels, ...s.labels };
    const names = Object.keys(merged).sort();
    if (!names.every((n) => LABEL_NAME.test(n)) || !merged.__name__) {
      skipped++;
      continue;
    }
    timeseries.push({
      labels: names.filter((n) => merged[n] !== '').map((name) => ({ name, value: merged[name] })),
      samples: [{ value: s.value, timestamp: s.timestampMs }],
    });
  }
  const md = metadata.map((m) => ({ type: METADATA_TYPE[m.type], metric_family_name: m.name, help: m.help, unit: '' }));
  const raw = WriteRequest.encode({ timeseries, metadata: md }).finish();
  return { body: snappyBlock(raw), skipped };
}
