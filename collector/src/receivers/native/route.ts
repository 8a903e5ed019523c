import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpErrorOf } from '../../http/server.ts';
import { ERR, PeriscopeError } from '../../errors.ts';
import type { Ingest } from '../../ingest/ingest.ts';
import { parseIdempotencyKey, type IdempotencyKeys, type KeyClaim } from '../../ingest/idempotency-keys.ts';
import { emptyColumns, LogBatch } from '../../ingest/log-batch.ts';
import type { ParsePool } from './parse-pool.ts';
import type { ParsedLogs } from './parse.ts';

const RECEIVER = 'native';

/** What a parse result holds once its records are appended (see appendAndRelease). */
const RELEASED = emptyColumns();

/**
 * Appends the parsed records, then lets go of them. `parsed` is the value of the parse task's
 * promise, which (like the request's async frame) has often been promoted to V8's old generation
 * while the request waited for the parse worker; an old object's reference keeps a young one
 * alive through every young-generation GC until the next full one. Every batch was then copied
 * and promoted, about 600 bytes per record: with --trace-gc-nvp, 85 % of what the ingest thread
 * allocated was promoted and its scavenges took an eighth of its time; with the columns let go
 * here, 0.2 % (https://v8.dev/blog/trash-talk explains the generations).
 */
function appendAndRelease(ingest: Ingest, parsed: ParsedLogs, alsoCommit: (() => void) | undefined): void {
  const logs = new LogBatch(parsed.columns);
  parsed.columns = RELEASED;
  ingest.appendBatch(RECEIVER, logs, alsoCommit);
}

/**
 * POST /api/v1/logs — Periscope records (docs/record-format.md) or pino JSON lines, as NDJSON
 * or a JSON array. 200 { accepted, rejected[], rejectedCount? } when anything was kept (partial success);
 * 400 with the same shape when nothing was valid. The 2xx is sent after the durable commit.
 * With an `Idempotency-Key` header, a retry of a committed request gets the first answer again
 * (with `Idempotent-Replayed: true`) and stores nothing (idempotency-keys.ts).
 */
export function registerNativeLogsRoute(app: FastifyInstance, ingest: Ingest, parser: ParsePool, keys: IdempotencyKeys): void {
  // Refused before the body is read: at the bound, a 429 costs no parsing (the body is discarded).
  const onRequest = async () => ingest.admit(RECEIVER);
  // Whole requests refused for their body (413, 415, 400 undecodable) are counted here; 429 and
  // 503 are counted where they are decided (Ingest).
  const onError = async (request: FastifyRequest, _reply: FastifyReply, error: FastifyError) => {
    const e = httpErrorOf(error, request);
    if (e.statusCode === 413 || e.statusCode === 415 || e.code === ERR.BAD_ENCODING) ingest.refuse(RECEIVER, e.code);
  };
  app.post('/api/v1/logs', { onRequest, onError }, async (request, reply) => {
    const contentType = String(request.headers['content-type'] ?? '').toLowerCase();
    if (!contentType.startsWith('application/json') && !contentType.startsWith('application/x-ndjson')) {
      throw new PeriscopeError(ERR.UNSUPPORTED_MEDIA_TYPE, 'use application/x-ndjson or application/json', 415);
    }
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    // Its lines one by one, to tell a key given twice (light-my-request's injected requests have
    // no headersDistinct: their joined header is read instead). headersDistinct is built from all
    // the request's headers when first read: only for a request that has the header.
    const joined = request.headers['idempotency-key'];
    const key = joined === undefined ? undefined : parseIdempotencyKey(request.raw.headersDistinct?.['idempotency-key'] ?? joined);
    let claim: KeyClaim | undefined;
    if (key !== undefined) {
      const found = keys.claim(key, body);
      if ('replay' in found) {
        ingest.replayed(RECEIVER);
        return reply.code(found.replay.status).header('idempotent-replayed', 'true').type('application/json; charset=utf-8').send(found.replay.answer);
      }
      claim = found.claim;
    }
    try {
      const parsed = await parser.parse(contentType, body, Date.now());
      const { rejected, rejectedCount } = parsed;
      for (const [code, count] of Object.entries(parsed.rejectedByCode)) ingest.reject(RECEIVER, code, count);
      const accepted = parsed.columns.bodies.length;
      // rejectedCount only when the list is cut (MAX_LISTED_REJECTIONS), so the usual answer keeps its shape.
      const result = rejectedCount > rejected.length ? { accepted, rejected, rejectedCount } : { accepted, rejected };
      if (accepted === 0 && rejectedCount > 0) {
        return reply.code(400).send({ ...result, error: { code: ERR.NO_VALID_RECORDS, message: 'no valid record in the request', details: null } });
      }
      const answer = JSON.stringify(result);
      const committed = claim;
      appendAndRelease(ingest, parsed, committed && (() => keys.commit(committed, { status: 200, answer })));
      return reply.code(200).type('application/json; charset=utf-8').send(answer);
    } finally {
      if (claim) keys.release(claim);
    }
  });
}
