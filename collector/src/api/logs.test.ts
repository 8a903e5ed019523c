import { describe, expect, it } from 'vitest';
import { ERR, PeriscopeError } from '../errors.ts';
import { createHttpServer } from '../http/server.ts';
import type { StoreQueries } from '../store/store-queries.ts';
import { registerLogQueryRoutes } from './logs.ts';

/** The routes over a store whose pages are `pages`, then `failure` when given. */
function appOver(pages: string[][], failure?: PeriscopeError) {
  const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
  const store = {
    async *bodies() {
      yield* pages;
      if (failure) throw failure;
    },
  } as unknown as StoreQueries;
  registerLogQueryRoutes(app, store);
  return app;
}

describe('GET /api/v1/logs/export', () => {
  it.each(['ndjson', 'csv'])('a query that cannot run is answered with its error and status (%s), not a connection cut after a 200', async (format) => {
    const timeout = new PeriscopeError(ERR.STORE_UNAVAILABLE, 'queries are unavailable: the query thread stopped; try again', 503, null, 1);
    const res = await appOver([], timeout).inject({ method: 'GET', url: `/api/v1/logs/export?format=${format}` });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().error.code).toBe(ERR.STORE_UNAVAILABLE);
  });

  it('streams every page', async () => {
    const res = await appOver([['{"msg":"b"}', '{"msg":"a"}'], ['{"msg":"z"}']]).inject({ method: 'GET', url: '/api/v1/logs/export' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"msg":"b"}\n{"msg":"a"}\n{"msg":"z"}\n');
  });
});
