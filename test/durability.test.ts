// "Acknowledge only what is durable": kill -9 the collector under sustained load, restart it on
// the same data dir, and find every record that got a 2xx.
import { afterAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess | undefined;
afterAll(async () => {
  await collector?.stop();
});

it('every acknowledged record survives kill -9 during sustained load', async () => {
  collector = await startCollectorProcess();
  const { dataDir, url } = collector;
  const acked: number[] = [];
  let seq = 0;
  let stop = false;

  // Four concurrent senders, 200-record batches, until the kill makes requests fail.
  async function sender() {
    while (!stop) {
      const first = seq;
      seq += 200;
      const body = Array.from({ length: 200 }, (_, i) => JSON.stringify({ appName: 'durability', msg: `r${first + i}`, attributes: { seq: first + i } })).join('\n');
      try {
        const res = await fetch(`${url}/api/v1/logs`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
        if (res.status === 200) {
          const json = (await res.json()) as { accepted: number };
          if (json.accepted === 200) for (let i = 0; i < 200; i++) acked.push(first + i);
        }
      } catch {
        // Connection refused/reset once the process is gone: not acknowledged, may or may not be stored.
      }
    }
  }
  const senders = Array.from({ length: 4 }, sender);
  // Let load build up, then kill -9 while requests are in flight.
  while (acked.length < 20_000) await new Promise((r) => setTimeout(r, 20));
  await collector.kill();
  stop = true;
  await Promise.all(senders);
  expect(acked.length).toBeGreaterThanOrEqual(20_000);

  collector = await startCollectorProcess({ dataDir });
  const text = await (await fetch(`${collector.url}/api/v1/logs/export?service=durability`)).text();
  const stored = new Set(text.trim().split('\n').map((line) => (JSON.parse(line) as { attributes: { seq: number } }).attributes.seq));
  const missing = acked.filter((s) => !stored.has(s));
  expect(missing).toEqual([]);

  // The search index catches up too: what was handed to the indexer but not indexed when the
  // process died is read back from the log; what arrives now comes through the ingest hand-off.
  const body = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ appName: 'durability', msg: `after the crash ${i}` })).join('\n');
  expect((await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } })).status).toBe(200);
  const searchable = async (q: string) => (await (await fetch(`${collector!.url}/api/v1/logs/export?service=durability&q=${encodeURIComponent(q)}`)).text()).trim().split('\n').filter(Boolean).length;
  // (the new messages share no word with `r*`: "after the crash <i>")
  const counts = async () => ({ old: await searchable('r*'), fresh: await searchable('crash') });
  await waitFor(async () => {
    const c = await counts();
    return c.old === stored.size && c.fresh === 1000;
  }, 45_000, 200).catch(async (err: Error) => {
    throw new Error(`${err.message}; searchable ${JSON.stringify(await counts())} of ${stored.size} + 1000`);
  });
});
