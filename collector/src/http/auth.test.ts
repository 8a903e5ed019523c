import bcrypt from 'bcryptjs';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { countLoopTurns } from '../../../test/helpers/loop-turns.ts';
import { installHttpAuth } from './auth.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('installHttpAuth', () => {
  it('adds nothing when no credential is configured', async () => {
    const app = Fastify();
    expect(installHttpAuth(app, undefined, { registry: new Registry(), logger: quiet })).toBeUndefined();
    expect(installHttpAuth(app, { basicUsers: {}, bearerTokens: [] }, { registry: new Registry(), logger: quiet })).toBeUndefined();
    app.get('/api/v1/logs', async () => ({ ok: true }));
    expect((await app.inject({ url: '/api/v1/logs' })).statusCode).toBe(200);
    await app.close();
  });

  it('checks a password with bcrypt in a worker thread: the event loop keeps turning meanwhile', async () => {
    // Cost 12: about 0.3 s of bcrypt. On the event loop (bcryptjs' own async API runs it in
    // slices of up to 100 ms) the loop would turn a handful of times in between.
    const app = Fastify();
    const auth = installHttpAuth(app, { basicUsers: { alice: bcrypt.hashSync('pw', 12) }, bearerTokens: [] }, { registry: new Registry(), logger: quiet })!;
    app.get('/api/v1/logs', async () => ({ ok: true }));
    try {
      const turns = countLoopTurns();
      const res = await app.inject({ url: '/api/v1/logs', headers: { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` } });
      turns.stop();
      expect(res.statusCode).toBe(200);
      expect(turns.count).toBeGreaterThan(100);
      const wrong = await app.inject({ url: '/api/v1/logs', headers: { authorization: `Basic ${Buffer.from('alice:pq').toString('base64')}` } });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.headers['www-authenticate']).toEqual(['Basic realm="periscope", charset="UTF-8"']);
    } finally {
      await app.close();
      await auth.close();
    }
  });
});
