// Loads our transcription of the OTLP .proto files (see proto/README.md) with protobufjs, once, at import time.
// No generated code: the reflection types below drive both protobuf decoding and the OTLP/JSON walker.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Type } from 'protobufjs';

export type OtlpKind = 'logs' | 'traces' | 'metrics';
export type OtlpEncoding = 'json' | 'protobuf';

export const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');

export const PROTO_FILES = [
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'google/rpc/status.proto',
] as const;

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Imports are written relative to the proto root ("opentelemetry/proto/common/v1/common.proto").
  // google/protobuf/*.proto resolve to the copies bundled inside protobufjs.
  root.resolvePath = (_origin: string, target: string) =>
    target.startsWith('google/protobuf/') || path.isAbsolute(target) ? target : path.join(PROTO_DIR, target);
  root.loadSync(PROTO_FILES.map((f) => path.join(PROTO_DIR, f)), { keepCase: false });
  root.resolveAll();
  return root;
}

/** The protobufjs root holding every OTLP message type (field names in lowerCamelCase). */
export const otlpRoot: protobuf.Root = loadRoot();

export const REQUEST_TYPES: Readonly<Record<OtlpKind, Type>> = {
  logs: otlpRoot.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
  traces: otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
  metrics: otlpRoot.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
};

export const RESPONSE_TYPES: Readonly<Record<OtlpKind, Type>> = {
  logs: otlpRoot.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse'),
  traces: otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
  metrics: otlpRoot.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
};

/** google.rpc.Status: the body of OTLP/HTTP 4xx/5xx responses. */
export const STATUS_TYPE: Type = otlpRoot.lookupType('google.rpc.Status');
