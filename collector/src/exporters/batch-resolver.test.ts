// The resolver both the log delivery and the traces export send batches through.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BackendStatus } from './backend-status.ts';
import { BatchResolver } from './batch-resolver.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { createExporterMetrics } from './metrics.ts';
import type { ExportResult } from './result.ts';
import { Retrier, RetryBudget } from './retry.ts';
import { silentLogger, type BatchResult } from './sink.ts';

const ok: ExportResult = { status: 'success' };
const busy = (retryAfterMs?: number): ExportResult => ({ status: 'retryable', error: 'busy', httpStatus: 429, retryAfterMs });
const bad: ExportResult = { status: 'permanent', error: 'mapper_parsing_exception', httpStatus: 400 };

function setup(failureThreshold = 100) {
  const registry = new Registry();
  const metrics = createExporterMetrics(registry);
  // Waits take no time: they move a clock of their own (the breaker's).
  const waits: number[] = [];
  let clock = 0;
  const sleep = async (ms: number, signal?: AbortSignal) => {
    waits.push(ms);
    clock += ms;
    return !signal?.aborted;
  };
  const breaker = new CircuitBreaker({ failureThreshold, openMs: 60_000, maxOpenMs: 60_000 }, { now: () => clock, sleep });
  const retrier = new Retrier({ initialBackoffMs: 10, maxBackoffMs: 10, multiplier: 2, maxRetryAfterMs: 5000 }, new RetryBudget({ ratio: 1, minPerSecond: 1000 }), { sleep, random: () => 1 });
  const status = new BackendStatus('x', silentLogger);
  const labels = { exporter: 'x', type: 'fake' };
  const resolver = new BatchResolver({ breaker, retrier, status, metrics, labels });
  const count = async (name: string, cls?: string) => {
    const m = await registry.getSingleMetric(name)!.get();
    return m.values.filter((v) => cls === undefined || v.labels.class === cls).reduce((n, v) => n + v.value, 0);
  };
  return { resolver, breaker, status, waits, count, signal: new AbortController().signal };
}

