import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR, PeriscopeError } from '../errors.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { openDatabase } from './database.ts';
import { FtsIndexer } from './fts-indexer.ts';
import { parseLogFilter } from './log-filter.ts';
import { LogReader, MAX_STATS_BUCKETS, PAGE_MAX_CHARS } from './log-reader.ts';
import { StoreQueries } from './store-queries.ts';
import { LogStore } from './log-store.ts';
import { DeadLetterStore } from '../exporters/dead-letter.ts';

const T0 = Date.UTC(2026, 5, 1);
const open: StoreQueries[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
});

function storeIn(dir: string, searchIndex: boolean) {
  const db = openDatabase(dir, 'normal');
  const store = new LogStore(db);
  new FtsIndexer(db, dir, { enabled: searchIndex, intervalMs: 1000, batch: 1000 }); // attaches (creates) the index
  const queries = new StoreQueries(dir, { searchIndex, timeoutMs: 60_000 });
  open.push(queries);
  let appended = 0; // a millisecond apart, in order
  const append = (msgs: string[]) => {
    const ms = msgs.map(() => T0 + appended++);
    const records = msgs.map((msg, i) => ({ timestamp: new Date(ms[i]).toISOString(), severity: 6, level: 'info', facility: 1, appName: 'svc', msg }));
    store.append(LogBatch.fromRecords(records as never, ms.map((m) => m * 1000)));
  };
  return { db, store, queries, append };
}

