import type { FastifyInstance } from 'fastify';

export type ComponentStatus = 'up' | 'degraded' | 'down';
export interface ComponentHealth {
  status: ComponentStatus;
  [detail: string]: unknown;
}

/**
 * GET /health          liveness: 200 while the process serves HTTP (restart it when this fails).
 * GET /health/ready    readiness: 200 while it can take records; 503 with the reason while it
 *                      cannot (the store refuses writes, the collector is stopping), so a load
 *                      balancer or Kubernetes sends them to another instance meanwhile.
 * GET /health/detailed each component's status and figures; 503 when any is down.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  components: () => Record<string, ComponentHealth>,
  startedAt: number,
  notReady: () => string | undefined,
): void {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    const reason = notReady();
    return reason === undefined ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason });
  });
  app.get('/health/detailed', async (_request, reply) => {
    const all = components();
    const statuses = Object.values(all).map((c) => c.status);
    const status: ComponentStatus = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'up';
    return reply.code(status === 'down' ? 503 : 200).send({
      status,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      components: all,
    });
  });
}
