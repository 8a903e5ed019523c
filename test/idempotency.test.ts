// Idempotency-Key on POST /api/v1/logs against the REAL collector process: a retry of a batch
// already stored (its answer lost to a timeout, a dropped connection or a kill -9 between commit
// and answer) is answered again and not stored twice, so no exporter delivers it twice.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';

const running: CollectorProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((c) => c.dispose()));
});

async function start(dataDir?: string): Promise<CollectorProcess> {
  const c = await startCollectorProcess({ dataDir });
  running.push(c);
  return c;
}

function post(url: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) {
  return fetch(`${url}/api/v1/logs`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', ...headers } });
}

async function count(url: string, service: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/logs/stats?service=${service}&interval=1h`);
  const json = (await res.json()) as { buckets: Array<{ count: number }> };
  return json.buckets.reduce((sum, b) => sum + b.count, 0);
}

const lines = (service: string, n: number, tag = '') => Array.from({ length: n }, (_, i) => JSON.stringify({ appName: service, msg: `m${tag}${i}` })).join('\n');

describe('Idempotency-Key', () => {
  it('a retry gets the first answer, marked replayed, and stores nothing again', async () => {
    const c = await start();
    const service = 'idem-retry';
    const body = `${lines(service, 3)}\nnot json`; // three records and one refused
    const key = randomUUID();
    const first = await post(c.url, body, { 'idempotency-key': `"${key}"` });
    expect(first.status).toBe(200);
    const firstAnswer = await first.json();
    expect(firstAnswer).toMatchObject({ accepted: 3, rejected: [{ index: 3 }] });
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    // The same bytes gzipped: the key's fingerprint is of the body as decoded.
    const again = await post(c.url, new Uint8Array(gzipSync(body)), { 'idempotency-key': key, 'content-encoding': 'gzip' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(firstAnswer);
    expect(await count(c.url, service)).toBe(3);

    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/^periscope_receiver_replayed_requests_total\{receiver="native"\} 1$/m);
    expect(metrics).toMatch(/^periscope_receiver_accepted_records_total\{receiver="native"\} 3$/m);

    // Without a key, the same batch is a new one.
    expect((await post(c.url, body)).status).toBe(200);
    expect(await count(c.url, service)).toBe(6);
  });

  it('the same key with another body is 422, a bad key 400, and neither stores anything', async () => {
    const c = await start();
    const service = 'idem-misuse';
    const key = randomUUID();
    expect((await post(c.url, lines(service, 2), { 'idempotency-key': key })).status).toBe(200);
    const reused = await post(c.url, lines(service, 2, 'x'), { 'idempotency-key': key });
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: { code: 'PERISCOPE_ERR_IDEMPOTENCY_KEY_REUSED' } });
    for (const bad of ['', '"unterminated', 'x'.repeat(256)]) {
      const res = await post(c.url, lines(service, 2, 'y'), { 'idempotency-key': bad });
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'PERISCOPE_ERR_BAD_IDEMPOTENCY_KEY' } });
    }
    expect(await count(c.url, service)).toBe(2);
  });

  it('a key given on two header lines is a 400 that says so, not a complaint about its characters', async () => {
    const c = await start();
    // Node joins repeated header lines with ", ", which no key may hold: the answer named the
    // characters ("must be printable ASCII", "not a valid string") of a key that had none wrong.
    for (const keys of [['a1', 'b2'], ['"a1"', '"a1"']]) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${c.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': keys } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject).end(lines('idem-twice', 1));
      });
      expect(status, keys.join()).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'PERISCOPE_ERR_BAD_IDEMPOTENCY_KEY', message: 'Idempotency-Key is given more than once' } });
    }
    expect(await count(c.url, 'idem-twice')).toBe(0);
  });

  it('a batch refused as a whole stores no key: its retry is handled anew', async () => {
    const c = await start();
    const key = randomUUID();
    const refused = await post(c.url, 'not json', { 'idempotency-key': key });
    expect(refused.status).toBe(400);
    // Another body under the same key is not "reused": nothing was stored for it.
    const ok = await post(c.url, lines('idem-refused', 1), { 'idempotency-key': key });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
    expect(await count(c.url, 'idem-refused')).toBe(1);
  });

  it('kill -9 after the commit: the retry to the restarted collector is answered from the key', async () => {
    const c = await start();
    const service = 'idem-crash';
    const body = lines(service, 50);
    const key = randomUUID();
    // The answer the sender never saw (it was lost with the process).
    expect((await post(c.url, body, { 'idempotency-key': key })).status).toBe(200);
    await c.kill();
    const restarted = await start(c.dataDir);
    const retry = await post(restarted.url, body, { 'idempotency-key': key });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual({ accepted: 50, rejected: [] });
    expect(await count(restarted.url, service)).toBe(50);
  });
});
