import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../http/server.ts';
import { DeadLetterStore, type DeadLetter } from './dead-letter.ts';
import type { Exporters, ReplayReport } from './exporters.ts';
import { registerExporterRoutes } from './routes.ts';

const record = { timestamp: '2026-12-04T10:00:00.000001Z', severity: 6, level: 'info', facility: 1, msg: 'hello' } as const;

/**
 * The dead-letter routes over a real store and a backend that now takes every letter except
 * those it refuses for good ("timestamp too old": status 400), as Loki does after its tenant's
 * credentials were fixed.
 */
function setup() {
  const deadLetters = new DeadLetterStore(new DatabaseSync(':memory:'));
  const sent: number[] = [];
  const exporters = {
    names: ['loki'],
    deadLetters,
    dependencies: () => ({}),
    async replay(letters: DeadLetter[]): Promise<ReplayReport> {
      const report: ReplayReport = { replayed: 0, failed: [] };
      for (const l of letters) {
        sent.push(l.id);
        if (l.status === 400) {
          deadLetters.update(l.id, l.reason, 400);
          report.failed.push({ id: l.id, exporter: l.exporter, reason: l.reason });
        } else {
          deadLetters.remove([l.id]);
          report.replayed++;
        }
      }
      return report;
    },
  } as unknown as Exporters;
  const app = createHttpServer({ bodyLimit: 1 << 20, logLevel: 'silent' });
  registerExporterRoutes(app, exporters);
  const letter = (logId: number, status: number) => ({ logId, micros: logId, record: record as never, reason: status === 400 ? 'HTTP 400: entry … has timestamp too old' : 'HTTP 401: invalid credentials', status });
  // Three records Loki refuses for good, then four refused while its password was wrong.
  deadLetters.add('loki', [letter(1, 400), letter(2, 400), letter(3, 400), letter(4, 401), letter(5, 401), letter(6, 401), letter(7, 401)], 100);
  return { app, deadLetters, sent };
}

const inject = (app: ReturnType<typeof setup>['app'], method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
  app.inject({ method, url, headers: { host: '127.0.0.1:4318', ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, payload: body === undefined ? undefined : JSON.stringify(body) });

describe('dead letters by the status they were refused with', () => {
  const { app, deadLetters, sent } = setup();
  afterAll(() => app.close());

  it('a replay after the fix reaches the letters it was for, past older letters refused again', async () => {
    // By age alone, each replay takes the oldest letters: the ones refused again, every time.
    for (let i = 0; i < 2; i++) expect((await inject(app, 'POST', '/api/v1/deadletter/replay', { exporter: 'loki', limit: 3 })).json()).toMatchObject({ replayed: 0, remaining: 7 });
    sent.length = 0;
    expect((await inject(app, 'POST', '/api/v1/deadletter/replay', { exporter: 'loki', status: 401, limit: 3 })).json()).toEqual({ replayed: 3, failed: [], remaining: 4 });
    expect(sent.map((id) => deadLetters.list({ limit: 10 }).some((l) => l.id === id))).toEqual([false, false, false]);
    expect((await inject(app, 'POST', '/api/v1/deadletter/replay', { exporter: 'loki', status: 401 })).json()).toEqual({ replayed: 1, failed: [], remaining: 3 });
  });

  it('GET lists, and DELETE discards, the letters of one status; total counts those', async () => {
    const before = deadLetters.add('loki', [{ logId: 8, micros: 8, record: record as never, reason: 'HTTP 401', status: 401 }], 100);
    expect(before.added).toBe(1);
    const listed = (await inject(app, 'GET', '/api/v1/deadletter?exporter=loki&status=400')).json();
    expect(listed.total).toBe(3);
    expect(listed.items.map((l: DeadLetter) => l.status)).toEqual([400, 400, 400]);
    expect((await inject(app, 'GET', '/api/v1/deadletter?exporter=loki')).json().total).toBe(4);
    expect((await inject(app, 'DELETE', '/api/v1/deadletter?exporter=loki&status=400')).json()).toEqual({ deleted: 3, remaining: 1 });
    expect(deadLetters.list({ limit: 10 }).map((l) => l.status)).toEqual([401]);
  });

  it.each([
    { name: 'GET, not a number', method: 'GET' as const, url: '/api/v1/deadletter?status=4xx' },
    { name: 'DELETE, out of range', method: 'DELETE' as const, url: '/api/v1/deadletter?exporter=loki&status=600' },
    { name: 'replay, a string', method: 'POST' as const, url: '/api/v1/deadletter/replay', body: { status: '401' } },
  ])('a bad status is a 400 naming the key ($name)', async ({ method, url, body }) => {
    const res = await inject(app, method, url, body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_QUERY', details: { key: 'status' } });
  });
});
