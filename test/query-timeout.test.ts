// A query past store.queryTimeout is answered 503 and its thread stopped: the thread must really
// stop, not run its SQL statement to the end beside the new thread that answers the next queries
// (collector/src/store/log-reader.ts, RUNNING_CHECK). Before, a statement that called no
// JavaScript ran on for as long as it took, a core busy for an answer already given, and each
// repeat of the query added a thread, past store.queryThreads. A query whose HTTP client went away
// is stopped the same way (collector/src/store/store-queries.ts, #ask), or dropped while queued.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../collector/src/store/database.ts';
import { LogStore } from '../collector/src/store/log-store.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

/** Records each holding the 49 nested attributes the filters below walk (written straight into the store). */
const STORED = 100_000;
const KEYS = 49;
const T0 = Date.UTC(2026, 0, 1);
/** Thread names are read from /proc (Linux). */
const PROC = existsSync('/proc/self/task');

/** A data directory of STORED records. */
function storedRecords(): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'periscope-query-timeout-'));
  const db = openDatabase(dataDir, 'normal');
  new LogStore(db); // the schema
  const attributes = JSON.stringify(Object.fromEntries(Array.from({ length: KEYS }, (_, k) => [`k${k}`, { a: { b: { c: { d: { e: 'v' } } } } }])));
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${STORED - 1})
    INSERT INTO logs(ts, severity, service, trace_id, body)
    SELECT (${T0} + i) * 1000, 6, 'filler', NULL,
      json_object('timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', (${T0} + i) / 1000.0, 'unixepoch'), 'severity', 6, 'level', 'info', 'facility', 1,
        'appName', 'filler', 'msg', 'request handled ' || i, 'attributes', json('${attributes}'))
    FROM n`);
  db.close();
  return dataDir;
}

/** A collector over STORED records with one query thread; stopped and removed after the describe() it is called in. */
function collectorFor(queryTimeout: string): { current: CollectorProcess } {
  const ref = {} as { current: CollectorProcess };
  let dataDir: string;
  beforeAll(async () => {
    dataDir = storedRecords();
    ref.current = await startCollectorProcess({
      dataDir,
      configYaml: `store:\n  queryTimeout: ${queryTimeout}\n  queryThreads: 1\n  retention:\n    maxAge: 3650d\n  search:\n    enabled: false\n`,
    });
  }, 120_000);
  afterAll(async () => {
    await ref.current?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return ref;
}

/**
 * A page that reads every record: each attr. filter with a key of six parts is matched as every
 * path its dots allow (32); the first 49 match every record, the last none, so every record costs
 * 1 600 JSON lookups and the page reads all of them in one SQLite step: over a minute.
 */
function slowPage(): string {
  const params = new URLSearchParams();
  for (let k = 0; k < KEYS; k++) params.set(`attr.k${k}.a.b.c.d.e`, 'v');
  params.set('attr.none.a.b.c.d.e', 'v');
  return `/api/v1/logs?${params}`;
}

/** The collector's worker threads (query threads among them), by the name Node gives them. */
function workerThreads(collector: CollectorProcess): number {
  const tasks = `/proc/${collector.proc.pid}/task`;
  return readdirSync(tasks).filter((t) => {
    try {
      return readFileSync(join(tasks, t, 'comm'), 'utf8').trim() === 'WorkerThread';
    } catch {
      return false; // ended meanwhile
    }
  }).length;
}

describe('store.queryTimeout', () => {
  const collector = collectorFor('1s');

  it.skipIf(!PROC)('stops the thread of a query past it, also one whose SQL calls no JavaScript', async () => {
    const { url } = collector.current;
    // The query thread has started and answers.
    expect((await fetch(`${url}/api/v1/logs?limit=1`)).status).toBe(200);
    const before = workerThreads(collector.current);
    const slow = await fetch(url + slowPage());
    expect(slow.status).toBe(503);
    expect(((await slow.json()) as { error: { code: string } }).error.code).toBe('PERISCOPE_ERR_QUERY_TIMEOUT');
    // The timed-out thread ends (no query has started another): before, it read on for the minute.
    await waitFor(() => workerThreads(collector.current) < before, 20_000, 100);
    // The next query gets a new thread.
    expect((await fetch(`${url}/api/v1/logs?limit=1`)).status).toBe(200);
  }, 120_000);
});

describe('a query whose client went away', () => {
  // Far longer than the test: only the cancellation can end the slow page early.
  const collector = collectorFor('10m');

  it('is stopped, so the queries behind it are answered', async () => {
    const { url } = collector.current;
    expect((await fetch(`${url}/api/v1/logs?limit=1`)).status).toBe(200);
    // The console leaves a search (its filter edited, its page closed): the request is aborted.
    const left = new AbortController();
    const slow = fetch(url + slowPage(), { signal: left.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    left.abort();
    expect(await slow).toMatchObject({ name: 'AbortError' });
    // With one query thread, the next query waited behind the slow page, over a minute (past this
    // test's time), before.
    const next = await fetch(`${url}/api/v1/logs?limit=1`);
    expect(next.status).toBe(200);
    expect(((await next.json()) as { records: unknown[] }).records).toHaveLength(1);
    // A stats whose client went away likewise.
    const leftStats = new AbortController();
    const slowStats = fetch(`${url}/api/v1/logs/stats${slowPage().slice('/api/v1/logs'.length)}`, { signal: leftStats.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    leftStats.abort();
    await slowStats;
    expect((await fetch(`${url}/api/v1/logs?limit=1`)).status).toBe(200);
    // Nothing to log: a query nobody waits for is no server error.
    expect(collector.current.output()).not.toMatch(/"level":50/);
  }, 60_000);
});
