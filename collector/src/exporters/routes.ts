import type { FastifyInstance } from 'fastify';
import { ERR, PeriscopeError } from '../errors.ts';
import { queryParams, type RawQuery } from '../http/query-params.ts';
import { parseDuration } from '../config/units.ts';
import { parseTimeRange } from '../store/log-filter.ts';
import type { LetterSelection } from './dead-letter.ts';
import type { LetterPageQuery } from './dead-letter-page.ts';
import type { Exporters } from './exporters.ts';
import { decimalParam } from '../../../alerting/src/decimal-param.ts';

const MAX_LIMIT = 1000;

function parseLimit(value: unknown, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  // a query string's text (decimal digits only), or a JSON body's number
  const n = typeof value === 'string' ? decimalParam(value) : typeof value === 'number' ? value : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw new PeriscopeError(ERR.BAD_QUERY, `limit: expected an integer 1–${MAX_LIMIT}`, 400, { key: 'limit' });
  return n;
}

/** A dead-letter page cursor is the id of the last letter of the previous page (ids are never reused). */
function parseCursor(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new PeriscopeError(ERR.BAD_CURSOR, 'cursor: not a nextCursor returned by this API', 400, { key: 'cursor' });
  }
  return n;
}

/**
 * The HTTP status letters were refused with (0: by the exporter's own checks, before sending).
 * Letters refused again stay where they are, oldest first: without it, a replay after fixing
 * credentials took the oldest letters (a backend's lasting refusals, such as Loki's "timestamp too
 * old") again and again and never reached the letters the fix was for.
 */
function parseStatus(value: unknown, from: 'query' | 'json'): number | undefined {
  if (value === undefined || (from === 'query' && value === '')) return undefined;
  const n = from === 'query' && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 599) {
    throw new PeriscopeError(ERR.BAD_QUERY, 'status: expected the HTTP status letters were refused with (0–599; 0: refused by the exporter before sending)', 400, { key: 'status' });
  }
  return n;
}

/** A configured exporter, or one removed from the config whose letters are still kept. */
function checkExporter(exporters: Exporters, name: unknown): string | undefined {
  if (name === undefined || name === '') return undefined;
  if (typeof name !== 'string' || (!exporters.names.includes(name) && exporters.deadLetters.total(name) === 0)) {
    throw new PeriscopeError(ERR.BAD_QUERY, `exporter: no exporter named ${JSON.stringify(name)}; configured: ${exporters.names.join(', ') || '(none)'}`, 400, { key: 'exporter' });
  }
  return name;
}

/** The filters every dead-letter endpoint takes besides `exporter` and `status`. */
const FILTER_KEYS = ['reason', 'service', 'start', 'end', 'since'] as const;
const MAX_TEXT = 1000;

function text(value: unknown, key: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > MAX_TEXT) throw new PeriscopeError(ERR.BAD_QUERY, `${key}: expected a text of up to ${MAX_TEXT} characters`, 400, { key });
  return value;
}

/**
 * `reason` (a text the reason contains, case-insensitive: a summary's `cause`),
 * `service` (appName; a span's service.name), and the record's time as the log API takes it:
 * `start` (inclusive) and `end` (exclusive), RFC 3339 or epoch, or `since` (a duration such as
 * `1h`, Loki's: the `since` before `end`, or before now).
 */
function parseFilters(source: Record<string, unknown>): Omit<LetterSelection, 'exporter' | 'status' | 'ids' | 'afterId'> {
  // In a replay's JSON body an epoch time may come as a number.
  const time = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);
  const start = text(time(source.start), 'start');
  const end = text(time(source.end), 'end');
  const since = text(source.since, 'since');
  const range = parseTimeRange(start, end);
  if (since !== undefined) {
    if (start !== undefined) throw new PeriscopeError(ERR.BAD_QUERY, 'since: give start or since, not both', 400, { key: 'since' });
    const ms = parseDuration(since);
    if (!Number.isFinite(ms)) throw new PeriscopeError(ERR.BAD_QUERY, 'since: expected a duration such as 30m, 1h, 2d', 400, { key: 'since' });
    range.startMicros = (range.endMicros ?? Date.now() * 1000) - ms * 1000;
  }
  return { reason: text(source.reason, 'reason'), service: text(source.service, 'service'), ...range };
}

