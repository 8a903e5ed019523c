import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * GET /metrics — Prometheus text exposition format 0.0.4. `refresh` updates gauges first.
 * `append` (optional) returns more exposition text rendered after the registry's families:
 * the OTLP metrics and span metrics of collector/src/metrics/ (their names never clash with periscope_*).
 */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry, refresh: () => void, append?: () => string): void {
  app.get('/metrics', async (_request, reply) => {
    refresh();
    reply.header('content-type', registry.contentType);
    const text = await registry.metrics();
    if (!append) return text;
    const more = append();
    return more ? `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${more}` : text;
  });
}
