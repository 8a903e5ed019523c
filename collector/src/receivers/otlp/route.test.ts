import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { REPEAT_LOG_MS } from '../../http/error-log.ts';
import { createHttpServer } from '../../http/server.ts';
import { registerOtlpRoute } from './route.ts';

describe('registerOtlpRoute: errors behind 5xx answers', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => void vi.useRealTimers());

  it('a 500 repeated by every request is logged once, then counted (a line per request, before), like the other routes', async () => {
    const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
    const logged: Array<{ msg: string; repeated?: number }> = [];
    app.log.error = ((obj: Error | { err: Error; repeated?: number }) => void logged.push(obj instanceof Error ? { msg: obj.message } : { msg: obj.err.message, ...(obj.repeated && { repeated: obj.repeated }) })) as typeof app.log.error;
    registerOtlpRoute(app, '/v1/logs', 'logs', () => {
      throw new Error('a bug in the handler');
    }, () => {});
    for (let i = 0; i < 50; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { 'content-type': 'application/json' }, payload: '{}' });
      expect(res.statusCode).toBe(500);
    }
    expect(logged).toEqual([{ msg: 'a bug in the handler' }]);
    vi.advanceTimersByTime(REPEAT_LOG_MS);
    expect(logged).toEqual([{ msg: 'a bug in the handler' }, { msg: 'a bug in the handler', repeated: 49 }]);
    await app.close();
  });
});