/**
 * GET  /api/v1/deadletter?exporter=&status=&limit=&cursor=   dead letters, oldest first, with the
 *      backend's reason; `nextCursor` (null on the last page) is the `cursor` of the next page.
 *      `status` (here, in a replay and a DELETE) picks the letters refused with that HTTP status;
 *      so do `reason`, `service`, `start`, `end`, `since` (parseFilters): a bad deploy leaves tens of
 *      thousands of letters of a few causes, and one cause is replayed or discarded at a time.
 * GET  /api/v1/deadletter/summary?(same filters)   { total, causes: [{exporter, status, cause,
 *      count, example, firstAt, lastAt}] }, the largest first.
 * POST /api/v1/deadletter/replay {exporter?, status?, reason?, service?, start?, end?, since?, ids?, limit?}
 *      re-sends them (a few attempts each); delivered ones are removed, the others keep their new
 *      reason. Answer: { replayed, failed: [{id, exporter, reason}], remaining, notFound? (ids
 *      that name no letter) }. An unknown key is a 400 (a typo must not replay everything).
 * DELETE /api/v1/deadletter?exporter=&status=&ids=1,2   discards letters you will not replay (e.g. of an
 *      exporter removed from the config); `exporter` or `ids` is required. Answer: { deleted, remaining,
 *      replaying? } (`remaining` of `exporter` when given; `replaying`: letters a replay in progress
 *      is sending, left to it). An error part way answers `details.deleted`: the slices committed before it.
 * GET  /health/dependencies  each backend: up, degraded (last error, since when) or down (circuit
 *      open). Always 200: a backend being down does not make the collector unhealthy.
 */
const REPLAY_KEYS = ['exporter', 'status', ...FILTER_KEYS, 'ids', 'limit'];
const REPLAY_BODY = `body: expected a JSON object {${REPLAY_KEYS.map((k) => `${k}?`).join(', ')}}`;

/**
 * `readLetters`: a page of GET /api/v1/deadletter as its JSON bytes (dead-letter-page.ts), read
 * by a query thread (StoreQueries.deadLetters) so a page of 16 MiB does not hold up ingest.
 */
