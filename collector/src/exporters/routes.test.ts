import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../http/server.ts';
import { deadLetterAnswer, type LetterPageQuery } from './dead-letter-page.ts';
import { DeadLetterStore, type DeadLetter, type LetterSelection } from './dead-letter.ts';
import type { Exporters, ReplayReport } from './exporters.ts';
import { registerExporterRoutes } from './routes.ts';
import { expectBodyPassedOn, heldQuery } from '../../../test/helpers/held-query.ts';

const record = { timestamp: '2026-12-04T10:00:00.000001Z', severity: 6, level: 'info', facility: 1, msg: 'hello' } as const;

/**
 * The dead-letter routes over a real store and a backend that now takes every letter except
 * those it refuses for good ("timestamp too old": status 400), as Loki does after its tenant's
 * credentials were fixed.
 */
function setup(readLetters?: (query: LetterPageQuery) => Promise<Uint8Array>) {
  const db = new DatabaseSync(':memory:');
  const deadLetters = new DeadLetterStore(db);
  const sent: number[] = [];
  const exporters = {
    names: ['loki'],
    deadLetters,
    dependencies: () => ({}),
    discard: (selection: LetterSelection, discarded: (n: number) => void) => deadLetters.discard(selection, (slice) => discarded([...slice.values()].reduce((a, b) => a + b, 0))),
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
  // The collector reads pages in its query thread (StoreQueries.deadLetters); the same read here.
  registerExporterRoutes(app, exporters, readLetters ?? (async (query) => deadLetterAnswer(db, query)));
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

describe('dead letters of one cause, service or time', () => {
  /**
   * A bad deploy of `checkout` left letters of two causes in one exporter, all refused with 400
   * (Loki's "entry too far behind" and its line size), beside one old letter of `search`.
   */
  function twoCauses() {
    const s = setup();
    s.deadLetters.purge({ exporter: 'loki' });
    const at = (iso: string) => Date.parse(iso) * 1000;
    const rec = (appName: string) => ({ ...record, appName }) as never;
    const behind = (i: number) => `HTTP 400: entry with timestamp 2026-12-07T0${i % 10}:00:00Z ignored, reason: 'entry too far behind, entry timestamp is: …' for stream: {service_name="checkout"}`;
    const size = (i: number) => `HTTP 400: Max entry size '500' bytes exceeded for stream '{service_name="checkout"}' while adding an entry with length '${600 + i}' bytes`;
    const letters = [];
    for (let i = 0; i < 6; i++) letters.push({ logId: 100 + i, micros: at('2026-12-07T09:00:00Z') + i, record: rec('checkout'), reason: i % 2 ? size(i) : behind(i), status: 400 });
    letters.push({ logId: 200, micros: at('2026-12-01T00:00:00Z'), record: rec('search'), reason: size(99), status: 400 });
    s.deadLetters.add('loki', letters, 100);
    return s;
  }

  it('the summary counts the letters by cause, and a cause picks its letters to list, replay and discard', async () => {
    const { app, deadLetters, sent } = twoCauses();
    const summary = (await inject(app, 'GET', '/api/v1/deadletter/summary?exporter=loki')).json();
    expect(summary.total).toBe(7);
    expect(summary.causes.map((c: { cause: string; count: number; status: number }) => [c.cause, c.count, c.status])).toEqual([
      ['Max entry size', 4, 400],
      ['entry too far behind', 3, 400],
    ]);
    const listed = (await inject(app, 'GET', `/api/v1/deadletter?exporter=loki&reason=${encodeURIComponent('entry too far behind')}`)).json();
    expect([listed.total, listed.items.map((l: DeadLetter) => l.logId)]).toEqual([3, [100, 102, 104]]);
    sent.length = 0;
    expect((await inject(app, 'POST', '/api/v1/deadletter/replay', { exporter: 'loki', reason: 'max entry size', service: 'checkout' })).json()).toMatchObject({ failed: [{}, {}, {}] });
    expect(sent.map((id) => deadLetters.list({ ids: [id], limit: 1 })[0].logId)).toEqual([101, 103, 105]);
    expect((await inject(app, 'DELETE', '/api/v1/deadletter?exporter=loki&reason=entry%20too%20far%20behind')).json()).toEqual({ deleted: 3, remaining: 4 });
    await app.close();
  });

  it('start, end and since pick by the record time, as the log API does', async () => {
    const { app } = twoCauses();
    const total = async (q: string) => (await inject(app, 'GET', `/api/v1/deadletter?exporter=loki&${q}`)).json().total;
    expect(await total('start=2026-12-07T00:00:00Z')).toBe(6);
    expect(await total('end=2026-12-07T00:00:00Z')).toBe(1);
    expect(await total('service=search&start=2026-12-07T00:00:00Z')).toBe(0);
    expect(await total('since=1h&end=2026-12-07T09:30:00Z')).toBe(6);
    expect(await total('since=1h&end=2026-12-07T08:30:00Z')).toBe(0);
    expect((await inject(app, 'GET', '/api/v1/deadletter/summary?since=1h&end=2026-12-07T09:30:00Z')).json().total).toBe(6);
    // a replay body's epoch time may be a number (seconds here): the old letter of search only
    expect((await inject(app, 'POST', '/api/v1/deadletter/replay', { exporter: 'loki', end: Date.parse('2026-12-07T00:00:00Z') / 1000 })).json()).toMatchObject({ failed: [{}] });
    await app.close();
  });

  it.each([
    { name: 'since not a duration', url: '/api/v1/deadletter?since=yesterday', key: 'since' },
    { name: 'start and since', url: '/api/v1/deadletter?start=2026-12-07T00:00:00Z&since=1h', key: 'since' },
    { name: 'start not a time', url: '/api/v1/deadletter/summary?start=today', key: 'start' },
    { name: 'unknown key in the summary', url: '/api/v1/deadletter/summary?cause=x', key: 'cause' },
  ])('a bad filter is a 400 naming the key ($name)', async ({ url, key }) => {
    const { app } = twoCauses();
    const res = await inject(app, 'GET', url);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_QUERY', details: { key } });
    await app.close();
  });
});

// A page is up to 1 000 letters or 16 MiB of records: read, parsed and serialized on the ingest
// thread, it held every POST back for 1–2 s.
describe('where a page of dead letters is read', () => {
  it('waits for the query thread while the ingest thread answers other requests, then sends its bytes as they are', async () => {
    const held = heldQuery<LetterPageQuery>();
    const { app } = setup(held.call);
    let answered = false;
    const read = inject(app, 'GET', '/api/v1/deadletter?exporter=loki&status=401&limit=2&cursor=4').then((res) => {
      answered = true;
      return res;
    });
    // The barrier: the page is with the query thread, which has not answered yet.
    expect(await Promise.race([held.asked, read.then((res) => `answered ${res.statusCode} without the query thread`)])).toEqual({ exporter: 'loki', status: 401, afterId: 4, limit: 2 });
    const other = await inject(app, 'GET', '/health/dependencies');
    expect(other.statusCode).toBe(200);
    expect(answered).toBe(false);
    await expectBodyPassedOn(held, read, '{"total":0,"items":[],"nextCursor":null}');
    await app.close();
  });
});

// A discard goes in slices of a thousand letters, each its own transaction: one failing after
// others were committed left those deleted (and counted) without the log line that keeps which
// and how many an operator discarded.
describe('a discard that fails part way', () => {
  it('logs the letters already discarded, then answers the error', async () => {
    const { app, deadLetters } = setup();
    deadLetters.add('loki', Array.from({ length: 1500 }, (_, i) => ({ logId: 100 + i, micros: 100 + i, record: record as never, reason: 'HTTP 400', status: 400 })), 10_000);
    const purge = deadLetters.purge.bind(deadLetters);
    let slices = 0;
    deadLetters.purge = (...args) => {
      if (++slices === 2) throw new Error('database or disk is full');
      return purge(...args);
    };
    const warned: Array<Record<string, unknown>> = [];
    app.addHook('onRequest', async (request) => {
      request.log.warn = ((obj: Record<string, unknown>) => void warned.push(obj)) as typeof request.log.warn;
    });
    const res = await inject(app, 'DELETE', '/api/v1/deadletter?exporter=loki');
    expect(res.statusCode).toBe(500);
    // the answer says how many are gone, so a script knows what it asked for was partly done
    expect(res.json()).toMatchObject({ error: { code: 'PERISCOPE_ERR_INTERNAL', details: { deleted: 1000 } } });
    expect(res.json().error.message).toContain('database or disk is full');
    expect(deadLetters.total('loki')).toBe(507);
    expect(warned).toEqual([expect.objectContaining({ exporter: 'loki', deleted: 1000 })]);
    await app.close();
  });
});
