// The slow-operation view on a real collector: (service, span name) pairs come from senders (a
// UUID or an unnormalized URL in a span name), so at most traces.slowest.maxOperations are held;
// spans of further operations are left out of it, and /metrics says so.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess({ configYaml: 'traces:\n  slowest:\n    maxOperations: 5\n' });
});

afterAll(async () => {
  await collector?.dispose();
});

it('holds at most maxOperations operations and counts the spans left out on /metrics', async () => {
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: 200 }, (_, i) => ({
    traceId: (i + 1).toString(16).padStart(32, '0'),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    name: `GET /orders/${i}`,
    kind: 2,
    startTimeUnixNano: String(startNs),
    endTimeUnixNano: String(startNs + 1_000_000n),
  }));
  const body = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] }, scopeSpans: [{ spans }] }] };
  const res = await fetch(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);

  const text = await (await fetch(`${collector.url}/metrics`)).text();
  expect(text).toMatch(/^periscope_traces_slow_operations 5$/m);
  expect(text).toMatch(/^periscope_traces_slow_operation_spans_dropped_total 195$/m);
  const slowest = (await (await fetch(`${collector.url}/api/v1/traces/slowest?service=shop&limit=100`)).json()) as { operations: unknown[] };
  expect(slowest.operations).toHaveLength(5);
});