export function registerExporterRoutes(app: FastifyInstance, exporters: Exporters, readLetters: (query: LetterPageQuery) => Promise<Uint8Array>): void {
  app.get('/api/v1/deadletter', async (request, reply) => {
    const q = queryParams(request.query as RawQuery, ['exporter', 'status', ...FILTER_KEYS, 'limit', 'cursor']);
    const exporter = checkExporter(exporters, q.exporter);
    const status = parseStatus(q.status, 'query');
    const filters = parseFilters(q);
    const limit = parseLimit(q.limit, 100);
    const afterId = parseCursor(q.cursor);
    const answer = await readLetters({ exporter, status, ...filters, afterId, limit });
    return reply.type('application/json; charset=utf-8').send(Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength));
  });

  app.get('/api/v1/deadletter/summary', async (request) => {
    const q = queryParams(request.query as RawQuery, ['exporter', 'status', ...FILTER_KEYS]);
    const selection = { exporter: checkExporter(exporters, q.exporter), status: parseStatus(q.status, 'query'), ...parseFilters(q) };
    const causes = exporters.deadLetters.summary(selection);
    return { total: causes.reduce((n, c) => n + c.count, 0), causes };
  });

  app.post('/api/v1/deadletter/replay', async (request, reply) => {
    let body: Record<string, unknown> = {};
    const raw = request.body as Buffer | undefined;
    if (raw && raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new PeriscopeError(ERR.BAD_JSON, REPLAY_BODY, 400);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new PeriscopeError(ERR.BAD_JSON, REPLAY_BODY, 400);
    }
    // A misspelt key must not widen the replay to every exporter's letters.
    for (const key of Object.keys(body)) {
      if (!REPLAY_KEYS.includes(key)) throw new PeriscopeError(ERR.BAD_QUERY, `${key}: unknown key (use ${REPLAY_KEYS.join(', ')})`, 400, { key });
    }
    const exporter = checkExporter(exporters, body.exporter);
    const status = parseStatus(body.status, 'json');
    const filters = parseFilters(body);
    let ids: number[] | undefined;
    if (body.ids !== undefined) {
      if (!Array.isArray(body.ids) || !body.ids.every((id) => Number.isSafeInteger(id)) || body.ids.length > MAX_LIMIT) {
        throw new PeriscopeError(ERR.BAD_QUERY, `ids: expected an array of up to ${MAX_LIMIT} dead-letter ids`, 400, { key: 'ids' });
      }
      ids = body.ids as number[];
    }
    const limit = parseLimit(body.limit, MAX_LIMIT);
    const letters = exporters.deadLetters.list({ exporter, status, ...filters, ids, limit });
    // ids that name no letter (of that exporter, with that status and filters), so a typo is not a silent "replayed: 0"
    let notFound: number[] | undefined;
    if (ids) {
      const known = new Set(exporters.deadLetters.list({ exporter, status, ...filters, ids, limit: ids.length }).map((l) => l.id));
      notFound = ids.filter((id) => !known.has(id));
    }
    // A client that goes away before the answer ends the replay (its letters keep their refusal).
    // The response's close, not the request's: the request closes as soon as its body is read.
    const abort = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const report = await exporters.replay(letters, abort.signal);
    return { ...report, remaining: exporters.deadLetters.total(exporter), ...(notFound ? { notFound } : {}) };
  });

  app.delete('/api/v1/deadletter', async (request) => {
    const q = queryParams(request.query as RawQuery, ['exporter', 'status', ...FILTER_KEYS, 'ids']);
    const exporter = checkExporter(exporters, q.exporter);
    const status = parseStatus(q.status, 'query');
    const filters = parseFilters(q);
    let ids: number[] | undefined;
    if (q.ids !== undefined) {
      ids = q.ids.split(',').map(Number);
      if (ids.length > MAX_LIMIT || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
        throw new PeriscopeError(ERR.BAD_QUERY, `ids: expected up to ${MAX_LIMIT} dead-letter ids, comma-separated`, 400, { key: 'ids' });
      }
    }
    // never everything by accident: say whose letters, or which
    if (!exporter && !ids) throw new PeriscopeError(ERR.BAD_QUERY, 'exporter or ids: say which letters to discard', 400, { key: 'exporter' });
    // Counted as each slice is committed: a slice failing after others leaves those discarded.
    let deleted = 0;
    let replaying = 0;
    try {
      ({ replaying } = await exporters.discard({ exporter, status, ...filters, ids }, (n) => (deleted += n)));
    } catch (err) {
      // The slices committed before stay discarded: the error says how many (a bare 500 left a
      // script to guess whether anything was done), and keeps its code and status.
      const e = err instanceof PeriscopeError ? err : undefined;
      throw new PeriscopeError(
        e?.code ?? ERR.INTERNAL,
        `discarding dead letters failed after ${deleted} were discarded (details.deleted; the others are kept): ${(err as Error)?.message ?? String(err)}`,
        e?.statusCode ?? 500,
        { ...(e?.details && typeof e.details === 'object' ? e.details : {}), deleted },
        e?.retryAfterSeconds,
      );
    } finally {
      // Records given up for good on an operator's word: the collector's log keeps which and how many.
      if (deleted > 0) {
        const picked = Object.fromEntries(Object.entries({ exporter, status, ...filters, ids: ids?.join(',') }).filter(([, v]) => v !== undefined));
        request.log.warn({ ...picked, deleted, client: request.ip }, `${deleted} dead letter(s) discarded (DELETE /api/v1/deadletter): not delivered to their backend`);
      }
    }
    // of `exporter` when given, as replay's; `replaying`: picked but left to a replay sending them
    return { deleted, remaining: exporters.deadLetters.total(exporter), ...(replaying > 0 ? { replaying } : {}) };
  });

  app.get('/health/dependencies', async () => {
    const dependencies = exporters.dependencies();
    const statuses = Object.values(dependencies).map((d) => d.status);
    const status = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'up';
    return { status, dependencies };
  });
}
