import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { StoreQueries } from '../store/store-queries.ts';
import { expectBodyPassedOn, heldQuery } from '../../../test/helpers/held-query.ts';
import { registerTraceRoutes } from './api.ts';
import type { SlowOperations } from './slowest.ts';

// GET /api/v1/traces/:traceId reads up to 64 MiB of span text, parses it, puts it in tree order and
// serializes the answer: about 3 s of work at the bounds. The ingest thread only waits for the
// query thread's answer (StoreQueries.trace) and sends its bytes; on the ingest thread, every
// POST waited for it.
describe('trace API: where a trace is read', () => {
  it('waits for the query thread while the ingest thread answers other requests, then sends its bytes as they are', async () => {
    const app = Fastify();
    const held = heldQuery<string>();
    const logs = { trace: held.call } as unknown as StoreQueries;
    const slow = { maxWindowMs: 3_600_000, slowest: () => [] } as unknown as SlowOperations;
    registerTraceRoutes(app, { logs, slow });
    let answered = false;
    const read = app.inject({ method: 'GET', url: `/api/v1/traces/${'AB'.repeat(16)}` }).then((res) => {
      answered = true;
      return res;
    });
    // The barrier: the trace is with the query thread, which has not answered yet.
    expect(await Promise.race([held.asked, read.then((res) => `answered ${res.statusCode} without the query thread`)])).toBe('ab'.repeat(16));
    const other = await app.inject({ method: 'GET', url: '/api/v1/traces/slowest' });
    expect(other.statusCode).toBe(200);
    expect(answered).toBe(false);
    await expectBodyPassedOn(held, read, JSON.stringify({ traceId: 'ab'.repeat(16), spans: [{ name: 'naïve ✓' }] }));
    await app.close();
  });
});

describe('trace API: limit', () => {
  it.each(['0', '1e2', '0x10', ' 5', '5.0'])('refuses limit=%j with a 400 naming it (Number() reads some of them as integers)', async (limit) => {
    const app = Fastify();
    const slow = { maxWindowMs: 3_600_000, slowest: () => [] } as unknown as SlowOperations;
    registerTraceRoutes(app, { logs: {} as unknown as StoreQueries, slow });
    const res = await app.inject({ method: 'GET', url: `/api/v1/traces/slowest?limit=${encodeURIComponent(limit)}` });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^limit: /);
    await app.close();
  });
});
