// The worker-side shipper, in-process against the fake collector (no child process, no pino).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Shipper, countRejected, type ShipperOptions } from '../src/logs/shipper.ts';
import { createSharedBuffer, readStats, sharedState } from '../src/logs/stats.ts';
import { FakeCollector, waitFor } from './helpers/fake-collector.ts';

let collector: FakeCollector;
const shippers: Shipper[] = [];

beforeEach(async () => {
  collector = await new FakeCollector().start();
});
afterEach(async () => {
  for (const s of shippers.splice(0)) {
    await s.shutdown(Date.now());
    s.dispose();
  }
  await collector.stop();
});

function makeShipper(overrides: Partial<ShipperOptions> = {}) {
  const state = sharedState(createSharedBuffer());
  const shipper = new Shipper(
    {
      endpoint: collector.url,
      maxBufferBytes: 1024 * 1024,
      batchMaxRecords: 1000,
      batchMaxBytes: 1024 * 1024,
      flushIntervalMs: 60_000,
      requestTimeoutMs: 5000,
      ...overrides,
    },
    state,
    { random: () => 0 }, // backoff 0: retries are immediate unless Retry-After says otherwise
  );
  shippers.push(shipper);
  return { shipper, stats: () => readStats(state) };
}

const rec = (i: number, severity = 6) => `${JSON.stringify({ timestamp: 't', severity, level: 'info', facility: 1, msg: `m${i}` })}\n`;
const add = (s: Shipper, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) s.add(6, rec(i));
};
const msgs = () => collector.accepted.map((r) => r.msg);

describe('batching', () => {
  it('sends a batch as soon as batchMaxRecords is reached, without waiting for the timer', async () => {
    const { shipper } = makeShipper({ batchMaxRecords: 5 });
    add(shipper, 5);
    await waitFor(() => collector.requests.length === 1, 'first batch');
    expect(collector.requests[0].records).toHaveLength(5);
  });

  it('sends a batch when batchMaxBytes is reached, and splits by bytes', async () => {
    const size = Buffer.byteLength(rec(0));
    const { shipper, stats } = makeShipper({ batchMaxBytes: size * 3 });
    add(shipper, 7);
    await waitFor(() => stats().sent === 6, 'two full batches');
    expect(collector.requests.map((r) => r.records.length)).toEqual([3, 3]);
    await shipper.shutdown(Date.now() + 5000);
    expect(collector.requests.map((r) => r.records.length)).toEqual([3, 3, 1]);
  });

  it('sends exactly the queued lines as UTF-8, also when a shorter batch follows a longer one', async () => {
    // The body is built in a buffer reused between requests: a stale tail or a size counted in
    // characters instead of bytes would corrupt the second request or cut multi-byte text.
    const { shipper, stats } = makeShipper({ batchMaxRecords: 3 });
    // A raw lone surrogate (JSON.stringify would escape it) goes out as U+FFFD's three bytes.
    const long = (i: number) => `{"severity":6,"msg":"long${i} ${'é中😀'.repeat(200)} \ud800"}\n`;
    for (let i = 0; i < 3; i++) shipper.add(6, long(i));
    await waitFor(() => stats().sent === 3, 'the long batch');
    shipper.add(6, rec(9));
    await shipper.shutdown(Date.now() + 5000);
    expect(collector.requests.map((r) => r.records.length)).toEqual([3, 1]);
    expect(msgs()).toEqual([0, 1, 2].map((i) => `long${i} ${'é中😀'.repeat(200)} \ufffd`).concat('m9'));
  });

  it('sends a partial batch after flushIntervalMs', async () => {
    const { shipper } = makeShipper({ flushIntervalMs: 150 });
    const t0 = Date.now();
    add(shipper, 2);
    await waitFor(() => collector.requests.length === 1, 'timer flush');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(msgs()).toEqual(['m0', 'm1']);
  });

  it('shutdown sends immediately and in order, and reports bufferedBytes 0 afterwards', async () => {
    const { shipper, stats } = makeShipper();
    add(shipper, 2500);
    expect(stats().bufferedBytes).toBeGreaterThan(0);
    await shipper.shutdown(Date.now() + 10_000);
    expect(msgs()).toEqual(Array.from({ length: 2500 }, (_, i) => `m${i}`));
    expect(collector.requests.map((r) => r.records.length)).toEqual([1000, 1000, 500]);
    expect(stats()).toMatchObject({ sent: 2500, bufferedBytes: 0, retries: 0 });
  });
});

