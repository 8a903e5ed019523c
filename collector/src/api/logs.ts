import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { parseDuration } from '../config/units.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import { clientGone } from '../http/client-gone.ts';
import { parseLogFilter } from '../store/log-filter.ts';
import type { StoreQueries } from '../store/store-queries.ts';
import { csvHeader, csvRow } from './csv.ts';
import { decimalParam } from '../../../alerting/src/decimal-param.ts';

type Query = Record<string, string | undefined>;

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return 100;
  const n = decimalParam(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new PeriscopeError(ERR.BAD_QUERY, 'limit: expected an integer 1–1000', 400, { key: 'limit' });
  return n;
}

/** Search, export and stats over the embedded store (docs/api.md). */
export function registerLogQueryRoutes(app: FastifyInstance, store: StoreQueries): void {
  // The stored bodies go out as they are: no parse and serialise on the ingest thread.
  app.get('/api/v1/logs', async (request, reply) => {
    const query = request.query as Query;
    const filter = parseLogFilter(query, ['limit', 'cursor']);
    const page = await store.page(filter, parseLimit(query.limit), query.cursor || undefined, clientGone(reply));
    reply.type('application/json; charset=utf-8');
    return reply.send(`{"records":[${page.bodies.join(',')}],"nextCursor":${JSON.stringify(page.nextCursor)}}`);
  });

  // Streamed in keyset pages, each read by the query thread: constant memory, no row limit.
  app.get('/api/v1/logs/export', async (request, reply) => {
    const query = request.query as Query;
    const format = query.format ?? 'ndjson';
    if (format !== 'ndjson' && format !== 'csv') throw new PeriscopeError(ERR.BAD_QUERY, 'format: expected ndjson or csv', 400, { key: 'format' });
    const filter = parseLogFilter(query, ['format']);
    const pages = store.bodies(filter, undefined, clientGone(reply));
    // The first page is read before the answer starts, so a query that cannot run (503 timeout,
    // store unavailable) is answered as every endpoint answers it, with its status and
    // Retry-After, not as a connection cut after a 200. A later page's failure can only cut the
    // stream short (its chunked encoding unfinished, which HTTP clients report).
    const first = await pages.next();
    async function* lines() {
      if (format === 'csv') yield csvHeader();
      for (let page = first; !page.done; page = await pages.next()) {
        let chunk = '';
        for (const body of page.value) chunk += format === 'csv' ? csvRow(JSON.parse(body) as LogRecord) : body + '\n';
        yield chunk;
      }
    }
    reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    reply.header('content-disposition', `attachment; filename="periscope-logs.${format}"`);
    return reply.send(Readable.from(lines(), { objectMode: false, highWaterMark: 1 }));
  });

  app.get('/api/v1/logs/stats', async (request, reply) => {
    const query = request.query as Query;
    const interval = query.interval ?? '1m';
    // A bare number is seconds, as Loki's and Prometheus' `step` (interval=60 is a minute).
    const ms = typeof interval === 'string' && /^\d+(\.\d+)?$/.test(interval) ? Number(interval) * 1000 : parseDuration(interval);
    if (!Number.isFinite(ms) || ms < 1000) throw new PeriscopeError(ERR.BAD_QUERY, 'interval: expected a duration of at least 1s, e.g. 1m, 90s or 60 (seconds)', 400, { key: 'interval' });
    const filter = parseLogFilter(query, ['interval']);
    return { interval, buckets: await store.stats(filter, ms * 1000, clientGone(reply)) };
  });
}
