// An on-call engineer after a bad deploy, on the real collector process: Loki refused records of
// two causes (its line size for one service, its age limit for another), every one of them with a
// 400. The summary names the causes and their counts; one cause is listed, replayed once its limit
// was raised, and the other discarded, each by its `reason` (and `service`), not by status.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startLokiServer, type LokiServer } from './servers/loki.ts';

let collector: CollectorProcess;
let loki: LokiServer;

beforeAll(async () => {
  loki = await startLokiServer({ limits: { maxLineSize: 500, rejectOldSamplesMaxAgeMs: 3_600_000 } });
  collector = await startCollectorProcess({
    // Loki refuses (not the exporter's own checks): the letters carry Loki's 400 texts.
    configYaml: `exporters:\n  - { type: loki, name: loki, url: "${loki.url}", batch: { wait: 50ms }, limits: { maxLineSize: "0", rejectOlderThan: "0s" } }\n`,
  });
});

afterAll(async () => {
  await collector?.dispose();
  await loki?.close();
});

const api = async (path: string, init?: RequestInit) => (await fetch(collector.url + path, init)).json() as Promise<any>;

it('the dead letters of one cause are counted, listed, replayed and discarded apart from the others', { timeout: 180_000 }, async () => {
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const records = [
    ...Array.from({ length: 6 }, (_, i) => ({ appName: 'checkout', msg: `stack ${i} ${'x'.repeat(600)}` })),
    ...Array.from({ length: 4 }, (_, i) => ({ appName: 'search', msg: `late ${i}`, timestamp: twoHoursAgo })),
    ...Array.from({ length: 10 }, (_, i) => ({ appName: 'checkout', msg: `fine ${i}` })),
  ];
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: records.map((r) => JSON.stringify(r)).join('\n') });
  expect(res.status).toBe(200);
  await waitFor(async () => (await api('/api/v1/deadletter?exporter=loki')).total === 10, 90_000);

  const summary = await api('/api/v1/deadletter/summary');
  expect(summary.total).toBe(10);
  expect(summary.causes.map((c: any) => [c.exporter, c.status, c.cause, c.count])).toEqual([
    ['loki', 400, 'Max entry size', 6],
    ['loki', 400, 'timestamp too old', 4],
  ]);
  expect(summary.causes[1].example).toContain('timestamp too old');

  const old = await api(`/api/v1/deadletter?exporter=loki&reason=${encodeURIComponent('timestamp too old')}`);
  expect([old.total, old.items.every((l: any) => l.record.appName === 'search')]).toEqual([4, true]);
  expect((await api('/api/v1/deadletter?exporter=loki&service=checkout')).total).toBe(6);
  expect((await api(`/api/v1/deadletter?exporter=loki&end=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).total).toBe(4);

  // Loki's line limit raised: that cause is replayed, the other stays.
  loki.limits.maxLineSize = 0;
  const replay = await api('/api/v1/deadletter/replay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki', reason: 'Max entry size' }) });
  expect(replay).toEqual({ replayed: 6, failed: [], remaining: 4 });
  expect(loki.entries().filter((e) => e.line.startsWith('stack')).length).toBe(6);

  expect(await api('/api/v1/deadletter?exporter=loki&reason=timestamp%20too%20old', { method: 'DELETE' })).toEqual({ deleted: 4, remaining: 0 });
  // the collector's log says which letters an operator discarded
  await waitFor(() => /"exporter":"loki".*"reason":"timestamp too old".*"deleted":4.*dead letter\(s\) discarded/.test(collector.output()), 90_000);
  // and /metrics where they went: 10 filed, 6 delivered by the replay, 4 discarded, none held
  const metrics = await (await fetch(`${collector.url}/metrics`)).text();
  const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
  expect(value('periscope_exporter_dead_lettered_items_total{exporter="loki",type="loki"}')).toBe(10);
  expect(value('periscope_exporter_dead_letters_discarded_total{exporter="loki",type="loki",reason="deleted"}')).toBe(4);
  expect(value('periscope_exporter_dead_letters_discarded_total{exporter="loki",type="loki",reason="deadletter_full"}')).toBe(0);
  expect(value('periscope_exporter_dead_letters{exporter="loki",type="loki"}')).toBe(0);
});
