import bcrypt from 'bcryptjs';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { countLoopTurns } from '../../../test/helpers/loop-turns.ts';
import { installHttpAuth } from './auth.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('installHttpAuth', () => {
  it('checks nothing while no credential is configured; update() turns checks on, swaps credentials and turns them off', async () => {
    const app = Fastify();
    const auth = installHttpAuth(app, { basicUsers: {}, bearerTokens: [] }, { registry: new Registry(), logger: quiet });
    app.get('/api/v1/logs', async () => ({ ok: true }));
    const get = async (token?: string) => (await app.inject({ url: '/api/v1/logs', headers: token ? { authorization: `Bearer ${token}` } : {} })).statusCode;
    try {
      expect(await get()).toBe(200);
      expect(auth.update(undefined)).toBe(false); // no credential either way: no change
      expect(auth.update({ basicUsers: {}, bearerTokens: ['old'] })).toBe(true);
      expect([await get(), await get('old'), await get('new')]).toEqual([401, 200, 401]);
      expect(auth.update({ basicUsers: {}, bearerTokens: ['old'] })).toBe(false);
      // Rotation: both during the move, then the new one alone.
      auth.update({ basicUsers: {}, bearerTokens: ['old', 'new'] });
      expect([await get('old'), await get('new')]).toEqual([200, 200]);
      auth.update({ basicUsers: {}, bearerTokens: ['new'] });
      expect([await get('old'), await get('new')]).toEqual([401, 200]);
      expect(auth.update({ basicUsers: {}, bearerTokens: [] })).toBe(true);
      expect(await get()).toBe(200);
    } finally {
      await app.close();
      await auth.close();
    }
  });

  it('checks a password with bcrypt in a worker thread: the event loop keeps turning meanwhile', async () => {
    // Cost 12: about 0.3 s of bcrypt. On the event loop (bcryptjs' own async API runs it in
    // slices of up to 100 ms) the loop would turn a handful of times in between.
    const app = Fastify();
    const auth = installHttpAuth(app, { basicUsers: { alice: bcrypt.hashSync('pw', 12) }, bearerTokens: [] }, { registry: new Registry(), logger: quiet });
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
