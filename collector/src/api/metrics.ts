import { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * GET /metrics — Prometheus text exposition format 0.0.4. `refresh` updates gauges first.
 * `append` (optional) returns more exposition text rendered after the registry's families, in
 * pieces: the OTLP metrics and span metrics of collector/src/metrics/ (their names never clash
 * with periscope_*). Each piece is rendered when the one before has been handed to the socket and
 * the event loop has had a turn, so a scrape of hundreds of thousands of series does not hold up
 * ingest for seconds (MetricStore.renderPieces).
 */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry, refresh: () => void, append?: () => Iterable<string>): void {
  app.get('/metrics', async (_request, reply) => {
    refresh();
    reply.header('content-type', registry.contentType);
    const text = await registry.metrics();
    if (!append) return text;
    return reply.send(Readable.from(pieces(text, append()), { objectMode: false, highWaterMark: 1 }));
  });
}

async function* pieces(text: string, more: Iterable<string>): AsyncGenerator<string> {
  yield text;
  let separate = text !== '' && !text.endsWith('\n');
  const iterator = more[Symbol.iterator]();
  for (;;) {
    await yieldToLoop();
    const next = iterator.next();
    if (next.done) return;
    if (separate && next.value !== '') {
      yield '\n';
      separate = false;
    }
    yield next.value;
  }
}
