import { describe, expect, it } from 'vitest';
import { decodeOtlp, OtlpDecodeError } from './decode.ts';
import type { OtlpEncoding, OtlpKind, OtlpRejection } from './decode.ts';
import { otlpLogsToRecords } from './logs.ts';
import { badRequestResponse, exportResponse, statusResponse } from './response.ts';
import type { OtlpHttpResponse } from './response.ts';
import { REQUEST_TYPES, RESPONSE_TYPES, STATUS_TYPE } from './schema.ts';

const FIELD: Record<OtlpKind, string> = { logs: 'rejectedLogRecords', traces: 'rejectedSpans', metrics: 'rejectedDataPoints' };

/** Reads a response body back the way an OTLP client would: protobuf through the schema, JSON as JSON. */
function readExportResponse(kind: OtlpKind, encoding: OtlpEncoding, res: OtlpHttpResponse): { partialSuccess?: Record<string, unknown> } {
  if (encoding === 'json') return JSON.parse(res.body.toString('utf8'));
  const type = RESPONSE_TYPES[kind];
  return type.toObject(type.decode(res.body), { longs: Number }) as { partialSuccess?: Record<string, unknown> };
}

function readStatus(encoding: OtlpEncoding, res: OtlpHttpResponse): { code?: number; message?: string } {
  if (encoding === 'json') return JSON.parse(res.body.toString('utf8'));
  return STATUS_TYPE.toObject(STATUS_TYPE.decode(res.body)) as { code?: number; message?: string };
}

const rejections = (n: number): OtlpRejection[] =>
  Array.from({ length: n }, (_, i) => ({ index: i * 2 + 1, code: i % 2 ? 'PERISCOPE_ERR_OTLP_BAD_SEVERITY' : 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID', message: `problem ${i}` }));

const KINDS: OtlpKind[] = ['logs', 'traces', 'metrics'];
const ENCODINGS: OtlpEncoding[] = ['json', 'protobuf'];
const MATRIX = KINDS.flatMap((kind) => ENCODINGS.map((encoding) => ({ name: `${kind} / ${encoding}`, kind, encoding })));

describe('export responses', () => {
  it.each(MATRIX)('$name: partial success decodes back to the rejected count and a summary', ({ kind, encoding }) => {
    const res = exportResponse(kind, encoding, rejections(3));
    expect(res.status).toBe(200);
    expect(res.contentType).toBe(encoding === 'json' ? 'application/json' : 'application/x-protobuf');
    const body = readExportResponse(kind, encoding, res);
    expect(body.partialSuccess?.[FIELD[kind]]).toBe(3);
    expect(Object.keys(body.partialSuccess ?? {}).sort()).toEqual(['errorMessage', FIELD[kind]].sort());
    const message = body.partialSuccess?.errorMessage as string;
    expect(message).toMatch(/^Rejected 3 /);
    expect(message).toContain('#1 PERISCOPE_ERR_OTLP_BAD_TRACE_ID (problem 0)');
    expect(message).toContain('#3 PERISCOPE_ERR_OTLP_BAD_SEVERITY (problem 1)');
    expect(message).toContain('#5 PERISCOPE_ERR_OTLP_BAD_TRACE_ID (problem 2)');
  });

  it.each(MATRIX)('$name: full success leaves partialSuccess unset', ({ kind, encoding }) => {
    const res = exportResponse(kind, encoding, []);
    expect(res.status).toBe(200);
    expect(res.body.toString('utf8')).toBe(encoding === 'json' ? '{}' : '');
    expect(readExportResponse(kind, encoding, res).partialSuccess).toBeUndefined();
  });

  it.each(ENCODINGS.map((encoding) => ({ name: encoding, encoding })))('[$name] summary names the first 5 rejections only', ({ encoding }) => {
    const message = readExportResponse('logs', encoding, exportResponse('logs', encoding, rejections(8))).partialSuccess?.errorMessage as string;
    expect(message).toContain('#9 ');
    expect(message).not.toContain('#11 ');
    expect(message).toMatch(/; and 3 more\.$/);
  });

  it('a count larger than the listed rejections (metrics: several points per entry): "more" counts problems, not points', () => {
    const one = readExportResponse('metrics', 'protobuf', exportResponse('metrics', 'protobuf', rejections(1), 40));
    expect(one.partialSuccess).toMatchObject({ rejectedDataPoints: 40, errorMessage: expect.stringMatching(/^Rejected 40 data points: #\d+ [^;]*\)\.$/) });
    const seven = readExportResponse('metrics', 'json', exportResponse('metrics', 'json', rejections(7), 70));
    expect(seven.partialSuccess?.errorMessage).toMatch(/^Rejected 70 data points: .*; and 2 more\.$/);
  });

  it.each(ENCODINGS.map((encoding) => ({ name: encoding, encoding })))('[$name] end to end: a request with one bad record', ({ encoding }) => {
    const request = {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 9 }, { severityNumber: 99 }, { severityNumber: 13 }] }] }],
    };
    const body = encoding === 'json' ? Buffer.from(JSON.stringify(request)) : Buffer.from(encodeLogs(request));
    const { records, rejected } = otlpLogsToRecords(decodeOtlp('logs', body, encoding));
    expect(records).toHaveLength(2);
    const res = readExportResponse('logs', encoding, exportResponse('logs', encoding, rejected));
    expect(res.partialSuccess).toEqual({ rejectedLogRecords: 1, errorMessage: expect.stringContaining('#1 PERISCOPE_ERR_OTLP_BAD_SEVERITY') });
  });
});

describe('error responses (google.rpc.Status)', () => {
  it.each(ENCODINGS.map((encoding) => ({ name: encoding, encoding })))('[$name] undecodable body → 400 with Status { code 3, message }', ({ encoding }) => {
    let error: OtlpDecodeError | undefined;
    try {
      decodeOtlp('logs', Buffer.from(encoding === 'json' ? '[1,2]' : '\x0a\x10\x01', 'latin1'), encoding);
    } catch (err) {
      error = err as OtlpDecodeError;
    }
    expect(error).toBeInstanceOf(OtlpDecodeError);
    const res = badRequestResponse(error as OtlpDecodeError, encoding);
    expect(res.status).toBe(400);
    expect(res.contentType).toBe(encoding === 'json' ? 'application/json' : 'application/x-protobuf');
    const status = readStatus(encoding, res);
    expect(status.code).toBe(3); // INVALID_ARGUMENT
    expect(status.message).toMatch(/^PERISCOPE_ERR_OTLP_DECODE: invalid (OTLP\/JSON|protobuf)/);
  });

  it.each([
    { name: '413 → RESOURCE_EXHAUSTED', http: 413, grpc: 8 },
    { name: '415 → INVALID_ARGUMENT', http: 415, grpc: 3 },
    { name: '503 → UNAVAILABLE', http: 503, grpc: 14 },
  ])('$name', ({ http, grpc }) => {
    for (const encoding of ENCODINGS) {
      const res = statusResponse(http, 'nope', encoding);
      expect(res.status).toBe(http);
      expect(readStatus(encoding, res)).toMatchObject({ code: grpc, message: 'nope' });
    }
  });
});

function encodeLogs(request: object): Uint8Array {
  return REQUEST_TYPES.logs.encode(REQUEST_TYPES.logs.fromObject(request)).finish();
}