describe('BatchResolver', () => {
  it('sends again only the items answered retryable, after the longest Retry-After among them', async () => {
    const s = setup();
    const sent: number[][] = [];
    const answers: ExportResult[][] = [
      [ok, busy(700), bad, busy(300), ok],
      [ok, ok],
    ];
    const r = await s.resolver.resolve([1, 2, 3, 4, 5], async (items) => {
      sent.push(items);
      return { result: ok, items: answers[sent.length - 1] };
    }, s.signal);
    expect(sent).toEqual([[1, 2, 3, 4, 5], [2, 4]]);
    expect(s.waits).toEqual([700]);
    expect(r.delivered).toBe(4);
    expect(r.permanent).toEqual([{ item: 3, result: bad }]);
    expect(r.unresolved).toEqual([]);
    expect(await s.count('periscope_exporter_retried_requests_total')).toBe(1);
    expect(await s.count('periscope_exporter_failed_requests_total', 'retryable')).toBe(1);
  });

  it.each([401, 403, 404, 405, 407].map((status) => ({ name: String(status), status })))(
    'a whole-request $name (credentials, tenant, URL) sends the same array again after a backoff; nothing is permanent',
    async ({ status }) => {
      const s = setup();
      const refused: ExportResult = { status: 'permanent', error: `HTTP ${status}`, httpStatus: status };
      const sent: number[][] = [];
      const r = await s.resolver.resolve([1, 2, 3], async (items) => {
        sent.push(items);
        return { result: sent.length <= 2 ? refused : ok };
      }, s.signal);
      expect(sent.length).toBe(3);
      expect(new Set(sent).size).toBe(1);
      expect(s.waits).toEqual([10, 10]);
      expect(r).toEqual({ delivered: 3, duplicates: 0, permanent: [], unresolved: [], gaveUp: false });
      expect(await s.count('periscope_exporter_failed_requests_total', 'permanent')).toBe(2);
    },
  );

  it('a whole-request 401 to a replay (3 rounds at most) leaves the items unresolved, not permanent', async () => {
    const s = setup();
    const r = await s.resolver.resolve([1, 2], async () => ({ result: { status: 'permanent', error: 'HTTP 401', httpStatus: 401 } }), s.signal, { maxRounds: 3 });
    expect(r).toEqual({ delivered: 0, duplicates: 0, permanent: [], unresolved: [1, 2], gaveUp: false });
  });

  it('sends the very same array again after a whole-request retryable failure (a body encoded for it is reused)', async () => {
    const s = setup();
    const sent: number[][] = [];
    const items = [1, 2, 3];
    await s.resolver.resolve(items, async (part) => {
      sent.push(part);
      return { result: sent.length < 3 ? busy() : ok };
    }, s.signal);
    expect(sent).toHaveLength(3);
    expect(sent.every((part) => part === items)).toBe(true);
  });

  it('splits a permanent answer marked bisect until the bad items are alone; the rest is delivered', async () => {
    const s = setup();
    const items = Array.from({ length: 16 }, (_, i) => i);
    const poisoned = new Set([5, 11]);
    let requests = 0;
    const r = await s.resolver.resolve(items, async (part): Promise<BatchResult> => {
      requests++;
      return part.some((i) => poisoned.has(i)) ? { result: { status: 'permanent', error: 'entry too far behind', httpStatus: 400 }, bisect: true } : { result: ok };
    }, s.signal);
    expect(r.permanent.map((p) => p.item).sort((a, b) => a - b)).toEqual([5, 11]);
    expect(r.permanent[0].result.error).toBe('entry too far behind');
    expect(r.delivered).toBe(14);
    // Each bad item costs one request per level of halving, not one per item.
    expect(requests).toBeLessThanOrEqual(1 + 2 * 2 * 4);
  });

  it('items a bisect answer names (refused) are permanent at once with its words; the rest is sent once more, and bisected only if refused again', async () => {
    const s = setup();
    const items = Array.from({ length: 16 }, (_, i) => i);
    const stream = new Set([1, 2, 3, 4, 5, 6, 7, 9, 12]); // refused as a whole stream
    const poisoned = new Set([14]); // refused on its own
    const sent: number[][] = [];
    const r = await s.resolver.resolve(items, async (part): Promise<BatchResult> => {
      sent.push(part);
      const refused = part.flatMap((item, index) => (stream.has(item) ? [{ index, error: `stream refused (${item})` }] : []));
      if (refused.length === 0 && !part.some((i) => poisoned.has(i))) return { result: ok };
      return { result: { status: 'permanent', error: 'HTTP 400: …', httpStatus: 400 }, bisect: true, ...(refused.length ? { refused } : {}) };
    }, s.signal);
    expect(r.permanent.map((p) => p.item).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 12, 14]);
    expect(r.permanent.find((p) => p.item === 9)!.result).toEqual({ status: 'permanent', error: 'stream refused (9)', httpStatus: 400 });
    expect(r.delivered).toBe(6);
    expect(sent[1]).toEqual([0, 8, 10, 11, 13, 14, 15]); // the rest, once; then the halves of it
    expect(sent.length).toBeLessThanOrEqual(2 + 2 * 3);
  });

  it('a permanent answer without bisect refuses every item of the request', async () => {
    const s = setup();
    const r = await s.resolver.resolve([1, 2], async () => ({ result: bad }), s.signal);
    expect(r.permanent.map((p) => p.item)).toEqual([1, 2]);
    expect(r.delivered).toBe(0);
    expect(await s.count('periscope_exporter_failed_requests_total', 'permanent')).toBe(1);
  });

  it('stops after maxRounds, or when giveUp says so, returning what is left unresolved', async () => {
    const s = setup();
    let calls = 0;
    const always = async () => {
      calls++;
      return { result: busy() };
    };
    const limited = await s.resolver.resolve([1, 2], always, s.signal, { maxRounds: 3 });
    expect(calls).toBe(3);
    expect(limited).toMatchObject({ delivered: 0, unresolved: [1, 2], gaveUp: false });
    calls = 0;
    const given = await s.resolver.resolve([7], always, s.signal, { giveUp: () => calls >= 2 });
    expect(calls).toBe(2);
    expect(given).toMatchObject({ unresolved: [7], gaveUp: true });
  });

  it('a request that got some items through counts as an answer from a working backend; all items refused for now do not', async () => {
    const s = setup(1);
    await s.resolver.resolve([1, 2], async (part) => ({ result: ok, items: part.length === 2 ? [ok, busy()] : [ok] }), s.signal);
    expect(s.breaker.state).toBe('closed');
    expect(s.status.lastError).toBeUndefined();
    await s.resolver.resolve([3], async () => ({ result: ok, items: [busy()] }), s.signal, { maxRounds: 1 });
    expect(s.breaker.state).toBe('open');
    expect(s.status.lastError).toContain('busy');
  });

  it('an item refused for good is the last error in health, without failing the backend', async () => {
    const s = setup(1);
    const r = await s.resolver.resolve([1, 2, 3], async () => ({ result: ok, items: [ok, bad, ok] }), s.signal);
    expect(r.permanent).toHaveLength(1);
    expect(s.breaker.state).toBe('closed');
    expect(s.status.lastError).toBe('mapper_parsing_exception');
    expect(s.status.dependency('fake', 'x', s.breaker.state)).toMatchObject({ status: 'up' });
  });

  it('stops at abort without judging the backend, and a send that throws is retried as an exporter bug', async () => {
    const s = setup(1);
    const abort = new AbortController();
    const r = await s.resolver.resolve([1], async () => {
      abort.abort();
      return { result: busy() };
    }, abort.signal);
    expect(r.unresolved).toEqual([1]);
    expect(s.breaker.state).toBe('closed');
    const t = setup();
    let calls = 0;
    const thrown = await t.resolver.resolve([2], async () => {
      if (++calls === 1) throw new Error('boom');
      return { result: ok };
    }, t.signal);
    expect(thrown.delivered).toBe(1);
    expect(calls).toBe(2);
  });

  it('request (an index template): retried, and counted like a batch request in the metrics and health', async () => {
    const s = setup();
    const answers = [busy(), { status: 'retryable', error: 'HTTP 503', httpStatus: 503 } as ExportResult, ok];
    let calls = 0;
    const r = await s.resolver.request(async () => answers[calls++], s.signal);
    expect(r).toMatchObject({ status: 'success', attempts: 3 });
    expect(await s.count('periscope_exporter_retried_requests_total')).toBe(2);
    expect(await s.count('periscope_exporter_failed_requests_total', 'retryable')).toBe(2);
    expect(s.status.lastError).toBe('HTTP 503');

    const refused = await s.resolver.request(async () => bad, s.signal);
    expect(refused).toMatchObject({ status: 'permanent', attempts: 1 });
    expect(await s.count('periscope_exporter_failed_requests_total', 'permanent')).toBe(1);
    expect(await s.count('periscope_exporter_retried_requests_total')).toBe(2);
  });
});

describe('BackendStatus', () => {
  const at = (status: BackendStatus) => status.dependency('loki', 'http://x', 'closed');
  it('a backend refusing every request (401, 403, 404) is degraded and never "last success"; a 400 about some records is not', () => {
    let now = 1_000;
    const status = new BackendStatus('x', silentLogger, () => now);
    status.note(ok);
    const success = at(status).lastSuccessAt;
    now += 1000;
    status.note({ status: 'permanent', error: 'HTTP 401: Unauthorized', httpStatus: 401 });
    expect(at(status)).toMatchObject({ status: 'degraded', lastError: 'HTTP 401: Unauthorized', lastSuccessAt: success, since: new Date(2_000).toISOString() });
    now += 1000;
    status.note(bad); // a 400: the backend answers, about those records
    expect(at(status)).toMatchObject({ status: 'up', lastError: 'mapper_parsing_exception', lastSuccessAt: new Date(3_000).toISOString() });
    expect(at(status).since).toBeUndefined();
  });
});
