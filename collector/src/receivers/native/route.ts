import type { FastifyInstance } from 'fastify';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { ERR, PeriscopeError } from '../../errors.ts';
import type { Ingest } from '../../ingest/ingest.ts';
import { normalizeRecord } from '../../records/normalize.ts';

const RECEIVER = 'native';

export interface Rejection {
  index: number;
  code: string;
  message: string;
}

/**
 * Splits an NDJSON body into parsed values; a line that is not JSON becomes a rejection with
 * its index (the position among non-blank lines) instead of failing the request.
 */
export function parseNdjson(text: string): Array<{ ok: true; value: unknown } | { ok: false; message: string }> {
  const out: Array<{ ok: true; value: unknown } | { ok: false; message: string }> = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    if (line) {
      try {
        out.push({ ok: true, value: JSON.parse(line) });
      } catch (err) {
        out.push({ ok: false, message: `malformed JSON: ${(err as Error).message}` });
      }
    }
    start = end + 1;
  }
  return out;
}

/** Body → candidate records. application/json: an array, one object, or (lenient) JSON lines. */
function parseBody(contentType: string, body: Buffer): Array<{ ok: true; value: unknown } | { ok: false; message: string }> {
  // Invalid UTF-8 is replaced (U+FFFD), never fatal: the valid records must survive.
  const text = body.toString('utf8');
  if (contentType.startsWith('application/json')) {
    try {
      const value = JSON.parse(text);
      return Array.isArray(value) ? value.map((v) => ({ ok: true as const, value: v })) : [{ ok: true, value }];
    } catch {
      // Not one JSON document: read it as JSON lines so each bad line is reported by index.
    }
  }
  return parseNdjson(text);
}

/**
 * POST /api/v1/logs — Periscope records (docs/record-format.md) or pino JSON lines, as NDJSON
 * or a JSON array. 200 { accepted, rejected[] } when anything was kept (partial success);
 * 400 with the same shape when nothing was valid. The 2xx is sent after the durable commit.
 */
export function registerNativeLogsRoute(app: FastifyInstance, ingest: Ingest): void {
  app.post('/api/v1/logs', async (request, reply) => {
    const contentType = String(request.headers['content-type'] ?? '').toLowerCase();
    if (!contentType.startsWith('application/json') && !contentType.startsWith('application/x-ndjson')) {
      throw new PeriscopeError(ERR.UNSUPPORTED_MEDIA_TYPE, 'use application/x-ndjson or application/json', 415);
    }
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const items = parseBody(contentType, body);
    const now = Date.now();
    const records: LogRecord[] = [];
    const micros: number[] = [];
    const rejected: Rejection[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (!item.ok) {
        rejected.push({ index: i, code: ERR.BAD_JSON, message: item.message });
        continue;
      }
      const n = normalizeRecord(item.value, now);
      if (n.ok) {
        records.push(n.record);
        micros.push(n.micros);
      } else {
        rejected.push({ index: i, code: n.code, message: n.message });
      }
    }
    for (const r of rejected) ingest.reject(RECEIVER, r.code);
    ingest.append(RECEIVER, records, micros);
    const result = { accepted: records.length, rejected };
    if (records.length === 0 && rejected.length > 0) {
      return reply.code(400).send({ ...result, error: { code: ERR.NO_VALID_RECORDS, message: 'no valid record in the request', details: null } });
    }
    return reply.code(200).send(result);
  });
}
