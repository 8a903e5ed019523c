// A long query must not hold up ingest: the collector answers log queries and trace searches on a
// thread of its own (collector/src/store/query-thread.ts), so POSTs go on being acknowledged while
// a count over every stored record, or a search summing up a trace of 400 000 spans, runs; log alert rules count in another, so they are not held up either. On the ingest thread such a query held every acknowledgement back
// until it ended (and a sender whose timeout passed meanwhile sent its batch again).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../collector/src/store/database.ts';
import { LogStore } from '../collector/src/store/log-store.ts';
import { SpanStore } from '../collector/src/traces/span-store.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

/** Records written straight into the store before the collector starts: enough for a count to take seconds. */
const STORED = 300_000;
/** Spans of one trace (a batch job with a span per item), written likewise. */
const BATCH_SPANS = 400_000;
const BATCH_TRACE = 'ab'.repeat(16);
/** A trace at the answer's bounds (traces/trace-answer.ts): 10 000 spans of 6.7 KB of attributes, 64 MiB of span text. */
const WIDE_TRACE = 'cd'.repeat(16);
const WIDE_ATTRIBUTES = JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`attr.key.${k}`, 'v'.repeat(120)])));
const T0 = Date.UTC(2026, 0, 1);

let collector: CollectorProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'periscope-query-isolation-'));
  const db = openDatabase(dataDir, 'normal');
  new LogStore(db); // the schema
  // One statement in SQLite's own loop: 300 000 records of about 900 bytes in a few seconds.
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${STORED - 1})
    INSERT INTO logs(ts, severity, service, trace_id, body)
    SELECT (${T0} + i) * 1000, 6, 'filler', NULL,
      json_object('timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', (${T0} + i) / 1000.0, 'unixepoch'), 'severity', 6, 'level', 'info', 'facility', 1,
        'appName', 'filler', 'msg', 'request handled ' || i || ' ' || printf('%.880c', 'x'))
    FROM n`);
  new SpanStore(db); // the schema
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${BATCH_SPANS - 1})
    INSERT INTO spans(ts, trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, duration_ns, status_code, status_message, attributes, events, extra)
    SELECT (${T0} + i) * 1000, '${BATCH_TRACE}', printf('%016x', i), CASE WHEN i = 0 THEN NULL ELSE printf('%016x', 0) END,
      'batch', CASE WHEN i = 0 THEN 'nightly import' ELSE 'item' END, 1, (${T0} + i) * 1000000, (${T0} + i) * 1000000 + 1000000, 1000000,
      CASE WHEN i % 1000 = 1 THEN 2 ELSE 0 END, '', '{}', '[]', '{}'
    FROM n`);
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
    INSERT INTO spans(ts, trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, duration_ns, status_code, status_message, attributes, events, extra)
    SELECT (${T0} + i) * 1000, '${WIDE_TRACE}', printf('%016x', i + 1), CASE WHEN i = 0 THEN NULL ELSE printf('%016x', i / 10 + 1) END,
      'wide', 'op', 1, (${T0} + i) * 1000000, (${T0} + i) * 1000000 + 1000000, 1000000, 0, '', '${WIDE_ATTRIBUTES}', '[]', '{"links":[],"resource":{},"scope":{}}'
    FROM n`);
  db.close();
  collector = await startCollectorProcess({
    dataDir,
    configYaml: 'store:\n  retention:\n    maxAge: 3650d\n  search:\n    enabled: false\ntraces:\n  retention:\n    maxAge: 3650d\n',
  });
}, 120_000);

afterAll(async () => {
  await collector?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Posts one record at a time, each acknowledged before the next is sent, until `done()`; returns how many were acknowledged before it. */
async function postUntil(done: () => boolean): Promise<number> {
  let acknowledged = 0;
  for (let i = 0; !done() && i < 10_000; i++) {
    const res = await fetch(`${collector.url}/api/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: JSON.stringify({ timestamp: new Date(T0).toISOString(), severity: 6, appName: 'live', msg: `live ${i}` }) + '\n',
    });
    expect(res.status).toBe(200);
    await res.text();
    if (!done()) acknowledged++;
  }
  return acknowledged;
}

