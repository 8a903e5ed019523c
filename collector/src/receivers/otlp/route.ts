import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERR, PeriscopeError, retryLaterSeconds } from '../../errors.ts';
import { serverErrorLog } from '../../http/error-log.ts';
import { httpErrorOf, lingerOnRefusal } from '../../http/server.ts';
import type { Ingest } from '../../ingest/ingest.ts';
import { timestampToMicros } from '../../store/log-filter.ts';
import { decodeOtlp, OtlpDecodeError, type OtlpKind, type OtlpRejection } from './decode.ts';
import { otlpLogsToRecords } from './logs.ts';
import { badRequestResponse, exportResponse, statusResponse, type OtlpHttpResponse } from './response.ts';
import type { NormalizedRequestByKind } from './decode.ts';

/** What a signal handler reports back: rejections (partial success) and, for metrics, a count. */
export interface OtlpHandled {
  rejected: OtlpRejection[];
  rejectedCount?: number;
}

function contentTypeOf(request: FastifyRequest): string {
  return String(request.headers['content-type'] ?? '').toLowerCase();
}

/** The request's encoding, which the response uses too. */
function encodingOf(contentType: string): 'json' | 'protobuf' {
  return contentType.startsWith('application/json') ? 'json' : 'protobuf';
}

function send(reply: FastifyReply, res: OtlpHttpResponse, retryAfterSeconds?: number) {
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(res.status).header('content-type', res.contentType).send(res.body);
}

const ACCEPTED_TYPES = 'OTLP/HTTP accepts application/x-protobuf or application/json';

/**
 * Errors before the handler (body over the limit, undecodable gzip, a content type no parser
 * takes) as OTLP/HTTP answers them: a google.rpc.Status, protobuf for a protobuf request, else
 * JSON (https://opentelemetry.io/docs/specs/otlp/#failures-1), not the API's error body.
 * A request refused for its body (413, 415, 400) is counted by `refused`.
 */
function sendOtlpError(error: Error, request: FastifyRequest, reply: FastifyReply, refused: (reason: string) => void) {
  const e = httpErrorOf(error as PeriscopeError, request);
  // A refusal of the in-flight bound (503 OVERLOADED) is counted and logged where it is decided.
  if (e.statusCode >= 500 && e.code !== ERR.OVERLOADED) serverErrorLog(request.server).log(error);
  else if (e.statusCode === 413 || e.statusCode === 415 || e.statusCode === 400) refused(e.code);
  lingerOnRefusal(request, reply);
  const type = contentTypeOf(request);
  const encoding = type.startsWith('application/x-protobuf') || type.startsWith('application/protobuf') ? 'protobuf' : 'json';
  // Fastify's own 415 (no parser for the type) gets the OTLP wording; ours (content-encoding) keeps its message.
  const message = e.statusCode === 415 && !(error instanceof PeriscopeError) ? `${ACCEPTED_TYPES} (got ${type || 'none'})` : e.message;
  return send(reply, statusResponse(e.statusCode, message, encoding), e.retryAfterSeconds);
}

/** 429/503 + Retry-After for an error the client should retry later (overload, store failure); rethrows any other. */
function sendRetryLater(reply: FastifyReply, err: unknown, encoding: 'json' | 'protobuf') {
  const later = retryLaterSeconds(err);
  if (later === undefined) throw err;
  const e = err as PeriscopeError;
  return send(reply, statusResponse(e.statusCode, e.message, encoding), later);
}

/**
 * Shared OTLP/HTTP handling for one signal (https://opentelemetry.io/docs/specs/otlp/#otlphttp):
 * protobuf or JSON by Content-Type (the response uses the same), gzip decoded by the HTTP layer,
 * 400 + google.rpc.Status for undecodable bodies, 200 with partialSuccess for rejected items,
 * 429/503 + Retry-After when the collector cannot take the data now (the client retries).
 */
export function registerOtlpRoute<K extends OtlpKind>(
  app: FastifyInstance,
  path: string,
  kind: K,
  handle: (request: NormalizedRequestByKind[K]) => OtlpHandled,
  /** Counts a request refused whole for its body (413, 415, 400 undecodable), by error code. */
  refused: (reason: string) => void,
  /** Throws when the signal must be refused now; runs before the body is read. */
  admit?: () => void,
): void {
  const onRequest = admit && (async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      admit();
    } catch (err) {
      return sendRetryLater(reply, err, encodingOf(contentTypeOf(request)));
    }
  });
  // Other methods: 405 with Allow, as the OTel Collector answers (Fastify's 404 reads as a wrong URL).
  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE'],
    url: path,
    handler: async (_request: FastifyRequest, reply: FastifyReply) => send(reply.header('allow', 'POST'), statusResponse(405, `${path} accepts POST only`, 'json')),
  });
  const errorHandler = (error: Error, request: FastifyRequest, reply: FastifyReply) => sendOtlpError(error, request, reply, refused);
  app.post(path, { errorHandler, ...(onRequest ? { onRequest } : {}) }, async (request: FastifyRequest, reply) => {
    const contentType = contentTypeOf(request);
    const encoding = encodingOf(contentType);
    if (encoding === 'protobuf' && !contentType.startsWith('application/x-protobuf') && !contentType.startsWith('application/protobuf')) {
      refused(ERR.UNSUPPORTED_MEDIA_TYPE);
      return send(reply, statusResponse(415, `${ACCEPTED_TYPES} (got ${contentType})`, 'json'));
    }
    let decoded: NormalizedRequestByKind[K];
    try {
      decoded = decodeOtlp(kind, (request.body as Buffer | undefined) ?? Buffer.alloc(0), encoding);
    } catch (err) {
      if (err instanceof OtlpDecodeError) {
        refused(err.code);
        return send(reply, badRequestResponse(err, encoding));
      }
      throw err;
    }
    try {
      const { rejected, rejectedCount } = handle(decoded);
      return send(reply, exportResponse(kind, encoding, rejected, rejectedCount ?? rejected.length));
    } catch (err) {
      return sendRetryLater(reply, err, encoding);
    }
  });
}

/** POST /v1/logs — OTLP logs into the durable log (mapping: docs/record-format.md). */
export function registerOtlpLogsRoute(app: FastifyInstance, ingest: Ingest): void {
  registerOtlpRoute(app, '/v1/logs', 'logs', (request) => {
    const { records, rejected } = otlpLogsToRecords(request);
    for (const r of rejected) ingest.reject('otlp', r.code);
    ingest.append('otlp', records, records.map((r) => timestampToMicros(r.timestamp)));
    return { rejected };
  }, (reason) => ingest.refuse('otlp', reason), () => ingest.admit('otlp'));
}
