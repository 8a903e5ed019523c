// store.search.enabled: false through the real collector process: no index is built, queries
// read the records, and turning the index on again indexes what was stored meanwhile.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess | undefined;
afterEach(async () => {
  await collector?.dispose();
  collector = undefined;
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const config = (enabled: boolean) => `store:\n  search:\n    enabled: ${enabled}\n    indexInterval: 50ms\n`;

async function get(path: string): Promise<any> {
  const res = await fetch(collector!.url + path);
  expect(res.status, path).toBe(200);
  return res.json();
}

it('queries read the records without an index, and the index catches up once turned on', async () => {
  collector = await startCollectorProcess({ configYaml: config(false) });
  const lines = Array.from({ length: 300 }, (_, i) =>
    JSON.stringify({ appName: 'checkout', level: i % 10 === 0 ? 'error' : 'info', msg: i % 10 === 0 ? `Payment DECLINED for order ${i}` : `order ${i} shipped`, ...(i % 50 === 0 ? { traceId: TRACE } : {}) }),
  );
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body: lines.join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
  expect(await res.json()).toEqual({ accepted: 300, rejected: [] });

  // Right after the 2xx: nothing waits for an index.
  const declined = await get('/api/v1/logs?q=payment%20declined&limit=1000');
  expect(declined.records.map((r: any) => r.msg)).toEqual(Array.from({ length: 30 }, (_, k) => `Payment DECLINED for order ${290 - 10 * k}`));
  const traced = await get(`/api/v1/logs?traceId=${TRACE}`);
  expect(traced.records.map((r: any) => r.msg)).toEqual([250, 200, 150, 100, 50, 0].map((i) => `Payment DECLINED for order ${i}`));

  const health = await get('/health/detailed');
  expect(health.components.searchIndex).toEqual({ status: 'up', enabled: false });
  expect(await (await fetch(`${collector.url}/metrics`)).text()).toMatch(/^periscope_search_index_lag_records 0$/m);
  const dataDir = collector.dataDir;
  expect(existsSync(join(dataDir, 'periscope-fts.db'))).toBe(false);
  expect(await collector.stop()).toBe(0);

  // The same data directory with the index on: the 300 records stored meanwhile get indexed.
  collector = await startCollectorProcess({ configYaml: config(true), dataDir });
  await waitFor(async () => (await get('/health/detailed')).components.searchIndex.lag === 0);
  expect((await get('/health/detailed')).components.searchIndex).toMatchObject({ status: 'up', enabled: true, indexedId: 300, lag: 0 });
  // Through the index now.
  expect((await get('/api/v1/logs?q=payment%20declined&limit=1000')).records).toHaveLength(30);
  expect((await get(`/api/v1/logs?traceId=${TRACE}`)).records).toHaveLength(6);
});
