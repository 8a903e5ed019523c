import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** GET /metrics — Prometheus text exposition format 0.0.4. `refresh` updates gauges first. */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry, refresh: () => void): void {
  app.get('/metrics', async (_request, reply) => {
    refresh();
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
