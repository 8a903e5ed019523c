// OTLP/HTTP ingest on the real collector process: spans/s into the span store (durable: each
// 200 is after the SQLite commit; span metrics and slow operations updated on the way) and
// metric data points/s into the metric store. Protobuf bodies, built before the clock starts.
// Run: node bench/otlp-ingest.ts
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { REQUEST_TYPES } from '../collector/src/receivers/otlp/schema.ts';
import { startCollectorProcess } from '../test/helpers/collector-process.ts';
import { median, printTable } from './stats.ts';

const SPANS_PER_REQUEST = 500;
const POINTS_SERIES_PER_REQUEST = 200; // × (counter + gauge + 10-bucket histogram) = 600 points
const SENDERS = 3;

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

function spansBody(seed: number): Buffer {
  const start = BigInt(Date.now()) * 1_000_000n;
  const spans = [];
  for (let i = 0; i < SPANS_PER_REQUEST; i++) {
    const traceId = randomBytes(16);
    spans.push({
      traceId,
      spanId: randomBytes(8),
      parentSpanId: i % 4 === 0 ? Buffer.alloc(0) : randomBytes(8),
      name: `GET /api/orders/${i % 50}`,
      kind: i % 4 === 0 ? 2 : 3,
      startTimeUnixNano: String(start + BigInt(i) * 1000n),
      endTimeUnixNano: String(start + BigInt(i) * 1000n + BigInt(1_000_000 + ((seed * 7919 + i * 104729) % 50_000_000))),
      attributes: [str('http.method', 'GET'), str('http.route', `/api/orders/${i % 50}`), str('net.peer.name', 'db-1'), { key: 'http.status_code', value: { intValue: 200 } }],
      status: { code: i % 50 === 0 ? 2 : 0 },
    });
  }
  const request = REQUEST_TYPES.traces.fromObject({
    resourceSpans: [{ resource: { attributes: [str('service.name', `svc-${seed % 8}`), str('service.instance.id', `pod-${seed % 16}`)] }, scopeSpans: [{ scope: { name: 'bench' }, spans }] }],
  });
  return Buffer.from(REQUEST_TYPES.traces.encode(request).finish());
}

function metricsBody(seed: number, step: number): Buffer {
  const time = String(BigInt(Date.now()) * 1_000_000n + BigInt(step));
  const attrs = (i: number) => [str('route', `/api/orders/${i}`), str('method', 'GET')];
  const counters = [];
  const gauges = [];
  const histograms = [];
  for (let i = 0; i < POINTS_SERIES_PER_REQUEST; i++) {
    counters.push({ attributes: attrs(i), timeUnixNano: time, asInt: String(1000 + step * 10 + i) });
    gauges.push({ attributes: attrs(i), timeUnixNano: time, asDouble: (i % 13) / 13 });
    const buckets = [1, 2, 5, 8, 13, 21, 13, 8, 5, 2, 1].map((n) => String(n * (step + 1)));
    histograms.push({ attributes: attrs(i), timeUnixNano: time, count: String(79 * (step + 1)), sum: 12.5 * (step + 1), bucketCounts: buckets, explicitBounds: [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000] });
  }
  const request = REQUEST_TYPES.metrics.fromObject({
    resourceMetrics: [{
      resource: { attributes: [str('service.name', `svc-${seed % 8}`), str('service.instance.id', `pod-${seed}`)] },
      scopeMetrics: [{
        scope: { name: 'bench' },
        metrics: [
          { name: 'http.server.requests', unit: '{request}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: counters } },
          { name: 'pool.utilization', unit: '1', gauge: { dataPoints: gauges } },
          { name: 'http.server.duration', unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: histograms } },
        ],
      }],
    }],
  });
  return Buffer.from(REQUEST_TYPES.metrics.encode(request).finish());
}

function post(agent: http.Agent, port: number, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `bodies` from SENDERS concurrent connections for `durationMs`; returns items/s per 1 s window (after 1 s of warm-up). */
async function drive(port: number, path: string, bodies: Buffer[], itemsPerBody: number, durationMs: number): Promise<{ perSecond: number[]; failures: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS });
  let items = 0;
  let failures = 0;
  let next = 0;
  let stop = false;
  const perSecond: number[] = [];
  async function sender() {
    while (!stop && next < bodies.length) {
      const status = await post(agent, port, path, bodies[next++]);
      if (status === 200) items += itemsPerBody;
      else failures++;
    }
  }
  const warmupEnds = Date.now() + 1000;
  let last = 0;
  const sampler = setInterval(() => {
    if (Date.now() > warmupEnds) perSecond.push(items - last);
    last = items;
  }, 1000);
  const tasks = Array.from({ length: SENDERS }, () => sender());
  await Promise.race([new Promise((r) => setTimeout(r, durationMs + 1000)), Promise.all(tasks)]);
  stop = true;
  clearInterval(sampler);
  await Promise.all(tasks);
  agent.destroy();
  return { perSecond, failures };
}

export async function benchOtlpIngest(durationMs = 6000): Promise<Array<Record<string, string | number>>> {
  // Unique span ids in every body (a resent span would be skipped, not stored): enough bodies for the run.
  const spanBodies = Array.from({ length: 360 }, (_, i) => spansBody(i));
  const metricBodies: Buffer[] = [];
  for (let step = 0; metricBodies.length < 4000; step++) for (let s = 0; s < 8; s++) metricBodies.push(metricsBody(s, step));

  const collector = await startCollectorProcess();
  try {
    const spans = await drive(collector.httpPort, '/v1/traces', spanBodies, SPANS_PER_REQUEST, durationMs);
    const points = await drive(collector.httpPort, '/v1/metrics', metricBodies, POINTS_SERIES_PER_REQUEST * 3, durationMs);
    const health = (await (await fetch(`${collector.url}/health/detailed`)).json()) as { components?: Record<string, any> };
    return [
      { measure: `OTLP spans/s (protobuf, ${SPANS_PER_REQUEST}/request, ${SENDERS} senders, durable), median of 1 s windows`, value: Math.round(median(spans.perSecond)), target: '' },
      { measure: 'OTLP spans/s, slowest 1 s window', value: Math.min(...spans.perSecond), target: '' },
      { measure: `OTLP metric points/s (protobuf, ${POINTS_SERIES_PER_REQUEST * 3}/request), median of 1 s windows`, value: Math.round(median(points.perSecond)), target: '' },
      { measure: 'OTLP metric points/s, slowest 1 s window', value: Math.min(...points.perSecond), target: '' },
      { measure: 'non-200 answers (spans + metrics)', value: spans.failures + points.failures, target: '0' },
      { measure: 'spans stored', value: health.components?.traces?.spans ?? 'n/a', target: '' },
    ];
  } finally {
    await collector.dispose();
  }
}

if (import.meta.main) {
  printTable('Collector OTLP ingest (real process, protobuf over HTTP/1.1 keep-alive)', await benchOtlpIngest());
}