describe('queries and ingest', () => {
  it('acknowledges POSTs while a count over every stored record runs, and the count is right', async () => {
    // q= with the search index off reads every record's message: about a second for 300 000 (more on a loaded machine).
    let statsDone = false;
    const stats = fetch(`${collector.url}/api/v1/logs/stats?q=handled&interval=1d&start=2025-12-31T00:00:00Z`).then(async (res) => {
      statsDone = true;
      return { status: res.status, json: (await res.json()) as { buckets: Array<{ count: number }> } };
    });
    const acknowledgedMeanwhile = await postUntil(() => statsDone);
    const { status, json } = await stats;
    expect(status).toBe(200);
    // Every stored record's message says "handled"; the live ones do not.
    expect(json.buckets.reduce((sum, b) => sum + b.count, 0)).toBe(STORED);
    // On the ingest thread, at most the POST that arrived before the query began got through.
    expect(acknowledgedMeanwhile).toBeGreaterThanOrEqual(5);
    // The live records are there for the next query.
    const live = (await (await fetch(`${collector.url}/api/v1/logs/stats?service=live&interval=1d&start=2025-12-31T00:00:00Z`)).json()) as { buckets: Array<{ count: number }> };
    expect(live.buckets.reduce((sum, b) => sum + b.count, 0)).toBeGreaterThanOrEqual(acknowledgedMeanwhile);
  }, 120_000);

  it('acknowledges POSTs while a trace search sums up a trace of 400 000 spans, and the summary is right', async () => {
    let searchDone = false;
    const search = fetch(`${collector.url}/api/v1/traces?service=batch&limit=1&start=2025-12-31T00:00:00Z`).then(async (res) => {
      searchDone = true;
      return { status: res.status, json: (await res.json()) as { traces: Array<Record<string, unknown>>; partial: boolean } };
    });
    const acknowledgedMeanwhile = await postUntil(() => searchDone);
    const { status, json } = await search;
    expect(status).toBe(200);
    expect(json.traces).toEqual([{
      traceId: BATCH_TRACE, rootService: 'batch', rootName: 'nightly import', startTime: '2026-01-01T00:00:00.000000Z',
      durationMs: BATCH_SPANS /* a span a millisecond, each 1 ms long */, spanCount: BATCH_SPANS, errorCount: BATCH_SPANS / 1000, services: ['batch'],
    }]);
    // On the ingest thread (every span of the trace read into memory there), at most the POST that arrived before the search began got through.
    expect(acknowledgedMeanwhile).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('acknowledges POSTs while a trace at the size bounds is read, and the trace is right', async () => {
    let readDone = false;
    const read = fetch(`${collector.url}/api/v1/traces/${WIDE_TRACE}`).then(async (res) => {
      readDone = true;
      return { status: res.status, json: (await res.json()) as { spanCount: number; spans: Array<{ spanId: string; depth: number; attributes: Record<string, string> }>; truncated: { spans: boolean } } };
    });
    const acknowledgedMeanwhile = await postUntil(() => readDone);
    const { status, json } = await read;
    expect(status).toBe(200);
    // Cut at 64 MiB of span text, described whole.
    expect(json.spanCount).toBe(10_000);
    expect(json.truncated.spans).toBe(true);
    expect(json.spans.length).toBeGreaterThan(9000);
    expect(json.spans[0]).toMatchObject({ spanId: '0000000000000001', depth: 0 });
    expect(json.spans[1]).toMatchObject({ depth: 1 });
    expect(json.spans[0].attributes['attr.key.49']).toBe('v'.repeat(120));
    // On the ingest thread, the spans were read, parsed, put in tree order and serialized there: every POST waited seconds.
    expect(acknowledgedMeanwhile).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('answers 404 for a trace with no span stored (read by the query thread)', async () => {
    const res = await fetch(`${collector.url}/api/v1/traces/${'ef'.repeat(16)}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PERISCOPE_ERR_NOT_FOUND');
  });

  it('evaluates log alert rules while long queries keep the API\'s query thread busy', async () => {
    const rule = async () => ((await (await fetch(`${collector.url}/api/v1/alerts/rules/Probe`)).json()) as { rule: { lastEvaluation: string | null } }).rule;
    const created = await fetch(`${collector.url}/api/v1/alerts/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Probe', kind: 'log', filter: { service: 'live' }, mode: 'frequency', window: '10s', threshold: 1_000_000, interval: '1s' }),
    });
    expect(created.status).toBe(201);
    await waitFor(async () => (await rule()).lastEvaluation !== null, 30_000, 100);
    // Five counts over every stored record, queued one behind the other in the API's query thread: seconds.
    let running = true;
    const counts = Promise.all(Array.from({ length: 5 }, () => fetch(`${collector.url}/api/v1/logs/stats?q=handled&interval=1d&start=2025-12-31T00:00:00Z`).then((r) => r.status)));
    void counts.finally(() => (running = false));
    const evaluations = new Set<string>();
    while (running) {
      evaluations.add((await rule()).lastEvaluation!);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await counts).toEqual([200, 200, 200, 200, 200]);
    // A rule every second: several evaluations ended while the counts ran (behind them, none could).
    expect(evaluations.size).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