describe('log queries in the query thread', () => {
  it('sees each commit of the ingest connection at once, pages with cursors, counts and buckets', async () => {
    const { queries, append } = storeIn(mkdtempSync(join(tmpdir(), 'periscope-queries-')), true);
    append(['one', 'two', 'three']);
    const first = await queries.query(parseLogFilter({}), 2);
    expect(first.records.map((r) => r.msg)).toEqual(['three', 'two']);
    const second = await queries.query(parseLogFilter({}), 2, first.nextCursor!);
    expect(second).toEqual({ records: [expect.objectContaining({ msg: 'one' })], nextCursor: null });
    append(['four']); // committed after the thread's last read: the next one sees it
    expect(await queries.countMatching(parseLogFilter({}))).toBe(4);
    // not indexed yet (the indexer is not running): q= still finds it, by reading the record
    expect(await queries.countMatching(parseLogFilter({ q: 'four' }))).toBe(1);
    expect(await queries.stats(parseLogFilter({}), 86_400_000_000)).toEqual([{ start: '2026-06-01T00:00:00.000Z', service: 'svc', severity: 6, count: 4 }]);
    const pages: string[][] = [];
    for await (const bodies of queries.bodies(parseLogFilter({}), 3)) pages.push(bodies.map((b) => JSON.parse(b).msg));
    expect(pages).toEqual([['four', 'three', 'two'], ['one']]);
  });

  it('ends a page of large records early, with its cursor: every record once, in order, a bounded page at a time', async () => {
    const { queries, append } = storeIn(mkdtempSync(join(tmpdir(), 'periscope-queries-')), false);
    // 6 records of 6 MB (the native receiver takes up to 16 MiB per request): one page of
    // limit 100 held all 36 MB; 1000 such records, gigabytes
    const big = (n: number) => `${n} ${'x'.repeat(6 * 1024 * 1024)}`;
    append([0, 1, 2, 3, 4, 5].map(big));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await queries.page(parseLogFilter({}), 100, cursor);
      expect(page.bodies.length).toBeGreaterThan(0);
      expect(page.bodies.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(PAGE_MAX_CHARS);
      seen.push(...page.bodies.map((b) => (JSON.parse(b) as { msg: string }).msg.split(' ')[0]));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['5', '4', '3', '2', '1', '0']);
    // a record larger than the bound still comes, alone
    append([`huge ${'y'.repeat(PAGE_MAX_CHARS)}`]);
    const first = await queries.page(parseLogFilter({}), 100);
    expect(first.bodies).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
  });

  it('reads a page after a cursor from the cursor down, not again from the newest record', () => {
    const { db, append } = storeIn(mkdtempSync(join(tmpdir(), 'periscope-queries-')), false);
    append(['a', 'b', 'c', 'd']);
    const reader = new LogReader(db, { searchIndex: false });
    const cursor = reader.page(parseLogFilter({}), 2).nextCursor!;
    const prepare = db.prepare.bind(db);
    for (const query of [{}, { service: 'svc' }, { 'attr.k': 'v' }, { q: 'b' }, { start: '2026-06-01T00:00:00Z' }, { severity: 'err' }, { severity: 'warning' }]) {
      // The statement page() runs, and its parameters.
      let ran: { sql: string; params: unknown[] } | undefined;
      db.prepare = (sql: string) => {
        const statement = prepare(sql);
        const iterate = statement.iterate.bind(statement);
        statement.iterate = (...params: never[]) => {
          ran = { sql, params };
          return iterate(...params);
        };
        return statement;
      };
      try {
        reader.page(parseLogFilter(query), 2, cursor);
      } finally {
        db.prepare = prepare;
      }
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${ran!.sql}`).all(...(ran!.params as never[])) as Array<{ detail: string }>).map((r) => r.detail);
      // The index is read from the cursor's time down (ts<?), in order: no scan of it from the newest
      // record (each page cost more the deeper it was), no sort of every record in range.
      // Warnings and worse through their own index: not every record read to find the few.
      const index = 'severity' in query ? 'logs_severe_ts' : 'logs_(service_)?ts';
      expect(plan, JSON.stringify(query)).toEqual([expect.stringMatching(new RegExp(`^SEARCH l USING INDEX ${index} \\(.*\\bts<\\?\\)$`))]);
    }
    expect(reader.page(parseLogFilter({}), 2, cursor).bodies.map((b) => JSON.parse(b).msg)).toEqual(['b', 'a']);
  });

  it('refuses stats of more buckets than its bound with a 400 naming interval, and answers up to it', () => {
    const { db, append } = storeIn(mkdtempSync(join(tmpdir(), 'periscope-queries-')), false);
    append(['a', 'b', 'c', 'd']); // a millisecond apart: a bucket each at interval=1ms
    const reader = new LogReader(db, { searchIndex: false });
    expect(reader.stats(parseLogFilter({}), 1000, 4)).toHaveLength(4);
    let err: unknown;
    try {
      reader.stats(parseLogFilter({}), 1000, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ERR.BAD_QUERY, statusCode: 400, details: { key: 'interval', maxBuckets: 3 } });
    expect((err as Error).message).toMatch(/^interval: more than 3 buckets .*use a longer interval/);
    expect(MAX_STATS_BUCKETS).toBe(500_000);
  });

  it('a bad cursor is the same 400 as in-process; a thread that cannot open the store answers 503 and is started again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-queries-'));
    const { queries } = storeIn(dir, false);
    const bad = await queries.page(parseLogFilter({}), 10, 'bm90IGEgY3Vyc29y').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(PeriscopeError);
    expect(bad).toMatchObject({ code: ERR.BAD_CURSOR, statusCode: 400, details: { key: 'cursor' } });

    const missing = new StoreQueries(join(dir, 'no-such-dir'), { searchIndex: false, timeoutMs: 60_000 });
    open.push(missing);
    for (let i = 0; i < 2; i++) {
      const err = await missing.countMatching(parseLogFilter({})).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ERR.STORE_UNAVAILABLE, statusCode: 503, retryAfterSeconds: 1, message: expect.stringMatching(/query thread stopped \(.*unable to open/) });
    }
  });

  it('a query past store.queryTimeout fails with 503 QUERY_TIMEOUT, and the queries queued behind it are answered by a new thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-queries-'));
    const { db, append } = storeIn(dir, false);
    append(['other one', 'other two']);
    db.prepare("UPDATE logs SET service = 'other'").run();
    // A million records whose q= match (search index off) calls JavaScript for each: seconds.
    db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
      INSERT INTO logs(ts, severity, service, trace_id, body)
      SELECT ${T0 * 1000} + i, 6, 'filler', NULL, json_object('msg', 'filler ' || i) FROM n`);
    const queries = new StoreQueries(dir, { searchIndex: false, timeoutMs: 500 });
    open.push(queries);
    queries.start();
    const slow = queries.countMatching(parseLogFilter({ q: 'nothing like this' })).catch((e: unknown) => e);
    const behind = queries.countMatching(parseLogFilter({ service: 'other' }));
    expect(await slow).toMatchObject({ code: ERR.QUERY_TIMEOUT, statusCode: 503, message: expect.stringMatching(/longer than store.queryTimeout \(500 ms\)/) });
    expect(await behind).toBe(2);
    // the new thread goes on answering (queries that read a few index entries: far below 500 ms)
    expect((await queries.query(parseLogFilter({ service: 'other' }), 10)).records.map((r) => r.msg)).toEqual(['other two', 'other one']);
  });

  it('with two threads, a short query is answered while a long one runs; with one, it waits behind it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-queries-'));
    const { db, append } = storeIn(dir, false);
    append(['other one']);
    db.prepare("UPDATE logs SET service = 'other'").run();
    // A million records whose q= match (search index off) calls JavaScript for each: seconds, against
    // the fraction of a second a second thread takes to start and answer a query reading one index entry.
    db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
      INSERT INTO logs(ts, severity, service, trace_id, body)
      SELECT ${T0 * 1000} + i, 6, 'filler', NULL, json_object('msg', 'filler ' || i) FROM n`);
    const answerOrder = async (threads: number) => {
      const queries = new StoreQueries(dir, { searchIndex: false, timeoutMs: 60_000, threads });
      open.push(queries);
      queries.start();
      const order: string[] = [];
      await Promise.all([
        queries.countMatching(parseLogFilter({ q: 'nothing like this' })).then(() => order.push('long')),
        queries.countMatching(parseLogFilter({ service: 'other' })).then((n) => order.push(`short ${n}`)),
      ]);
      return order;
    };
    expect(await answerOrder(2)).toEqual(['short 1', 'long']);
    expect(await answerOrder(1)).toEqual(['long', 'short 1']);
  });

  it('after close, queries fail with 503 instead of waiting forever', async () => {
    const { queries, append } = storeIn(mkdtempSync(join(tmpdir(), 'periscope-queries-')), false);
    append(['x']);
    expect(await queries.countMatching(parseLogFilter({}))).toBe(1);
    await queries.close();
    await expect(queries.countMatching(parseLogFilter({}))).rejects.toMatchObject({ statusCode: 503 });
  });
});

describe('dead-letter pages in the query thread', () => {
  it('reads a page of letters written by the ingest connection, with the total and the next cursor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-queries-'));
    const { db } = storeIn(dir, false);
    const letters = new DeadLetterStore(db);
    const record = { timestamp: '2026-06-01T00:00:00.000000Z', severity: 3, level: 'error', facility: 1, msg: 'refused' };
    letters.add('loki', [1, 2, 3].map((logId) => ({ logId, micros: logId, record: record as never, reason: 'HTTP 400: entry too long', status: 400 })), 100);
    letters.add('es', [{ logId: 9, micros: 9, record: record as never, reason: 'mapper_parsing_exception', status: 400 }], 100);
    const queries = new StoreQueries(dir, { searchIndex: false, timeoutMs: 60_000 });
    open.push(queries);
    const first = JSON.parse(new TextDecoder().decode(await queries.deadLetters({ exporter: 'loki', limit: 2 })));
    expect(first).toMatchObject({ total: 3, items: [{ exporter: 'loki', logId: 1, kind: 'log', record, status: 400 }, { logId: 2 }] });
    const next = JSON.parse(new TextDecoder().decode(await queries.deadLetters({ exporter: 'loki', limit: 2, afterId: Number(first.nextCursor) })));
    expect(next).toMatchObject({ total: 3, items: [{ logId: 3 }], nextCursor: null });
    expect(JSON.parse(new TextDecoder().decode(await queries.deadLetters({ limit: 10 }))).total).toBe(4);
  });
});
