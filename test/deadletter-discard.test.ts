// An on-call engineer discards dead letters while the backend is still failing, and the collector
// is restarted (a deploy, kill -9): the records after the exporter's cursor are sent again, and
// those refused again must not come back as letters. On the real collector process and the Loki
// and Elasticsearch test servers.
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { exporterMetric } from './helpers/one-exporter.ts';
import { startElasticsearchServer } from './servers/elasticsearch.ts';
import { startLokiServer } from './servers/loki.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/**
 * A Loki exporter quick to retry, plus `extra` lines of its keys. Lines over limits.maxLineSize
 * are refused by the exporter's own check, when read: filed at once.
 */
const lokiConfig = (url: string, extra = '') => `exporters:
  - type: loki
    name: loki
    url: ${url}
    batch: { wait: 50ms }
    limits: { maxLineSize: 1KiB }
${extra}    retry: { initialBackoff: 50ms, maxBackoff: 300ms }
    circuitBreaker: { openDuration: 200ms, maxOpenDuration: 500ms }
`;

/** Three records over limits.maxLineSize (long 0–2), then five that fit (fine 0–4). */
const LONG_AND_FINE = [
  ...Array.from({ length: 3 }, (_, i) => ({ appName: 'checkout', msg: `long ${i} ${'x'.repeat(2000)}` })),
  ...Array.from({ length: 5 }, (_, i) => ({ appName: 'checkout', msg: `fine ${i}` })),
];

it('a letter discarded before the cursor passed its record stays discarded after kill -9 and a restart', { timeout: 180_000 }, async () => {
  const loki = await startLokiServer();
  cleanup.push(() => loki.close());
  await loki.setFault({ mode: 'status', status: 503 }); // the batch waits, its cursor with it
  const yaml = lokiConfig(loki.url);
  let collector: CollectorProcess = await startCollectorProcess({ configYaml: yaml });
  cleanup.push(() => collector.dispose());
  const api = async (path: string, init?: RequestInit) => (await fetch(collector.url + path, init)).json() as Promise<any>;
  const post = (records: object[]) =>
    fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: records.map((r) => JSON.stringify(r)).join('\n') });
  expect((await post(LONG_AND_FINE)).status).toBe(200);
  const letters = await waitFor(async () => {
    const page = await api('/api/v1/deadletter?exporter=loki');
    return page.total === 3 && page.items;
  }, 60_000);
  const exporter = async () => (await api('/health/detailed')).components.exporters.exporters.loki as { cursor: number; head: number };
  expect((await exporter()).cursor).toBeLessThan(letters[0].logId); // not passed: they would be sent again
  expect(await api('/api/v1/deadletter?exporter=loki', { method: 'DELETE' })).toEqual({ deleted: 3, remaining: 0 });

  await collector.kill();
  await loki.setFault({ mode: 'none' });
  collector = await startCollectorProcess({ configYaml: yaml, dataDir: collector.dataDir });
  await waitFor(async () => {
    const e = await exporter();
    return loki.entries().length === 5 && e.cursor === e.head;
  }, 60_000);
  // refused again after the restart, not filed again, and not counted as new dead letters
  expect(await api('/api/v1/deadletter?exporter=loki')).toMatchObject({ total: 0, items: [] });
  const metrics = await (await fetch(`${collector.url}/metrics`)).text();
  expect(metrics).toMatch(/^periscope_exporter_dead_lettered_items_total\{exporter="loki",type="loki"\} 0$/m);
  expect(collector.output()).toContain('3 record(s) refused again whose dead letters were discarded');

  // a record refused for the first time is still filed
  expect((await post([{ appName: 'checkout', msg: `long 4 ${'x'.repeat(2000)}` }])).status).toBe(200);
  await waitFor(async () => (await api('/api/v1/deadletter?exporter=loki')).total === 1, 60_000);
});

