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
import { exporterMetric } from './helpers/one-exporter.ts';
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

// A replay sends the oldest letters, the very ones the bounds delete first when refusals go on
// meanwhile: deleted under the replay, a letter was counted as dropped (deadletter_full), then
// as replayed (sent) or failed. The bounds leave it to the replay, and apply when it ends.
it('the bounds leave the letters a replay is sending to it: each counted once, delivered or dropped after it', { timeout: 120_000 }, async () => {
  const backend = await startLokiServer({ limits: { maxLineSize: 500 } }); // Loki refuses lines of 600
  // ...and the exporter refuses lines of 2000 itself, when read: filed without a request to Loki
  const c = await startCollectorProcess({
    configYaml: `exporters:\n  - { type: loki, name: loki, url: "${backend.url}", batch: { wait: 50ms }, limits: { maxLineSize: 1KiB }, deadLetter: { maxRecords: 2 } }\n`,
  });
  try {
    const metric = (name: string, reason?: string) => exporterMetric(c, name, reason);
    const post = async (msgs: string[]) =>
      expect((await fetch(`${c.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: msgs.map((msg) => JSON.stringify({ appName: 'shop', msg })).join('\n') })).status).toBe(200);
    const replay = () => fetch(`${c.url}/api/v1/deadletter/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exporter: 'loki' }) }).then((r) => r.json() as Promise<any>);
    const letters = async () => ((await (await fetch(`${c.url}/api/v1/deadletter?exporter=loki`)).json()) as { items: Array<{ record: { msg: string } }> }).items.map((l) => l.record.msg.slice(0, 5));
    // refused by the exporter's own check meanwhile: filed without waiting for Loki's held answer
    const fileMeanwhile = async (msgs: string[], lettered: number) => {
      await post(msgs.map((m) => `${m} ${'n'.repeat(2000)}`));
      await waitFor(async () => (await metric('periscope_exporter_dead_lettered_items_total')) === lettered, 60_000);
    };

    // delivered: the replay's two letters leave, the two filed meanwhile stay; nothing dropped
    await post(['old 0', 'old 1'].map((m) => `${m} ${'o'.repeat(600)}`));
    await waitFor(async () => (await metric('periscope_exporter_dead_letters')) === 2, 60_000);
    backend.limits.maxLineSize = 0; // fixed
    backend.http.responseDelayMs = 60_000; // Loki stores the replay's push and answers when the test says
    let answer: Promise<any>;
    try {
      answer = replay();
      await waitFor(() => backend.entries().length === 2, 60_000);
      await fileMeanwhile(['new 0', 'new 1'], 4);
      expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(0);
    } finally {
      backend.http.responseDelayMs = 0;
      backend.http.releaseHeld();
    }
    expect(await answer).toMatchObject({ replayed: 2, failed: [], remaining: 2 });
    expect(await letters()).toEqual(['new 0', 'new 1']);
    expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(0);
    expect(await metric('periscope_exporter_sent_items_total')).toBe(2);

    // refused again: the replay's letters stay over the bounds while it sends them, then the
    // bounds delete them (the oldest), counted once
    backend.limits.maxLineSize = 500;
    await post(['old 2', 'old 3'].map((m) => `${m} ${'o'.repeat(600)}`));
    await waitFor(async () => (await letters()).join() === 'old 2,old 3', 60_000); // new 0 and 1 dropped
    expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(2);
    backend.http.responseDelayMs = 60_000;
    try {
      answer = replay();
      await waitFor(() => backend.http.heldAnswers > 0, 60_000);
      await fileMeanwhile(['new 2', 'new 3'], 8);
      expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(2);
    } finally {
      backend.http.responseDelayMs = 0;
      backend.http.releaseHeld();
    }
    const refused = await answer;
    expect(refused).toMatchObject({ replayed: 0, remaining: 2 });
    // refused again, then deleted by the bounds: the answer says both
    for (const f of refused.failed) expect(f.reason).toMatch(/Max entry size.*then deleted as the oldest over deadLetter.maxRecords or maxBytes \(counted as dropped, deadletter_full\)$/);
    expect(refused.failed).toHaveLength(2);
    expect(await letters()).toEqual(['new 2', 'new 3']);
    expect(await metric('periscope_exporter_dropped_items_total', 'deadletter_full')).toBe(4);
    expect(await metric('periscope_exporter_dead_letters_discarded_total', 'deadletter_full')).toBe(4);
  } finally {
    await c.dispose();
    await backend.close();
  }
});
