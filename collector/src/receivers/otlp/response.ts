// OTLP/HTTP response bodies, in the encoding of the request.
//
// Spec (https://opentelemetry.io/docs/specs/otlp/#otlphttp-response):
// - Full or partial success: HTTP 200 with Export<Signal>ServiceResponse. For a partial success the
//   server MUST set partial_success with rejected_<signal> and SHOULD explain in error_message; for a
//   full success partial_success is left unset (an empty message: 0 bytes / "{}").
// - Failure: HTTP 4xx/5xx with a google.rpc.Status body; malformed requests get 400 Bad Request.
// - The response uses the Content-Type of the request (application/x-protobuf or application/json).
//
// In JSON, rejected_<signal> (an int64) is written as a JSON number: OTLP/JSON allows numbers or
// strings for 64-bit integers and these counts never come near 2^53.

import type { OtlpDecodeError, OtlpRejection } from './decode.ts';
import { RESPONSE_TYPES, STATUS_TYPE } from './schema.ts';
import type { OtlpEncoding, OtlpKind } from './schema.ts';

export interface OtlpHttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

export const OTLP_CONTENT_TYPES: Readonly<Record<OtlpEncoding, string>> = {
  json: 'application/json',
  protobuf: 'application/x-protobuf',
};

/** The rejected_<signal> field of Export<Signal>PartialSuccess, in lowerCamelCase. */
export const REJECTED_FIELD: Readonly<Record<OtlpKind, string>> = {
  logs: 'rejectedLogRecords',
  traces: 'rejectedSpans',
  metrics: 'rejectedDataPoints',
};

const ITEM_NAME: Readonly<Record<OtlpKind, string>> = {
  logs: 'log record',
  traces: 'span',
  metrics: 'data point',
};

/** How many rejections errorMessage spells out before "… and N more". */
export const SUMMARY_LIMIT = 5;

/**
 * "Rejected 3 log records: #1 PERISCOPE_ERR_OTLP_BAD_TRACE_ID (traceId must be …); #4 …; and 1 more."
 * Indexes are 0-based positions in document order.
 */
export function summarizeRejections(kind: OtlpKind, rejected: readonly OtlpRejection[], rejectedCount = rejected.length): string {
  const noun = ITEM_NAME[kind];
  const shown = rejected.slice(0, SUMMARY_LIMIT).map((r) => `#${r.index} ${r.code} (${clip(r.message)})`);
  const more = rejected.length - shown.length; // problems not spelled out (one may cover several points)
  return `Rejected ${rejectedCount} ${noun}${rejectedCount === 1 ? '' : 's'}: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}.`;
}

/**
 * HTTP 200 body for an export request. `partialSuccess` is set only when something was rejected.
 * `rejectedCount` defaults to the number of rejections (metrics may count several data points per entry).
 */
export function exportResponse(
  kind: OtlpKind,
  encoding: OtlpEncoding,
  rejected: readonly OtlpRejection[] = [],
  rejectedCount: number = rejected.length,
): OtlpHttpResponse {
  const message: Record<string, unknown> = {};
  if (rejectedCount > 0) {
    message.partialSuccess = {
      [REJECTED_FIELD[kind]]: rejectedCount,
      errorMessage: summarizeRejections(kind, rejected, rejectedCount),
    };
  }
  const type = RESPONSE_TYPES[kind];
  const body =
    encoding === 'json'
      ? Buffer.from(JSON.stringify(message), 'utf8')
      : Buffer.from(type.encode(type.fromObject(message)).finish());
  return { status: 200, contentType: OTLP_CONTENT_TYPES[encoding], body };
}

/** gRPC status codes (google.rpc.Code) used for the Status.code of HTTP error bodies. */
export const GRPC_CODES = {
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

function grpcCodeFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
    case 415:
      return GRPC_CODES.INVALID_ARGUMENT;
    case 401:
      return GRPC_CODES.UNAUTHENTICATED;
    case 403:
      return GRPC_CODES.PERMISSION_DENIED;
    case 404:
      return GRPC_CODES.NOT_FOUND;
    case 405:
      return GRPC_CODES.UNIMPLEMENTED;
    case 413:
    case 429:
      return GRPC_CODES.RESOURCE_EXHAUSTED;
    case 500:
      return GRPC_CODES.INTERNAL;
    case 502:
    case 503:
    case 504:
      return GRPC_CODES.UNAVAILABLE;
    default:
      return GRPC_CODES.UNKNOWN;
  }
}

/** An error response: `httpStatus` with a google.rpc.Status { code, message } body. */
export function statusResponse(
  httpStatus: number,
  message: string,
  encoding: OtlpEncoding,
  grpcCode: number = grpcCodeFor(httpStatus),
): OtlpHttpResponse {
  const status = { code: grpcCode, message };
  const body =
    encoding === 'json'
      ? Buffer.from(JSON.stringify(status), 'utf8')
      : Buffer.from(STATUS_TYPE.encode(STATUS_TYPE.fromObject(status)).finish());
  return { status: httpStatus, contentType: OTLP_CONTENT_TYPES[encoding], body };
}

/** HTTP 400 Bad Request for an undecodable body (OtlpDecodeError) or another malformed request. */
export function badRequestResponse(error: OtlpDecodeError | string, encoding: OtlpEncoding): OtlpHttpResponse {
  const message = typeof error === 'string' ? error : `${error.code}: ${error.message}`;
  return statusResponse(400, message, encoding, GRPC_CODES.INVALID_ARGUMENT);
}

function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
