import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { countLoopTurns } from '../../../test/helpers/loop-turns.ts';
import { registerMetricsRoute } from './metrics.ts';

// The OTLP and span metrics can be 350 000 lines at their series bounds: rendered in one go, a
// scrape held the ingest thread (every POST) for about 3 s.
describe('GET /metrics', () => {
  it('renders the appended metrics a piece at a time, with event-loop turns between the pieces', async () => {
    const app = Fastify();
    const turns = countLoopTurns();
    const seen: number[] = [];
    function* pieces(): Generator<string> {
      for (const name of ['a', 'b', 'c', 'd']) {
        seen.push(turns.count);
        yield `${name} 1\n`;
      }
    }
    const registry = new Registry();
    registerMetricsRoute(app, registry, () => {}, pieces);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    turns.stop();
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(`${await registry.metrics()}a 1\nb 1\nc 1\nd 1\n`);
    // Each piece was rendered in a later turn of the event loop than the one before it.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
    await app.close();
  });

  it('separates the registry text from the appended pieces with a line break', async () => {
    const app = Fastify();
    const registry = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => 'r 1' } as unknown as Registry;
    registerMetricsRoute(app, registry, () => {}, function* () {
      yield '';
      yield 'x 1\n';
    });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toBe('r 1\nx 1\n');
    expect(res.headers['content-type']).toBe(registry.contentType);
    await app.close();
  });
});
