// Live tail over real sockets: the tail route on a real Fastify server with the real ingest and
// store, and `ws` clients on loopback. The collector process itself is covered by test/e2e.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { createHttpServer } from '../http/server.ts';
import { Ingest, type IngestedBatch } from '../ingest/ingest.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { createSelfMetrics } from '../ingest/self-metrics.ts';
import { ParsePool } from '../receivers/native/parse-pool.ts';
import { registerNativeLogsRoute } from '../receivers/native/route.ts';
import { IdempotencyKeys } from '../ingest/idempotency-keys.ts';
import { openDatabase } from '../store/database.ts';
import { matchesFilter, parseLogFilter, timestampToMicros } from '../store/log-filter.ts';
import { LogStore } from '../store/log-store.ts';
import { registerMetricsRoute } from './metrics.ts';
import { SerializedBatch, TailSession, registerTailRoute, type TailOptions, type TailSocket } from './tail.ts';

type Message = { type: string; [k: string]: any };

async function startTailServer(options: TailOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-tail-'));
  const db = openDatabase(dir, 'normal');
  const store = new LogStore(db);
  const metrics = createSelfMetrics();
  const ingest = new Ingest(store, metrics);
  const app = createHttpServer({ bodyLimit: 4 * 1024 * 1024 });
  registerNativeLogsRoute(app, ingest, new ParsePool(0), new IdempotencyKeys(db, { ttlMs: 60_000 }));
  const hub = await registerTailRoute(app, ingest, metrics.registry, options);
  registerMetricsRoute(app, metrics.registry, () => {});
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return {
    app,
    hub,
    ingest,
    url: `http://127.0.0.1:${port}`,
    wsUrl: (query = '') => `ws://127.0.0.1:${port}/api/v1/logs/tail${query ? `?${query}` : ''}`,
    /** Commits records through the real ingest path (as every receiver does). */
    append(records: Array<Partial<LogRecord> & { msg: string }>) {
      const full = records.map((r) => ({ timestamp: new Date().toISOString().replace('Z', '000Z'), severity: 6, level: 'info', facility: 1, ...r }) as LogRecord);
      ingest.append('test', full, full.map((r) => timestampToMicros(r.timestamp)));
    },
    async metric(name: string): Promise<number> {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
      return line ? Number(line.split(' ').pop()) : NaN;
    },
    async close() {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A ws client that records every message; `waitFor` resolves on the first matching one. */
function connect(url: string) {
  const ws = new WebSocket(url);
  const messages: Message[] = [];
  const waiters: Array<{ pred: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as Message;
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    ws,
    messages,
    closed,
    records: () => messages.filter((m) => m.type === 'records').flatMap((m) => m.records as LogRecord[]),
    waitFor(pred: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message in ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 500)}`)), timeoutMs);
        waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    send(m: object) {
      ws.send(JSON.stringify(m));
    },
  };
}
type Client = ReturnType<typeof connect>;

const ready = (c: Client) => c.waitFor((m) => m.type === 'ready');

describe('TailSession (unit, fake socket)', () => {
  const rec = (msg: string, extra: Partial<LogRecord> = {}): LogRecord => ({ timestamp: '2026-01-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, appName: 'a', msg, ...extra });
  const batchOf = (records: LogRecord[]): SerializedBatch => {
    const b: IngestedBatch = { receiver: 't', firstId: 1, logs: LogBatch.fromRecords(records, records.map(() => 0)) };
    return new SerializedBatch(b);
  };
  function fakeSocket(bufferedAmount = 0, readyState = 1) {
    const sent: Message[] = [];
    const socket: TailSocket & { buffered: number } = {
      buffered: bufferedAmount,
      get bufferedAmount() {
        return this.buffered;
      },
      readyState,
      send(data: string) {
        sent.push(JSON.parse(data));
      },
      close() {},
    };
    return { socket, sent };
  }
  const big = 'x'.repeat(1000);
  const BOUND = 8192;

  it.each([
    { name: 'all records fit', buffered: 0, paused: false, n: 3, wantSent: ['0', '1', '2'], wantDropped: { paused: 0, slow: 0, too_large: 0 } },
    { name: 'paused: dropped, not queued', buffered: 0, paused: true, n: 3, wantSent: [], wantDropped: { paused: 3, slow: 0, too_large: 0 } },
    // Each record is ~1.1 kB of JSON; 1 kB of the bound is kept for notices.
    { name: 'socket backlog near the bound: the first records that fit', buffered: BOUND - 1024 - 2100, paused: false, n: 5, wantSent: ['0'], wantDropped: { paused: 0, slow: 4, too_large: 0 } },
    { name: 'socket backlog at the bound: all dropped', buffered: BOUND, paused: false, n: 5, wantSent: [], wantDropped: { paused: 0, slow: 5, too_large: 0 } },
    // A record over the bound on its own can never be sent: the client is not slow, and the
    // records after it still go.
    { name: 'a record larger than the bound: too_large, the others sent', buffered: 0, paused: false, n: 3, huge: 1, wantSent: ['0', '2'], wantDropped: { paused: 0, slow: 0, too_large: 1 } },
  ])('$name', ({ buffered, paused, n, huge, wantSent, wantDropped }) => {
    const { socket, sent } = fakeSocket(buffered);
    const drops: Array<[string, number]> = [];
    const session = new TailSession(socket, parseLogFilter({}), BOUND, { onDrop: (r, k) => drops.push([r, k]) });
    session.paused = paused;
    session.offer(batchOf(Array.from({ length: n }, (_, i) => rec(`${i} ${i === huge ? 'x'.repeat(BOUND) : big}`))));
    const records = sent.filter((m) => m.type === 'records').flatMap((m) => m.records);
    expect(records.map((r: LogRecord) => r.msg.split(' ')[0])).toEqual(wantSent); // in order
    expect(session.pending).toEqual(wantDropped);
    expect(session.totalDropped).toBe(wantDropped.paused + wantDropped.slow + wantDropped.too_large);
    expect(drops.reduce((s, [, k]) => s + k, 0)).toBe(session.totalDropped);
  });

  it('reports drops in one coalesced notice, before the next records, only when there is room', () => {
    const { socket, sent } = fakeSocket(0);
    const session = new TailSession(socket, parseLogFilter({ service: 'a' }), 4096);
    session.paused = true;
    session.offer(batchOf([rec('p1'), rec('p2'), rec('other', { appName: 'b' })]));
    session.paused = false;
    socket.buffered = 4096; // full: the notice must wait
    session.flushNotice();
    expect(sent).toEqual([]);
    socket.buffered = 0;
    session.offer(batchOf([rec('r1')]));
    expect(sent).toEqual([
      { type: 'dropped', count: 2, total: 2, reasons: { paused: 2, slow: 0, too_large: 0 } },
      { type: 'records', records: [rec('r1')] },
    ]);
    session.flushNotice(); // nothing pending: nothing sent
    expect(sent).toHaveLength(2);
  });

  /** A socket that keeps the frames as sent, byte for byte. */
  function rawSocket(buffered: number) {
    const frames: string[] = [];
    const socket: TailSocket = { bufferedAmount: buffered, readyState: 1, send: (d: string) => void frames.push(d), close() {} };
    return { socket, frames };
  }
  const sessionCases = [
    { filter: {}, buffered: 0 },
    { filter: {}, buffered: 0 },
    { filter: { service: 'a' }, buffered: 0 },
    { filter: { service: 'a' }, buffered: 0 },
    { filter: { q: 'été' }, buffered: 0 },
    { filter: {}, buffered: BOUND - 1024 - 2100 },
    { filter: {}, buffered: BOUND - 1024 - 4200 },
    { filter: { service: 'a' }, buffered: BOUND - 1024 - 2100 },
    { filter: {}, buffered: BOUND },
    { filter: {}, buffered: 0, paused: true },
    { filter: { service: 'b' }, buffered: 0 },
  ];
  // Multi-byte text (the bound is in bytes), a record over the bound, records of another service.
  const mixedBatch = () =>
    batchOf([
      rec(`0 été ${big}`),
      rec(`1 ${'€'.repeat(300)}`, { appName: 'b' }),
      rec(`2 ${'x'.repeat(BOUND)}`),
      rec(`3 été ${big}`),
      rec('4 "quoted" \\ \n', { attributes: { k: 'v' } }),
      rec(`5 ${big}`, { appName: 'b' }),
      rec(`6 été ${big}`),
      rec(`7 ${big}`),
    ]);

  it('frames are byte for byte what each client got when it built its own', () => {
    // The fan-out as it was before clients shared work: each session matched and framed alone.
    const reference = (filter: object, buffered: number, paused: boolean) => {
      const batch = mixedBatch();
      const { records, micros } = batch.batch.logs;
      const f = parseLogFilter(filter as Record<string, string>);
      const matched = records.map((r, i) => (matchesFilter(f, r, micros[i]) ? i : -1)).filter((i) => i >= 0);
      const dropped = { paused: 0, slow: 0, too_large: 0 };
      if (matched.length === 0) return { frames: [] as string[], dropped };
      if (paused) return { frames: [], dropped: { ...dropped, paused: matched.length } };
      const most = BOUND - 1024 - '{"type":"records","records":['.length - ']}'.length;
      let room = most - buffered;
      const parts: string[] = [];
      for (const i of matched) {
        const size = Buffer.byteLength(batch.batch.logs.bodies[i]) + 1;
        if (size > most) dropped.too_large++;
        else if (dropped.slow > 0 || size > room) dropped.slow++;
        else {
          room -= size;
          parts.push(batch.batch.logs.bodies[i]);
        }
      }
      return { frames: parts.length > 0 ? ['{"type":"records","records":[' + parts.join(',') + ']}'] : [], dropped };
    };
    const batch = mixedBatch();
    const sessions = sessionCases.map(({ filter, buffered, paused }) => {
      const { socket, frames } = rawSocket(buffered);
      const session = new TailSession(socket, parseLogFilter(filter), BOUND);
      session.paused = paused ?? false;
      return { session, frames };
    });
    for (const { session } of sessions) session.offer(batch);
    const got = sessions.map(({ session, frames }) => ({ frames, dropped: { ...session.pending } }));
    const want = sessionCases.map(({ filter, buffered, paused }) => reference(filter, buffered, paused ?? false));
    expect(got).toEqual(want);
    // The cases cover sending all, some, none, too_large and paused.
    expect(want.map((w) => w.frames.length)).toContain(0);
    expect(new Set(want.map((w) => w.frames[0]?.length)).size).toBeGreaterThan(4);
  });

  it('clients with the same filter share the matching and the frame: one pass per filter, one frame per distinct room', () => {
    const batch = mixedBatch();
    for (let copy = 0; copy < 8; copy++) {
      for (const { filter, buffered, paused } of sessionCases) {
        const session = new TailSession(rawSocket(buffered).socket, parseLogFilter(filter), BOUND);
        session.paused = paused ?? false;
        session.offer(batch);
      }
    }
    // 88 sessions, 4 filters ({}, service=a, q, service=b). Frames: {} has 3 rooms that take
    // records (a 4th takes none), service=a 2, q 1, service=b 1; paused sessions build none.
    expect(batch.work).toEqual({ filterPasses: 4, frames: 7 });
  });

  it('sends nothing to a socket that is not open', () => {
    const { socket, sent } = fakeSocket(0, 2 /* CLOSING */);
    const session = new TailSession(socket, parseLogFilter({}), 4096);
    session.offer(batchOf([rec('x')]));
    session.flushNotice();
    expect(sent).toEqual([]);
  });
});

describe('live tail over WebSocket', () => {
  let server: Awaited<ReturnType<typeof startTailServer>>;
  beforeAll(async () => {
    server = await startTailServer({ maxBufferedBytes: 64 * 1024, noticeIntervalMs: 50 });
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('filters are the search filters', () => {
    const trace = '0af7651916cd43dd8448eb211c80319c';
    const cases = [
      { name: 'none', query: '', want: ['a-info', 'a-warn', 'b-err', 'a-trace', 'b-sd', 'a-attr', 'c-debug'] },
      { name: 'service', query: 'service=b', want: ['b-err', 'b-sd'] },
      { name: 'severity by name includes worse', query: 'severity=warning', want: ['a-warn', 'b-err'] },
      { name: 'severity by number', query: 'severity=3', want: ['b-err'] },
      { name: 'text, every word', query: `q=${encodeURIComponent('DISK full')}`, want: ['a-warn'] },
      { name: 'traceId (case-insensitive)', query: `traceId=${trace.toUpperCase()}`, want: ['a-trace'] },
      { name: 'structured data', query: 'sd.order@32473.currency=EUR', want: ['b-sd'] },
      { name: 'nested attribute', query: 'attr.user.id=u1', want: ['a-attr'] },
      { name: 'combined', query: 'service=a&severity=info', want: ['a-info', 'a-warn', 'a-trace', 'a-attr'] },
    ];
    const clients = new Map<string, Client>();

    beforeAll(async () => {
      for (const c of cases) clients.set(c.name, connect(server.wsUrl(c.query)));
      await Promise.all([...clients.values()].map(ready));
      expect(await server.metric('periscope_tail_clients')).toBe(cases.length);
      // Through the native HTTP receiver, in two ingest batches.
      const first = [
        { appName: 'a', level: 'info', msg: 'a-info' },
        { appName: 'a', level: 'warning', msg: 'a-warn disk full' },
        { appName: 'b', level: 'err', msg: 'b-err' },
      ];
      const second = [
        { appName: 'a', level: 'info', msg: 'a-trace', traceId: trace, spanId: 'b7ad6b7169203331' },
        { appName: 'b', level: 'debug', msg: 'b-sd', structuredData: { 'order@32473': { currency: 'EUR' } } },
        { appName: 'a', level: 'notice', msg: 'a-attr', attributes: { user: { id: 'u1' } } },
        { appName: 'c', level: 'debug', msg: 'c-debug' },
      ];
      for (const batch of [first, second]) {
        const res = await fetch(`${server.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: batch.map((r) => JSON.stringify(r)).join('\n') });
        expect(res.status).toBe(200);
      }
      // The records were sent while each POST was handled; a pause acknowledged afterwards on the
      // same socket proves they have all arrived.
      await Promise.all([...clients.values()].map((c) => (c.send({ type: 'pause' }), c.waitFor((m) => m.type === 'state'))));
    });
    afterAll(async () => {
      for (const c of clients.values()) c.ws.close();
      await Promise.all([...clients.values()].map((c) => c.closed));
    });

    it.each(cases)('$name', ({ name, want }) => {
      const got = clients.get(name)!.records().map((r) => r.msg.split(' ')[0]);
      expect(got).toEqual(want);
    });

    it('sends one message per ingest batch, with the normalized records', () => {
      const all = clients.get('none')!.messages.filter((m) => m.type === 'records');
      expect(all.map((m) => m.records.length)).toEqual([3, 4]);
      expect(all[1].records[0]).toMatchObject({ traceId: trace, severity: 6, level: 'info', facility: 1, appName: 'a' });
      expect(clients.get('service')!.messages.filter((m) => m.type === 'records').map((m) => m.records.length)).toEqual([1, 1]);
    });
  });

  it('the client gauge follows connections', async () => {
    const before = await server.metric('periscope_tail_clients');
    const c = connect(server.wsUrl());
    await ready(c);
    expect(await server.metric('periscope_tail_clients')).toBe(before + 1);
    c.ws.close();
    await c.closed;
    await expect.poll(() => server.metric('periscope_tail_clients')).toBe(before);
  });

  it('a bad filter is answered in-band with a coded error and close 1008', async () => {
    const c = connect(server.wsUrl('traceId=nope'));
    const { code, reason } = await c.closed;
    expect(code).toBe(1008);
    expect(reason).toBe('PERISCOPE_ERR_BAD_QUERY');
    expect(c.messages).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'PERISCOPE_ERR_BAD_QUERY', details: { key: 'traceId' } }) }]);
  });

  it('an unknown parameter is refused like a bad filter (close 1008 naming it)', async () => {
    const c = connect(server.wsUrl('level=error'));
    expect((await c.closed).code).toBe(1008);
    expect(c.messages[0].error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_QUERY', details: { key: 'level' } });
  });

  it('a client message over 4 KiB closes that client with 1009; the others go on', async () => {
    const big = connect(server.wsUrl());
    const other = connect(server.wsUrl('service=after-big'));
    await Promise.all([big.waitFor((m) => m.type === 'ready'), other.waitFor((m) => m.type === 'ready')]);
    big.ws.send(JSON.stringify({ type: 'pause', padding: 'x'.repeat(5000) }));
    expect((await big.closed).code).toBe(1009);
    server.append([{ appName: 'after-big', msg: 'still tailing' }]);
    await other.waitFor((m) => m.type === 'records');
    expect(other.records().map((r) => r.msg)).toEqual(['still tailing']);
    other.ws.close();
  });

  it("a browser page of another origin is refused before the upgrade (403); the collector's own origin and a proxy's forwarded host are not", async () => {
    const port = new URL(server.url).port;
    const refusal = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(server.wsUrl(), { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => (ws.close(), reject(new Error('upgraded'))));
        ws.on('error', () => {});
      });
    expect(await refusal({ origin: 'https://evil.example' })).toBe(403);
    expect(await refusal({ origin: `http://evil.example:${port}` })).toBe(403);
    expect(await refusal({ origin: 'null' })).toBe(403);
    expect(await refusal({ origin: 'https://periscope.example.com', 'x-forwarded-host': 'periscope.example.com:8443' })).toBe(403);
    for (const headers of [
      { origin: `http://127.0.0.1:${port}` },
      { origin: 'https://periscope.example.com', 'x-forwarded-host': 'periscope.example.com' },
      // a proxy that forwards the scheme's default port, which the browser's Origin leaves out
      { origin: 'https://periscope.example.com', 'x-forwarded-host': 'Periscope.Example.com:443' },
      { origin: 'http://periscope.example.com', 'x-forwarded-host': 'periscope.example.com:80' },
      {},
    ]) {
      const c = new WebSocket(server.wsUrl(), { headers });
      const first = await new Promise<string>((resolve, reject) => {
        c.on('message', (d) => resolve(JSON.parse(d.toString()).type));
        c.on('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode} for ${JSON.stringify(headers)}`)));
      });
      expect(first).toBe('ready');
      c.close();
    }
  });

  it('a plain GET (no upgrade) gets 426', async () => {
    const res = await fetch(`${server.url}/api/v1/logs/tail`);
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
  });

  it('pause drops and counts (nothing is queued); resume delivers new records only', async () => {
    const svc = `pause-${Date.now()}`;
    const c = connect(server.wsUrl(`service=${svc}`));
    await ready(c);
    c.send({ type: 'pause' });
    await c.waitFor((m) => m.type === 'state' && m.paused === true);
    server.append([1, 2, 3, 4, 5].map((i) => ({ appName: svc, msg: `while paused ${i}` })));
    const dropped = await c.waitFor((m) => m.type === 'dropped');
    expect(dropped).toEqual({ type: 'dropped', count: 5, total: 5, reasons: { paused: 5, slow: 0, too_large: 0 } });
    c.send({ type: 'resume' });
    await c.waitFor((m) => m.type === 'state' && m.paused === false);
    server.append([{ appName: svc, msg: 'after resume' }]);
    await c.waitFor((m) => m.type === 'records');
    expect(c.records().map((r) => r.msg)).toEqual(['after resume']);
    c.send({ type: 'bogus' });
    expect((await c.waitFor((m) => m.type === 'error')).error.code).toBe('PERISCOPE_ERR_BAD_QUERY');
    c.ws.close();
    await c.closed;
  });

  it('a client that does not read: the collector holds at most the bound for it, drops and counts the rest', async () => {
    const BOUND = 64 * 1024;
    const svc = `slow-${Date.now()}`;
    const c = connect(server.wsUrl(`service=${svc}`));
    await ready(c);
    c.ws.pause(); // stop reading the TCP socket: the kernel buffers fill, then the collector's
    const droppedBefore = (await server.metric('periscope_tail_dropped_records_total{reason="slow"}')) || 0;

    // ~24 MiB of matching records in 1000 batches: far more than loopback kernel buffers hold.
    const BATCHES = 1000;
    const PER_BATCH = 24;
    const payload = 'p'.repeat(1000);
    let maxBuffered = 0;
    for (let b = 0; b < BATCHES; b++) {
      server.append(Array.from({ length: PER_BATCH }, (_, i) => ({ appName: svc, msg: `${b}:${i} ${payload}` })));
      for (const s of server.hub.sessions) maxBuffered = Math.max(maxBuffered, s.socket.bufferedAmount);
      if (b % 100 === 0) await new Promise((r) => setImmediate(r)); // let the socket flush to the kernel
    }
    const total = BATCHES * PER_BATCH;
    expect(maxBuffered).toBeGreaterThan(0); // the client really stalled
    expect(maxBuffered).toBeLessThanOrEqual(BOUND);
    expect(await server.metric('periscope_tail_buffered_bytes')).toBeLessThanOrEqual(BOUND);
    const droppedSlow = (await server.metric('periscope_tail_dropped_records_total{reason="slow"}')) - droppedBefore;
    expect(droppedSlow).toBeGreaterThan(total / 2);

    // Read again: the client gets what was in flight plus a dropped notice; every record is
    // either delivered or counted, so nothing was kept aside in memory.
    c.ws.resume();
    await expect.poll(() => [...server.hub.sessions].reduce((s, x) => s + x.socket.bufferedAmount, 0), { timeout: 10_000 }).toBe(0);
    const last = `${BATCHES}:final`;
    server.append([{ appName: svc, msg: last }]);
    await c.waitFor((m) => m.type === 'records' && m.records.some((r: LogRecord) => r.msg === last), 20_000);
    await new Promise((r) => setTimeout(r, 150)); // a pending notice is flushed on the 50 ms tick
    const received = c.records().filter((r) => r.msg !== last);
    const notices = c.messages.filter((m) => m.type === 'dropped');
    expect(notices.length).toBeGreaterThan(0);
    const noticeTotal = notices[notices.length - 1].total;
    expect(noticeTotal).toBe(droppedSlow);
    expect(received.length + noticeTotal).toBe(total);
    expect(received.length).toBeLessThan(total / 2);
    // Delivered records are in order (gaps only where drops were reported).
    const seq = received.map((r) => r.msg.split(' ')[0].split(':').map(Number)).map(([b, i]) => b * PER_BATCH + i);
    expect(seq).toEqual([...seq].sort((x, y) => x - y));
    c.ws.close();
    await c.closed;
  }, 60_000);
});

describe('limits and shutdown', () => {
  it('refuses clients over maxClients with 1013', async () => {
    const server = await startTailServer({ maxClients: 1 });
    try {
      const a = connect(server.wsUrl());
      await ready(a);
      const b = connect(server.wsUrl());
      const { code } = await b.closed;
      expect(code).toBe(1013);
      expect(b.messages[0].error.code).toBe('PERISCOPE_ERR_OVERLOADED');
      a.ws.close();
      await a.closed;
    } finally {
      await server.close();
    }
  });

  it('closes every tail connection with 1001 when the server shuts down, promptly', async () => {
    const server = await startTailServer();
    const clients = [connect(server.wsUrl()), connect(server.wsUrl('service=x'))];
    await Promise.all(clients.map(ready));
    const slow = clients[1];
    slow.ws.pause(); // even a client that is not reading must not hold up shutdown
    const t0 = Date.now();
    await server.close();
    slow.ws.resume();
    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(closes.map((c) => c.code)).toEqual([1001, 1001]);
    await expect.poll(() => server.hub.sessions.size).toBe(0);
  });
});