// The same for a letter the bounds deleted (deadLetter.maxRecords): it came back after the
// restart as the newest letter, though the metrics had said it was dropped, and was counted again
// (dead-lettered, then dropped once more when its return pushed another letter out).
it('a letter the bounds deleted before the cursor passed its record stays deleted after kill -9 and a restart, counted once', { timeout: 180_000 }, async () => {
  const loki = await startLokiServer();
  cleanup.push(() => loki.close());
  await loki.setFault({ mode: 'status', status: 503 }); // the batch waits, its cursor with it
  const yaml = lokiConfig(loki.url, '    deadLetter: { maxRecords: 2 }\n');
  let collector: CollectorProcess = await startCollectorProcess({ configYaml: yaml });
  cleanup.push(() => collector.dispose());
  const api = async (path: string, init?: RequestInit) => (await fetch(collector.url + path, init)).json() as Promise<any>;
  const metric = (name: string, reason?: string) => exporterMetric(collector, name, reason);
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: LONG_AND_FINE.map((r) => JSON.stringify(r)).join('\n') });
  expect(res.status).toBe(200);
  await waitFor(async () => (await metric('periscope_exporter_dead_lettered_items_total')) === 3, 60_000);
  expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(1); // long 0, the oldest
  const kept = await api('/api/v1/deadletter?exporter=loki');
  expect(kept.items.map((l: { record: { msg: string } }) => l.record.msg.slice(0, 6))).toEqual(['long 1', 'long 2']);
  const exporter = async () => (await api('/health/detailed')).components.exporters.exporters.loki as { cursor: number; head: number };
  expect((await exporter()).cursor).toBeLessThan(kept.items[0].logId - 1); // long 0 not passed: it is sent again

  await collector.kill();
  await loki.setFault({ mode: 'none' });
  collector = await startCollectorProcess({ configYaml: yaml, dataDir: collector.dataDir });
  await waitFor(async () => {
    const e = await exporter();
    return loki.entries().length === 5 && e.cursor === e.head;
  }, 60_000);
  // long 0, refused again, is not filed again: the two letters are the same ones, none counted again
  const after = await api('/api/v1/deadletter?exporter=loki');
  expect(after.items.map((l: { id: number }) => l.id)).toEqual(kept.items.map((l: { id: number }) => l.id));
  expect(await metric('periscope_exporter_dead_lettered_items_total')).toBe(0);
  expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(0);
  expect(collector.output()).toContain('1 record(s) refused again whose dead letters were discarded');
  // the cursor passed the remembered position: forgotten
  const db = new DatabaseSync(join(collector.dataDir, 'periscope.db'), { readOnly: true });
  try {
    expect(db.prepare('SELECT count(*) AS n FROM deadletter_discarded').get()).toEqual({ n: 0 });
  } finally {
    db.close();
  }
});

it('Elasticsearch: letters discarded while an earlier batch is retried stay discarded after kill -9 and a restart', { timeout: 180_000 }, async () => {
  const es = await startElasticsearchServer();
  cleanup.push(() => es.close());
  // The first batch has an item Elasticsearch keeps rejecting (429): the cursor waits before it,
  // while the second batch's mapping errors (400) go to the dead letters.
  let busy = true;
  es.itemFault = (doc) => {
    const message = String(doc.message);
    if (message.startsWith('busy') && busy) return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution' };
    if (message.startsWith('bad')) return { status: 400, type: 'document_parsing_exception', reason: `failed to parse field [n]` };
    return undefined;
  };
  const yaml = `exporters:
  - type: elasticsearch
    name: es
    url: ${es.url}
    concurrency: 2
    batch: { wait: 50ms, maxRecords: 5 }
    retry: { initialBackoff: 50ms, maxBackoff: 300ms }
`;
  let collector: CollectorProcess = await startCollectorProcess({ configYaml: yaml });
  cleanup.push(() => collector.dispose());
  const api = async (path: string, init?: RequestInit) => (await fetch(collector.url + path, init)).json() as Promise<any>;
  const messages = ['busy 0', 'fine 1', 'fine 2', 'fine 3', 'fine 4', 'bad 5', 'bad 6', 'fine 7', 'fine 8', 'fine 9'];
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: messages.map((msg) => JSON.stringify({ appName: 'checkout', msg })).join('\n') });
  expect(res.status).toBe(200);
  const letters = await waitFor(async () => {
    const page = await api('/api/v1/deadletter?exporter=es');
    return page.total === 2 && page.items;
  }, 60_000);
  const exporter = async () => (await api('/health/detailed')).components.exporters.exporters.es as { cursor: number; head: number };
  expect((await exporter()).cursor).toBeLessThan(letters[0].logId);
  expect(await api('/api/v1/deadletter?exporter=es&reason=document_parsing_exception', { method: 'DELETE' })).toEqual({ deleted: 2, remaining: 0 });

  await collector.kill();
  busy = false;
  collector = await startCollectorProcess({ configYaml: yaml, dataDir: collector.dataDir });
  await waitFor(async () => {
    const e = await exporter();
    return es.docs().length === 8 && e.cursor === e.head;
  }, 60_000);
  expect(await api('/api/v1/deadletter?exporter=es')).toMatchObject({ total: 0, items: [] });
  expect(collector.output()).toContain('2 record(s) refused again whose dead letters were discarded');
});
