import { describe, expect, it } from 'vitest';
import { createHttpServer } from './server.ts';

describe('createHttpServer: unknown routes', () => {
  const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
  app.get('/api/v1/traces/:traceId', async () => ({}));
  app.post('/api/v1/logs', async () => ({}));
  app.get('/api/v1/logs', async () => ({}));
  app.get('/ack/*', async () => 'page');

  it.each([
    { method: 'DELETE', url: '/api/v1/logs', allow: 'GET, HEAD, POST' },
    { method: 'PUT', url: '/api/v1/logs?x=1', allow: 'GET, HEAD, POST' },
    { method: 'POST', url: '/api/v1/traces/0af7651916cd43dd8448eb211c80319c', allow: 'GET, HEAD' },
    { method: 'DELETE', url: '/ack/some/token', allow: 'GET, HEAD' },
  ] as const)('$method $url → 405 with Allow: $allow', async ({ method, url, allow }) => {
    const res = await app.inject({ method, url });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.json().error.code).toBe('PERISCOPE_ERR_METHOD_NOT_ALLOWED');
  });

  it.each(['/api/v1/nothing', '/api/v1/traces/abc/extra', '/api/v1/logsx', '/api'])('GET %s → 404', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('PERISCOPE_ERR_NOT_FOUND');
  });
});
