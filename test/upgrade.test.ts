// A data directory written by an earlier version (test/fixtures/upgrade/<commit>/, made by that
// version's own collector: make-data-dir.ts says how and what it holds), opened by this one: it
// starts, every record, span, dead letter and silence is there, the search index of the earlier
// format is rebuilt, and the Loki exporter sends its backlog from its cursor, once.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor } from './helpers/collector-process.ts';
import { startLokiServer } from './servers/loki.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'; // make-data-dir.ts

describe.each([
  { name: 'e19ae1e (Nov 22, 2026: per-record search index, dead letters without kind, logs_trace index)', commit: 'e19ae1e' },
  { name: '04decb6 (Dec 6, 2026: chunk search index with its cursor under indexed_id)', commit: '04decb6' },
])('upgrade from $name', ({ commit }) => {
  it('starts on its data directory and keeps records, spans, dead letters, silences and the exporter cursor', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-upgrade-'));
    cpSync(fileURLToPath(new URL(`fixtures/upgrade/${commit}`, import.meta.url)), dataDir, { recursive: true });
    // The fixture's records are as old as the fixture: no Loki age limit (nor out-of-order window:
    // its dead letter is replayed after newer records), no retention, no age bound on the backlog.
    const loki = await startLokiServer({ limits: { rejectOldSamplesMaxAgeMs: 0, outOfOrderWindowMs: 0 } });
    cleanup.push(() => loki.close());
    const collector = await startCollectorProcess({
      dataDir,
      configYaml: `store:
  retention: { maxAge: 36500d }
traces:
  retention: { maxAge: 36500d }
exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms }
    queue: { maxAge: 36500d }
    limits: { rejectOlderThan: 0s }
`,
    });
    cleanup.push(() => collector.kill());
    const get = async <T>(path: string) => (await (await fetch(collector.url + path)).json()) as T;
    const msgs = async (query: string) => (await get<{ records: Array<{ msg: string }> }>(`/api/v1/logs?limit=100&${query}`)).records.map((r) => r.msg).sort();
    const numbered = (ns: number[]) => ns.map((n) => `upgrade record ${n} café`);

    // The backlog from the cursor, and nothing before it: once the cursor has passed a record sent
    // now (the newest in the log) with no batch in flight, the exporter has nothing more to send.
    const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body: JSON.stringify({ level: 30, time: Date.now(), name: 'upgrade', msg: 'after the upgrade' }), headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    type Exporter = { cursor: number; head: number; inFlightBatches: number };
    await waitFor(async () => {
      const e = (await get<{ components: { exporters: { exporters: { loki: Exporter } } } }>('/health/detailed')).components.exporters.exporters.loki;
      return e.cursor === e.head && e.inFlightBatches === 0 && loki.entries().some((x) => x.line === 'after the upgrade');
    }, 30_000);
    expect(loki.entries().map((e) => e.line).sort()).toEqual(['after the upgrade', ...numbered([5, 6, 7, 8])].sort());

    expect(await msgs('service=upgrade')).toEqual(['after the upgrade', 'too old for Loki', ...numbered([0, 1, 2, 3, 4, 5, 6, 7, 8])].sort());
    // A per-record search index (e19ae1e) was replaced and built again from the log; a chunk index is kept.
    await waitFor(async () => (await get<{ components: { searchIndex: { lag: number } } }>('/health/detailed')).components.searchIndex.lag === 0, 30_000);
    expect(await msgs('q=cafe')).toEqual(numbered([0, 1, 2, 3, 4, 5, 6, 7, 8]).sort());
    expect(await msgs(`traceId=${TRACE_ID}`)).toEqual(numbered([5, 6, 7, 8]).sort());
    expect(await get(`/api/v1/traces/${TRACE_ID}`)).toMatchObject({ spanCount: 1, spans: [{ name: 'GET /orders' }] });
    expect(await get('/api/v1/silences')).toMatchObject({ silences: [{ comment: 'written by an earlier version', endsAt: '2099-01-01T00:00:00.000Z' }] });

    const letters = await get<{ total: number; items: Array<{ id: number; kind: string; record: { msg: string } }> }>('/api/v1/deadletter');
    expect(letters).toMatchObject({ total: 1, items: [{ kind: 'log', record: { msg: 'too old for Loki' } }] });
    const replay = await fetch(`${collector.url}/api/v1/deadletter/replay`, { method: 'POST', body: JSON.stringify({ ids: [letters.items[0]!.id] }), headers: { 'content-type': 'application/json' } });
    expect(await replay.json()).toMatchObject({ replayed: 1, failed: [] });
    expect(loki.entries().filter((e) => e.line.includes('too old for Loki'))).toHaveLength(1);

    expect(await collector.stop()).toBe(0);
  });
});