describe('responses', () => {
  it.each([
    { name: '400 → permanent_error, no retry', reply: { status: 400 }, requests: 1, expected: { sent: 0, retries: 0, dropped: { permanent_error: 4 } } },
    { name: '415 → permanent_error, no retry', reply: { status: 415 }, requests: 1, expected: { sent: 0, retries: 0, dropped: { permanent_error: 4 } } },
    { name: '401 → permanent_error, no retry', reply: { status: 401 }, requests: 1, expected: { sent: 0, retries: 0, dropped: { permanent_error: 4 } } },
    { name: '200 partial → rejected counted, not retried', reply: { status: 200, reject: [0, 2] }, requests: 1, expected: { sent: 2, retries: 0, dropped: { rejected: 2 } } },
    {
      name: '400 naming every record (NO_VALID_RECORDS) → rejected, as in a 200, not permanent_error',
      reply: { status: 400, body: { accepted: 0, rejected: [0, 1, 2, 3].map((index) => ({ index, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' })), error: { code: 'PERISCOPE_ERR_NO_VALID_RECORDS' } } },
      requests: 1, expected: { sent: 0, retries: 0, dropped: { rejected: 4, permanent_error: 0 } },
    },
    { name: '500 then 200 → retried', reply: { status: 500 }, requests: 2, expected: { sent: 4, retries: 1, dropped: { permanent_error: 0 } } },
    { name: '503 then 200 → retried', reply: { status: 503 }, requests: 2, expected: { sent: 4, retries: 1 } },
    { name: '429 then 200 → retried', reply: { status: 429 }, requests: 2, expected: { sent: 4, retries: 1 } },
    { name: '408 (the collector or a proxy timed the upload out: nothing stored) then 200 → retried', reply: { status: 408 }, requests: 2, expected: { sent: 4, retries: 1, dropped: { permanent_error: 0 } } },
    { name: '409 (its Idempotency-Key still being handled) then 200 → retried', reply: { status: 409 }, requests: 2, expected: { sent: 4, retries: 1, dropped: { permanent_error: 0 } } },
  ])('$name', async ({ reply, requests, expected }) => {
    collector.reply(reply);
    const { shipper, stats } = makeShipper();
    add(shipper, 4);
    await shipper.shutdown(Date.now() + 10_000);
    expect(collector.requests).toHaveLength(requests);
    expect(stats()).toMatchObject(expected);
  });

  it('a batch keeps its Idempotency-Key through its retries; the next batch and the halves of a split get their own', async () => {
    // 413 above 2 records; the first 2-record request fails with 503.
    let failed = false;
    collector.responder = (records) => {
      if (records.length > 2) return { status: 413 };
      if (!failed) return (failed = true), { status: 503 };
      return { status: 200 };
    };
    const { shipper, stats } = makeShipper({ batchMaxRecords: 4 });
    add(shipper, 6);
    await shipper.shutdown(Date.now() + 10_000);
    expect(stats()).toMatchObject({ sent: 6, retries: 1 });
    const keys = collector.requests.map((r) => r.headers['idempotency-key'] as string);
    expect(keys.every((k) => /^"[0-9a-f-]{36}"$/.test(k))).toBe(true);
    // 4 → 413; its halves: [m0, m1] 503 then 200 (same key), [m2, m3] 200; then [m4, m5].
    expect(collector.requests.map((r) => r.status)).toEqual([413, 503, 200, 200, 200]);
    expect(keys[1]).toBe(keys[2]);
    expect(new Set([keys[0], keys[1], keys[3], keys[4]]).size).toBe(4);
  });

  it('503 with an HTTP-date Retry-After waits until that date', async () => {
    collector.reply({ status: 503, retryAfter: new Date(Date.now() + 2000).toUTCString() });
    const { shipper, stats } = makeShipper();
    add(shipper, 1);
    await shipper.shutdown(Date.now() + 10_000);
    expect(collector.requests).toHaveLength(2);
    // HTTP dates have 1 s resolution: at least ~1 s must have passed
    expect(collector.requests[1].at - collector.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(stats().sent).toBe(1);
  });

  it('413 splits the batch in halves until it fits; a single record still 413 is too_large', async () => {
    // the collector takes at most 2 records per request, and never the record "m3"
    collector.responder = (records) =>
      records.length > 2 || records.some((r) => r.msg === 'm3') ? { status: 413 } : { status: 200 };
    const { shipper, stats } = makeShipper();
    add(shipper, 7);
    await shipper.shutdown(Date.now() + 10_000);
    expect(msgs()).toEqual(['m0', 'm1', 'm2', 'm4', 'm5', 'm6']);
    expect(stats()).toMatchObject({ sent: 6, retries: 0, bufferedBytes: 0, dropped: { too_large: 1 } });
    // 7 → 4 + 3; 4 → 2 + 2 (m2,m3 → m2 + m3); 3 → 2 + 1
    expect(collector.requests.map((r) => r.records.length)).toEqual([7, 4, 2, 2, 1, 1, 3, 2, 1]);
  });

  it('a hanging collector times out the request and retries', async () => {
    collector.reply({ hang: true });
    const { shipper, stats } = makeShipper({ requestTimeoutMs: 300 });
    add(shipper, 3);
    await shipper.shutdown(Date.now() + 10_000);
    expect(collector.requests.map((r) => r.status)).toEqual(['hang', 200]);
    expect(stats()).toMatchObject({ sent: 3, retries: 1 });
  });
});

describe('shutdown deadline', () => {
  it('gives up at the deadline when the collector hangs: everything counted shutdown_timeout', async () => {
    collector.responder = () => ({ hang: true });
    const { shipper, stats } = makeShipper({ batchMaxRecords: 2 });
    add(shipper, 5);
    const t0 = Date.now();
    await shipper.shutdown(Date.now() + 500);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(3000);
    expect(stats()).toMatchObject({ sent: 0, bufferedBytes: 0, dropped: { shutdown_timeout: 5 } });
  });

  it('a long Retry-After does not extend the deadline; a retry wait already running is cut', async () => {
    collector.responder = () => ({ status: 503, retryAfter: '60' });
    const { shipper, stats } = makeShipper({ batchMaxRecords: 1 });
    add(shipper, 1); // starts sending at once, then sleeps 60 s
    await waitFor(() => collector.requests.length === 1, 'first attempt');
    add(shipper, 1);
    const t0 = Date.now();
    await shipper.shutdown(Date.now() + 400);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(stats()).toMatchObject({ sent: 0, retries: 1, dropped: { shutdown_timeout: 2 } });
  });

  it('collector unreachable: records keep buffering while retrying and the buffer stays bounded', async () => {
    await collector.stop(); // connection refused
    const fixed = (i: number) => rec(i).replace(`"m${i}"`, `"m${String(i).padStart(4, '0')}"`); // equal sizes
    const size = Buffer.byteLength(fixed(0));
    const { shipper, stats } = makeShipper({ batchMaxRecords: 10, maxBufferBytes: size * 50 });
    for (let round = 0; round < 20; round++) {
      for (let i = round * 20; i < round * 20 + 20; i++) shipper.add(6, fixed(i));
      await new Promise((r) => setTimeout(r, 10));
      expect(stats().bufferedBytes).toBeLessThanOrEqual(size * 50);
    }
    await waitFor(() => stats().retries > 0, 'retries');
    expect(stats().dropped.buffer_full).toBe(400 - 50);
    await shipper.shutdown(Date.now() + 200);
    expect(stats().dropped.shutdown_timeout).toBe(50);
    expect(stats().bufferedBytes).toBe(0);
  });
});

describe('a step of the host wall clock (NTP, a VM resumed, date -s)', () => {
  const realNow = Date.now;
  let step = 0;
  beforeEach(() => {
    step = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + step);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('an hour back does not hold a partial batch for an hour', async () => {
    const { shipper } = makeShipper({ flushIntervalMs: 150 });
    add(shipper, 2);
    step = -3_600_000;
    await waitFor(() => collector.requests.length === 1, 'timer flush', 5000);
    expect(msgs()).toEqual(['m0', 'm1']);
  });

  it('an hour back does not hold a retry for an hour', async () => {
    collector.reply({ status: 503, retryAfter: '1' });
    const { shipper, stats } = makeShipper({ batchMaxRecords: 1 });
    add(shipper, 1);
    await waitFor(() => stats().retries === 1, 'the wait before the retry', 5000);
    step = -3_600_000;
    await waitFor(() => collector.requests.length === 2, 'the retry after Retry-After: 1', 5000);
    await waitFor(() => msgs().length === 1, 'delivered', 5000);
  });

  it('an hour back during shutdown does not put its deadline off by an hour', async () => {
    collector.responder = () => ({ hang: true });
    const { shipper, stats } = makeShipper({ batchMaxRecords: 2 });
    add(shipper, 5);
    const done = shipper.shutdown(Date.now() + 300);
    step = -3_600_000;
    const ended = await Promise.race([done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    expect(ended).toBe(true);
    expect(stats()).toMatchObject({ sent: 0, bufferedBytes: 0, dropped: { shutdown_timeout: 5 } });
  });
});

describe('countRejected', () => {
  it.each([
    { name: 'two rejections', body: '{"accepted":1,"rejected":[{"index":0},{"index":2}]}', expected: 2 },
    { name: 'duplicates counted once', body: '{"rejected":[{"index":1},{"index":1}]}', expected: 1 },
    { name: 'out of range ignored', body: '{"rejected":[{"index":7},{"index":-1},{"index":"x"}]}', expected: 0 },
    { name: 'no rejected field', body: '{"accepted":3}', expected: 0 },
    { name: 'not JSON', body: 'ok', expected: 0 },
    { name: 'a cut list: rejectedCount', body: '{"accepted":0,"rejected":[{"index":0}],"rejectedCount":3}', expected: 3 },
  ])('$name', ({ body, expected }) => {
    expect(countRejected(body, 3)).toBe(expected);
  });
});

describe('endpoint with credentials', () => {
  it('sends them as Basic authorization (fetch refuses a URL that carries them), as the OTLP exporters do', async () => {
    const { shipper, stats } = makeShipper({ endpoint: collector.url.replace('http://', 'http://app%201:p%40ss@') });
    add(shipper, 2);
    await shipper.shutdown(Date.now() + 5000);
    expect(stats().sent).toBe(2);
    expect(collector.requests.map((r) => r.headers.authorization)).toEqual([`Basic ${Buffer.from('app 1:p@ss').toString('base64')}`]);
  });
});
