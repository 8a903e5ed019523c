import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ERR, PeriscopeError } from '../errors.ts';
import { REPEAT_LOG_MS, RepeatedErrorLog } from './error-log.ts';
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

  it('every answer, errors included, says nosniff (API answers carry text any sender wrote)', async () => {
    for (const res of [await app.inject({ method: 'GET', url: '/api/v1/logs' }), await app.inject({ method: 'GET', url: '/nothing' }), await app.inject({ method: 'PUT', url: '/api/v1/logs' })]) {
      expect(res.headers['x-content-type-options'], res.raw.req.url).toBe('nosniff');
    }
  });

  it.each(['/api/v1/nothing', '/api/v1/traces/abc/extra', '/api/v1/logsx', '/api'])('GET %s → 404', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('PERISCOPE_ERR_NOT_FOUND');
  });
});

describe('createHttpServer: errors behind 5xx answers', () => {
  it('logs a repeated error once, and each different one', async () => {
    const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
    const logged: string[] = [];
    app.log.error = ((obj: Error | { err: Error }) => void logged.push(obj instanceof Error ? obj.message : obj.err.message)) as typeof app.log.error;
    app.post('/full', async () => {
      throw new PeriscopeError(ERR.STORE_UNAVAILABLE, 'store write failed: database or disk is full', 503, null, 1);
    });
    app.get('/bug', async () => {
      throw new Error('a bug');
    });
    for (let i = 0; i < 50; i++) expect((await app.inject({ method: 'POST', url: '/full' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/bug' })).statusCode).toBe(500);
    expect(logged).toEqual(['store write failed: database or disk is full', 'a bug']);
  });
});

describe('createHttpServer: accept errors', () => {
  // net.Server emits a failed accept (EMFILE at the open-file limit) as 'error' on the listening
  // server: with no listener, an uncaught exception that ended the process.
  it('an accept error after it listens is logged once, not thrown, and requests are still answered', async () => {
    const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
    const logged: string[] = [];
    app.log.error = ((obj: { err: Error }) => void logged.push(obj.err.message)) as typeof app.log.error;
    app.get('/health', async () => ({ status: 'ok' }));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const accept = () => Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
      expect(() => app.server.emit('error', accept())).not.toThrow();
      expect(() => app.server.emit('error', accept())).not.toThrow();
      expect(logged).toEqual(['accept EMFILE']);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('RepeatedErrorLog', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('logs an error at once, then the count of like ones when the minute ends, a minute at a time while they go on', () => {
    const lines: Array<{ msg: string; repeated?: number }> = [];
    const log = new RepeatedErrorLog((obj, msg) => lines.push({ msg, ...(obj.repeated ? { repeated: obj.repeated } : {}) }));
    const full = Object.assign(new Error('disk full'), { code: 'E_FULL' });
    for (let i = 0; i < 10; i++) log.log(full);
    log.log(Object.assign(new Error('disk full'), { code: 'E_OTHER' })); // another code: another error
    vi.advanceTimersByTime(REPEAT_LOG_MS - 1);
    log.log(full);
    expect(lines).toEqual([{ msg: 'disk full' }, { msg: 'disk full' }]);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual([{ msg: 'disk full' }, { msg: 'disk full' }, { msg: 'disk full', repeated: 10 }]);
    log.log(full);
    log.log(full);
    vi.advanceTimersByTime(REPEAT_LOG_MS);
    expect(lines.at(-1)).toEqual({ msg: 'disk full', repeated: 2 });
    vi.advanceTimersByTime(REPEAT_LOG_MS); // a minute without any: nothing to say, the window ends
    expect(lines.length).toBe(4);
    log.log(full);
    expect(lines.at(-1)).toEqual({ msg: 'disk full' });
  });

  it('a burst of 6000 refusals that then stops: its count is written within the minute, not held until the next one (never, before)', () => {
    const lines: Array<{ msg: string; repeated?: number }> = [];
    const log = new RepeatedErrorLog<{ message: string; key: string }>((obj, msg) => lines.push({ msg, ...(obj.repeated ? { repeated: obj.repeated } : {}) }));
    for (let i = 0; i < 6000; i++) log.log({ message: 'message does not start with "<"', key: 'BAD_PRI' });
    vi.advanceTimersByTime(REPEAT_LOG_MS);
    expect(lines).toEqual([{ msg: 'message does not start with "<"' }, { msg: 'message does not start with "<"', repeated: 5999 }]);
  });

  it('flush() writes the pending counts at once (a shutdown)', () => {
    const lines: Array<{ msg: string; repeated?: number }> = [];
    const log = new RepeatedErrorLog((obj, msg) => lines.push({ msg, ...(obj.repeated ? { repeated: obj.repeated } : {}) }));
    for (let i = 0; i < 3; i++) log.log(new Error('disk full'));
    log.flush();
    log.flush();
    expect(lines).toEqual([{ msg: 'disk full' }, { msg: 'disk full', repeated: 2 }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with a key, tells errors apart by it alone (messages that hold varying values)', () => {
    const lines: string[] = [];
    const log = new RepeatedErrorLog<{ message: string; key: string }>((obj, msg) => lines.push(msg));
    for (const size of [70_000, 80_000, 90_000]) log.log({ message: `frame of ${size} bytes is too large`, key: 'TOO_LARGE' });
    log.log({ message: 'PRI 999 is above 191', key: 'BAD_PRI' });
    expect(lines).toEqual(['frame of 70000 bytes is too large', 'PRI 999 is above 191']);
    vi.advanceTimersByTime(REPEAT_LOG_MS);
    expect(lines.at(-1)).toBe('frame of 90000 bytes is too large');
  });
});

describe('createHttpServer: requests from pages of other sites', () => {
  const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
  let changes = 0;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post('/api/v1/deadletter/replay', async () => ({ replayed: ++changes }));
  app.post('/api/v2/alerts', async () => ({ accepted: ++changes }));
  app.delete('/api/v1/silences/:id', async () => ({ expired: ++changes }));
  app.get('/api/v1/logs', async () => ({ items: [] }));

  // What a page can send without a CORS preflight (fetch mode no-cors, a <form>): no body, or a
  // form-typed body that holds JSON.
  it.each([
    { method: 'POST', url: '/api/v1/deadletter/replay', headers: {}, payload: undefined },
    { method: 'POST', url: '/api/v2/alerts', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '[{"labels":{"alertname":"fake"}}]' },
    { method: 'DELETE', url: '/api/v1/silences/abc', headers: {}, payload: undefined },
  ] as const)('$method $url with another Origin → 403, nothing changed', async ({ method, url, headers, payload }) => {
    const before = changes;
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:9999']) {
      const res = await app.inject({ method, url, headers: { ...headers, host: '127.0.0.1:4318', origin }, payload });
      expect(res.statusCode, origin).toBe(403);
      expect(res.json().error.code).toBe('PERISCOPE_ERR_FORBIDDEN_ORIGIN');
    }
    expect(changes).toBe(before);
  });

  it('the same origin (directly or via a proxy), and clients that send no Origin, are served', async () => {
    const post = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/api/v1/deadletter/replay', headers });
    expect((await post({ host: '127.0.0.1:4318', origin: 'http://127.0.0.1:4318' })).statusCode).toBe(200);
    expect((await post({ host: 'collector:4318', 'x-forwarded-host': 'periscope.example.com', origin: 'https://periscope.example.com' })).statusCode).toBe(200);
    expect((await post({ host: '127.0.0.1:4318' })).statusCode).toBe(200);
  });

  it('reads are not refused (a cross-origin page cannot read the answer without CORS)', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/logs', headers: { host: '127.0.0.1:4318', origin: 'http://evil.example' } });
    expect(res.statusCode).toBe(200);
  });
});
