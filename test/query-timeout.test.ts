// A query past store.queryTimeout is answered 503 and its thread stopped: the thread must really
// stop, not run its SQL statement to the end beside the new thread that answers the next queries
// (collector/src/store/log-reader.ts, RUNNING_CHECK). Before, a statement that called no
// JavaScript ran on for as long as it took, a core busy for an answer already given, and each
// repeat of the query added a thread, past store.queryThreads.
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

let collector: CollectorProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'periscope-query-timeout-'));
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
  collector = await startCollectorProcess({
    dataDir,
    configYaml: 'store:\n  queryTimeout: 1s\n  queryThreads: 1\n  retention:\n    maxAge: 3650d\n  search:\n    enabled: false\n',
  });
}, 120_000);

afterAll(async () => {
  await collector?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The collector's worker threads (query threads among them), by the name Node gives them. */
function workerThreads(): number {
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
  it.skipIf(!PROC)('stops the thread of a query past it, also one whose SQL calls no JavaScript', async () => {
    // The query thread has started and answers.
    const quick = await fetch(`${collector.url}/api/v1/logs?limit=1`);
    expect(quick.status).toBe(200);
    const before = workerThreads();
    // Each attr. filter with a key of six parts is matched as every path its dots allow (32): the
    // first 49 match every record, the last none, so every record costs 1 600 JSON lookups and
    // the page reads all of them in one SQLite step: over a minute for 100 000 records.
    const params = new URLSearchParams();
    for (let k = 0; k < KEYS; k++) params.set(`attr.k${k}.a.b.c.d.e`, 'v');
    params.set('attr.none.a.b.c.d.e', 'v');
    const slow = await fetch(`${collector.url}/api/v1/logs?${params}`);
    expect(slow.status).toBe(503);
    expect(((await slow.json()) as { error: { code: string } }).error.code).toBe('PERISCOPE_ERR_QUERY_TIMEOUT');
    // The timed-out thread ends (no query has started another): before, it read on for the minute.
    await waitFor(() => workerThreads() < before, 20_000, 100);
    // The next query gets a new thread.
    expect((await fetch(`${collector.url}/api/v1/logs?limit=1`)).status).toBe(200);
  }, 120_000);
});
