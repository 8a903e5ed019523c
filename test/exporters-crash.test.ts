// kill -9 of the collector with unsent backlogs: after a restart on the same data folder every
// accepted record is delivered, Elasticsearch holds no duplicate (re-sent documents get 409), and
// Loki keeps one entry per record (it drops re-sent identical entries).
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startElasticsearchServer } from './servers/elasticsearch.ts';
import { startLokiServer } from './servers/loki.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('kill -9 with unsent backlogs', () => {
  it('delivers every accepted record after the restart, without duplicates', { timeout: 180_000 }, async () => {
    const loki = await startLokiServer();
    const es = await startElasticsearchServer();
    cleanup.push(() => loki.close(), () => es.close());
    await loki.setFault({ mode: 'down' }); // a whole backlog for Loki
    es.http.responseDelayMs = 1000; // ES stores a batch, then answers late: a kill lands in that window
    const yaml = `exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms, maxRecords: 200 }
    retry: { initialBackoff: 50ms, maxBackoff: 300ms }
    circuitBreaker: { openDuration: 200ms, maxOpenDuration: 500ms }
  - type: elasticsearch
    name: es
    url: ${es.url}
    batch: { wait: 50ms, maxRecords: 200 }
`;
    let collector: CollectorProcess = await startCollectorProcess({ configYaml: yaml });
    cleanup.push(() => collector.kill());
    const accepted: string[] = [];
    for (let i = 0; i < 15; i++) {
      const records = Array.from({ length: 200 }, (_, k) => ({ appName: 'crash', level: 'info', msg: `crash ${i} ${k}` }));
      const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body: records.map((r) => JSON.stringify(r)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
      expect(res.status).toBe(200);
      accepted.push(...records.map((r) => r.msg));
    }
    // Some batches reached ES and are stored, but their answers are held back: kill now.
    await waitFor(() => es.docs().length >= 400 && es.http.heldAnswers > 0);
    await collector.kill();
    const storedBeforeRestart = es.docs().length;
    expect(storedBeforeRestart).toBeLessThan(accepted.length);
    expect(loki.entries()).toHaveLength(0);

    await loki.setFault({ mode: 'none' });
    es.http.responseDelayMs = 0;
    collector = await startCollectorProcess({ configYaml: yaml, dataDir: collector.dataDir });
    await waitFor(() => loki.entries().length >= accepted.length && es.docs().length >= accepted.length, 60_000);
    const expected = [...accepted].sort();
    expect(loki.entries().map((e) => e.line).sort()).toEqual(expected);
    expect(es.docs().map((d) => String(d.source.message)).sort()).toEqual(expected);
    // The documents whose answers were lost were sent again and refused as already there.
    expect(es.conflicts).toBeGreaterThan(0);
    // … and counted apart from the new deliveries (both are in sent_items_total).
    const duplicates = async () => Number(/^periscope_exporter_duplicate_items_total\{exporter="es",type="elasticsearch"\} (\S+)/m.exec(await (await fetch(`${collector.url}/metrics`)).text())?.[1]);
    await waitFor(async () => (await duplicates()) === es.conflicts);
    expect(await collector.stop()).toBe(0);
  });
});
