// Loki refusing a whole stream, on the real collector process: the dead letters come from Loki's
// one answer instead of a bisection down to each record (about two pushes per record before: 999
// for 500 records refused for structured metadata, 1001 for 501 records too far behind). Records
// stamped too far ahead, which Loki refuses one by one, are refused before sending (601 pushes for
// 300 records an hour ahead before).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startLokiServer, type LokiServer } from './servers/loki.ts';

let collector: CollectorProcess;
let loki: LokiServer;

beforeAll(async () => {
  loki = await startLokiServer({ limits: { allowStructuredMetadata: false } });
  collector = await startCollectorProcess({ configYaml: `exporters:\n  - { type: loki, name: loki, url: "${loki.url}", batch: { wait: 200ms } }\n` });
});

afterAll(async () => {
  await collector?.dispose();
  await loki?.close();
});

const post = async (records: object[]) => {
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: records.map((r) => JSON.stringify(r)).join('\n') });
  expect(res.status).toBe(200);
};
const letters = async () => ((await (await fetch(`${collector.url}/api/v1/deadletter/summary`)).json()) as { total: number; causes: Array<{ cause: string; count: number }> });

it('a Loki without structured metadata: the records that carry it are dead-lettered from its answer, the others delivered', { timeout: 180_000 }, async () => {
  loki.pushes.length = 0;
  // 500 records with an attribute (structured metadata), 20 without
  await post([...Array.from({ length: 500 }, (_, i) => ({ appName: 'meta', msg: `with ${i}`, attributes: { user: i } })), ...Array.from({ length: 20 }, (_, i) => ({ appName: 'meta', msg: `plain ${i}` }))]);
  await waitFor(async () => (await letters()).total === 500 && loki.entries().length === 20, 90_000);
  expect((await letters()).causes.map((c) => [c.cause, c.count])).toEqual([['includes structured metadata, but this feature is disallowed', 500]]);
  expect(loki.pushes.length).toBeLessThan(20);
});

it('a stream moved on by another sender: its records too far behind are dead-lettered from the ingester’s count', { timeout: 180_000 }, async () => {
  await post([{ appName: 'late', msg: 'newest' }]);
  await waitFor(() => loki.entries().some((e) => e.line === 'newest'), 90_000);
  loki.pushes.length = 0;
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
  await post(Array.from({ length: 500 }, (_, i) => ({ appName: 'late', msg: `behind ${i}`, timestamp: twoHoursAgo })));
  await waitFor(async () => (await letters()).causes.find((c) => c.cause === 'entry too far behind')?.count === 500, 90_000);
  expect(loki.pushes.length).toBeLessThan(20);
});

it('records stamped an hour ahead (a time-zone bug) are dead-lettered before sending, as Loki would refuse each', { timeout: 180_000 }, async () => {
  loki.pushes.length = 0;
  const ahead = new Date(Date.now() + 3_600_000).toISOString();
  await post([...Array.from({ length: 300 }, (_, i) => ({ appName: 'ahead', msg: `ahead ${i}`, timestamp: ahead })), { appName: 'ahead', msg: 'on time' }]);
  await waitFor(async () => (await letters()).causes.find((c) => c.cause === 'timestamp too new')?.count === 300 && loki.entries().some((e) => e.line === 'on time'), 90_000);
  expect(loki.pushes.length).toBeLessThan(5);
});
