import type { FastifyInstance } from 'fastify';
import { ERR, PeriscopeError } from '../../errors.ts';
import type { Ingest } from '../../ingest/ingest.ts';
import { LogBatch } from '../../ingest/log-batch.ts';
import type { ParsePool } from './parse-pool.ts';

const RECEIVER = 'native';

/**
 * POST /api/v1/logs — Periscope records (docs/record-format.md) or pino JSON lines, as NDJSON
 * or a JSON array. 200 { accepted, rejected[] } when anything was kept (partial success);
 * 400 with the same shape when nothing was valid. The 2xx is sent after the durable commit.
 */
export function registerNativeLogsRoute(app: FastifyInstance, ingest: Ingest, parser: ParsePool): void {
  // Refused before the body is read: at the bound, a 429 costs no parsing (the body is discarded).
  const onRequest = async () => ingest.admit(RECEIVER);
  app.post('/api/v1/logs', { onRequest }, async (request, reply) => {
    const contentType = String(request.headers['content-type'] ?? '').toLowerCase();
    if (!contentType.startsWith('application/json') && !contentType.startsWith('application/x-ndjson')) {
      throw new PeriscopeError(ERR.UNSUPPORTED_MEDIA_TYPE, 'use application/x-ndjson or application/json', 415);
    }
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const { columns, rejected } = await parser.parse(contentType, body, Date.now());
    for (const r of rejected) ingest.reject(RECEIVER, r.code);
    const logs = new LogBatch(columns);
    ingest.appendBatch(RECEIVER, logs);
    const result = { accepted: logs.length, rejected };
    if (logs.length === 0 && rejected.length > 0) {
      return reply.code(400).send({ ...result, error: { code: ERR.NO_VALID_RECORDS, message: 'no valid record in the request', details: null } });
    }
    return reply.code(200).send(result);
  });
}
