// The data directory deleted under a running collector (rm -rf, a volume gone): SQLite goes on
// writing the open, unlinked file without an error, so acknowledging would lose every record at
// the next start. The collector notices (collector/src/store/database-file-watch.ts), refuses logs
// and spans with 503 so senders keep them, and reports the store down.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess();
});

afterAll(async () => {
  expect(await collector?.stop()).toBe(0); // and it still shuts down cleanly
  await collector?.dispose();
});

const postLog = (msg: string) =>
  fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: JSON.stringify({ msg }) + '\n' });

const postSpan = () =>
  fetch(`${collector.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'removed-dir' } }] },
        scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'op', kind: 1, startTimeUnixNano: String(Date.now() * 1e6), endTimeUnixNano: String(Date.now() * 1e6 + 1e6) }] }],
      }],
    }),
  });

describe('data directory removed while the collector runs', () => {
  it('refuses logs and spans with 503 instead of acknowledging them into a deleted file, and says why', async () => {
    expect(await (await fetch(`${collector.url}/health/ready`)).json()).toEqual({ status: 'ready' });
    expect((await postLog('before')).status).toBe(200);
    expect((await postSpan()).status).toBe(200);
    rmSync(collector.dataDir, { recursive: true, force: true });

    // The very next write is refused: the file is checked after each commit, before the answer.
    const res = await postLog('after');
    expect(res.status).toBe(503);
    const refused = (await res.json()) as { error: { code: string; message: string } };
    expect(refused.error.code).toBe('PERISCOPE_ERR_STORE_UNAVAILABLE');
    expect(refused.error.message).toContain(`${join(collector.dataDir, 'periscope.db')} was deleted`);
    expect(refused.error.message).toContain('restart the collector');
    const span = await postSpan();
    expect(span.status).toBe(503);
    expect(span.headers.get('retry-after')).toBe('1');

    const health = (await (await fetch(`${collector.url}/health/detailed`)).json()) as { status: string; components: { store: { status: string; lastError: string; since: string } } };
    expect(health.components.store).toMatchObject({ status: 'down', lastError: expect.stringContaining('was deleted'), since: expect.any(String) });
    // Out of rotation until restarted (a load balancer or Kubernetes readiness probe), still alive.
    const ready = await fetch(`${collector.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready', reason: expect.stringMatching(/^the store refuses writes until a restart: .*was deleted/) });
    expect((await fetch(`${collector.url}/health`)).status).toBe(200);
    await waitFor(() => /was deleted .*restart the collector to store them in a new database/.test(collector.output()), 30_000, 200);
  }, 60_000);

  it('does not answer a retry from its Idempotency-Key with 200 when its records went to the deleted file', async () => {
    const c = await startCollectorProcess();
    try {
      const post = () =>
        fetch(`${c.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'retry-after-rm' }, body: JSON.stringify({ msg: 'keyed' }) + '\n' });
      rmSync(c.dataDir, { recursive: true, force: true });
      // Committed (with its key) to the unlinked file, then refused: the sender keeps the batch.
      expect((await post()).status).toBe(503);
      // Its retry (the SDK sends the same key) must not be told the batch is stored.
      const retry = await post();
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
      expect(retry.status).toBe(503);
      expect(((await retry.json()) as { error: { code: string } }).error.code).toBe('PERISCOPE_ERR_STORE_UNAVAILABLE');
    } finally {
      await c.dispose();
    }
  }, 60_000);
});
