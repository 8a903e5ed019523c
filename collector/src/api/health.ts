import type { FastifyInstance } from 'fastify';

export type ComponentStatus = 'up' | 'degraded' | 'down';
export interface ComponentHealth {
  status: ComponentStatus;
  [detail: string]: unknown;
}

/**
 * GET /health          liveness: 200 while the process serves HTTP.
 * GET /health/detailed each component's status and figures; 503 when any is down.
 */
export function registerHealthRoutes(app: FastifyInstance, components: () => Record<string, ComponentHealth>, startedAt: number): void {
  app.get('/health', async () => ({ status: 'ok' }));
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
