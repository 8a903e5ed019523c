// Dead letters are bounded in bytes too (deadLetter.maxBytes), on the real collector process: a
// backend refuses the large records for good (Loki's line limit), each kept whole, and retention,
// which never deletes a dead letter, deleted every stored record to keep store.retention.maxBytes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DeadLetterStore } from '../collector/src/exporters/dead-letter.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startLokiServer, type LokiServer } from './servers/loki.ts';

let collector: CollectorProcess;
let loki: LokiServer;

beforeAll(async () => {
  loki = await startLokiServer({ limits: { maxLineSize: 1000 } });
  collector = await startCollectorProcess({
    configYaml: `exporters:\n  - { type: loki, name: loki, url: "${loki.url}", batch: { wait: 50ms }, deadLetter: { maxBytes: 1MiB } }\n`,
  });
});

afterAll(async () => {
  await collector?.dispose();
  await loki?.close();
});

it('holds at most deadLetter.maxBytes of refused records; the oldest beyond are dropped and counted as deadletter_full', { timeout: 120_000 }, async () => {
  const line = 'x'.repeat(4000); // over Loki's max_line_size here: refused for good
  for (let batch = 0; batch < 4; batch++) {
    const body = Array.from({ length: 250 }, (_, i) => JSON.stringify({ severity: 6, appName: 'big', msg: `${batch * 250 + i} ${line}` })).join('\n');
    const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(res.status).toBe(200);
  }
  // 1000 refused records of about 4 KB: 4 MB, four times the bound
  const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const text = await waitFor(async () => {
    const t = await (await fetch(`${collector.url}/metrics`)).text();
    const lettered = metric(t, /^periscope_exporter_dead_lettered_items_total\{exporter="loki",type="loki"\} (\S+)/m);
    return lettered >= 1000 && t;
  }, 60_000);
  const held = metric(text, /^periscope_exporter_dead_letters\{exporter="loki",type="loki"\} (\S+)/m);
  const dropped = metric(text, /^periscope_exporter_dropped_items_total\{exporter="loki",type="loki",reason="deadletter_full"\} (\S+)/m);
  expect(held).toBeGreaterThan(200);
  expect(held).toBeLessThanOrEqual(Math.floor(2 ** 20 / 4000) + 1); // 1 MiB of letters over 4000 bytes each, the newest always kept
  expect(held + dropped).toBe(1000);
  const list = await (await fetch(`${collector.url}/api/v1/deadletter?exporter=loki&limit=1000`)).json() as { total: number; items: unknown[] };
  expect(list.total).toBe(held);
  expect(list.items).toHaveLength(held);
});

// Letters kept over the bound (by a version without deadLetter.maxBytes, or under a larger one)
// stayed until the next letter was filed, and took the room of records meanwhile.
it('applies a lowered bound at start, before any new letter: the oldest beyond are dropped and counted', { timeout: 120_000 }, async () => {
  const exporter = (maxBytes: string) => `exporters:\n  - { type: loki, name: loki, url: "${loki.url}", batch: { wait: 50ms }, deadLetter: { maxBytes: ${maxBytes} } }\n`;
  const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const first = await startCollectorProcess({ configYaml: exporter('8MiB') });
  const dataDir = first.dataDir;
  let second: CollectorProcess | undefined;
  try {
    const line = 'x'.repeat(4000);
    const body = Array.from({ length: 500 }, (_, i) => JSON.stringify({ severity: 6, appName: 'big', msg: `${i} ${line}` })).join('\n');
    expect((await fetch(`${first.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body })).status).toBe(200);
    await waitFor(async () => {
      const t = await (await fetch(`${first.url}/metrics`)).text();
      return metric(t, /^periscope_exporter_dead_letters\{exporter="loki",type="loki"\} (\S+)/m) === 500;
    }, 60_000);
    await first.stop();
    second = await startCollectorProcess({ dataDir, configYaml: exporter('1MiB') });
    const started = second;
    // applied once the collector listens (the next test): read when its warning is out
    await waitFor(() => /oldest dead letter\(s\) over deadLetter/.test(started.output()), 60_000);
    const text = await (await fetch(`${second.url}/metrics`)).text();
    const held = metric(text, /^periscope_exporter_dead_letters\{exporter="loki",type="loki"\} (\S+)/m);
    expect(held).toBeGreaterThan(200);
    expect(held).toBeLessThanOrEqual(Math.floor(2 ** 20 / 4000) + 1);
    expect(metric(text, /^periscope_exporter_dropped_items_total\{exporter="loki",type="loki",reason="deadletter_full"\} (\S+)/m)).toBe(500 - held);
    expect(second.output()).toMatch(/exporter loki: \d+ oldest dead letter\(s\) over deadLetter.maxRecords or deadLetter.maxBytes deleted/);
  } finally {
    await second?.dispose();
    await first.dispose();
  }
});

// Applied before the collector listened, in one transaction, the bounds of a huge store held the
// start for seconds (4–18 s for 200 000 letters of 2 KB here): health checks failed, Kubernetes
// restarted the pod, which trimmed again. Now they apply once it listens, in slices.
it('brings a huge store within a lowered bound after it listens, answering health checks meanwhile', { timeout: 180_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'periscope-test-'));
  const db = new DatabaseSync(join(dataDir, 'periscope.db'));
  const letters = new DeadLetterStore(db);
  const msg = 'x'.repeat(200);
  for (let i = 0; i < 200_000; i += 10_000) {
    const items = Array.from({ length: 10_000 }, (_, k) => ({ logId: i + k + 1, micros: 1, reason: 'HTTP 400: entry too far behind', status: 400, record: { severity: 6, msg: `${i + k} ${msg}` } as never }));
    letters.add('loki', items, 1_000_000);
  }
  db.close();
  const collector = await startCollectorProcess({
    dataDir,
    configYaml: `exporters:\n  - { type: loki, name: loki, url: "${loki.url}", deadLetter: { maxRecords: 1000 } }\n`,
  });
  try {
    expect((await fetch(`${collector.url}/health/ready`)).status).toBe(200);
    const done = /exporter loki: 199000 oldest dead letter\(s\) over deadLetter/;
    await waitFor(() => done.test(collector.output()), 120_000);
    // the order of events, not durations: listening (and so ready) came before the trim ended
    const out = collector.output();
    expect(out.indexOf('"periscope collector started"')).toBeGreaterThanOrEqual(0);
    expect(out.indexOf('"periscope collector started"')).toBeLessThan(out.search(done));
    const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metric(text, /^periscope_exporter_dead_letters\{exporter="loki",type="loki"\} (\S+)/m)).toBe(1000);
    expect(metric(text, /^periscope_exporter_dropped_items_total\{exporter="loki",type="loki",reason="deadletter_full"\} (\S+)/m)).toBe(199_000);
    expect(metric(text, /^periscope_exporter_dead_letters_discarded_total\{exporter="loki",type="loki",reason="deadletter_full"\} (\S+)/m)).toBe(199_000);
  } finally {
    await collector.dispose();
  }
});
