// The SDK in a child process against the REAL collector process: logs, traces joined with logs,
// metrics on /metrics, and a collector that is down and then comes up.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricNamesIn } from '../dashboards/src/inspect.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { runSdkApp } from './helpers/sdk-app.ts';
import { shippedQueries } from './helpers/metric-reads.ts';
import { freePort } from './helpers/net.ts';


const runApp = (scenario: string, env: Record<string, string>, onLine?: (line: string) => void) => runSdkApp(scenario, env, { onLine });


describe('SDK → collector', () => {
  let collector: CollectorProcess;
  beforeAll(async () => {
    collector = await startCollectorProcess();
  });
  afterAll(async () => {
    await collector?.stop();
  });
  const api = async (path: string) => (await fetch(collector.url + path)).json() as Promise<any>;

  it('the query API returns exactly what the app logged', async () => {
    const service = `sdk-logs-${Date.now()}`;
    const { code, result, stderr } = await runApp('logs', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_LOG_LEVEL: 'trace' });
    expect(code, stderr).toBe(0);
    expect(result.sent).toBe(8);
    const { records } = await api(`/api/v1/logs?service=${service}&limit=100`);
    expect(records).toHaveLength(8);
    const byMsg = new Map(records.map((r: any) => [r.msg.slice(0, 40), r]));
    const levels = ['at trace', 'at debug', 'order created', 'stock low ünïcødé 日本語 🚀', 'payment failed', 'out of memory'].map((m) => {
      const r: any = byMsg.get(m);
      return [m, r.severity, r.level];
    });
    expect(levels).toEqual([
      ['at trace', 7, 'debug'], ['at debug', 7, 'debug'], ['order created', 6, 'info'],
      ['stock low ünïcødé 日本語 🚀', 4, 'warning'], ['payment failed', 3, 'err'], ['out of memory', 2, 'crit'],
    ]);
    const order: any = byMsg.get('order created');
    expect(order).toMatchObject({ appName: service, facility: 1, procId: expect.stringMatching(/^\d+$/), hostname: expect.any(String), attributes: { orderId: 42, user: { id: 'u1' } } });
    expect(order.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const sd: any = byMsg.get('with structured data');
    expect(sd.structuredData).toEqual({ 'order@32473': { id: '1001', currency: 'EUR' } });
    expect(sd.attributes).toMatchObject({ requestId: 'req-7' });
    const big: any = records.find((r: any) => r.attributes?.big === true);
    expect(big.msg).toBe('x'.repeat(64 * 1024));
    // Searchable by structured data, like any other record.
    const bySd = await api(`/api/v1/logs?service=${service}&sd.order@32473.currency=EUR`);
    expect(bySd.records).toHaveLength(1);
  });

  it('spans of an instrumented HTTP service are found by trace ID with their logs; metrics reach /metrics', async () => {
    const service = `sdk-traces-${Date.now()}`;
    const { code, result, stderr } = await runApp('traced-http', {
      PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_INSTRUMENTATIONS: 'http', PERISCOPE_SERVICE_INSTANCE_ID: 'inst-1',
    });
    expect(code, stderr).toBe(0);
    const traceId: string = result.traceId;
    const trace = await waitFor(async () => {
      const res = await fetch(`${collector.url}/api/v1/traces/${traceId}`);
      if (res.status !== 200) return undefined;
      const body: any = await res.json();
      return body.spans.length >= 5 ? body : undefined;
    }, 60_000);
    const spans: any[] = trace.spans;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const root = spans.find((s) => s.name === 'client call');
    expect(root.parentSpanId ?? null).toBe(null);
    // client call → GET (client) → GET /checkout (server) → GET (client) → GET /downstream (server)
    const servers = spans.filter((s) => s.kind === 'SPAN_KIND_SERVER');
    expect(spans.filter((s) => s.kind === 'SPAN_KIND_CLIENT').length).toBe(2);
    expect(servers.length).toBe(2);
    for (const s of spans) {
      if (s === root) continue;
      expect(byId.has(s.parentSpanId), `parent of ${s.name}`).toBe(true);
    }
    const logsOf = (s: any) => (s.logs ?? []).map((l: any) => l.msg);
    const allLogs = spans.flatMap(logsOf);
    expect(allLogs).toEqual(expect.arrayContaining(['checkout handling', 'downstream handled', 'client call done']));
    expect(logsOf(root)).toContain('client call done');
    // The same trace ID on the log records themselves.
    const logs = await api(`/api/v1/logs?traceId=${traceId}`);
    expect(logs.records.map((r: any) => r.msg).sort()).toEqual(['checkout handling', 'client call done', 'downstream handled']);

    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${collector.url}/metrics`)).text();
      // The GC histogram has samples only once the app has collected garbage: wait for it too.
      const ready = text.includes(`orders_created_total{`) && text.includes('traces_span_metrics_calls_total') && text.includes('v8js_gc_duration_seconds_count{');
      return ready ? text : undefined;
    }, 60_000);
    const series = (name: string) => metrics.split('\n').filter((l) => l.startsWith(name) && l.includes(`job="${service}"`));
    expect(series('orders_created_total{').join('\n')).toMatch(/channel="web"/);
    expect(series('orders_created_total{')[0]).toMatch(/instance="inst-1"/);
    expect(series('orders_created_total{')[0]).toMatch(/ 3$/);
    expect(series('traces_span_metrics_calls_total{').length).toBeGreaterThan(0);
    // Every runtime metric a dashboard or shipped rule reads is one the SDK sends, under that name.
    const runtimeRead = new Set(shippedQueries().flatMap((q) => metricNamesIn(q.expr)).filter((n) => /^(nodejs|v8js|process)_/.test(n)));
    expect(runtimeRead.size).toBeGreaterThan(5);
    for (const runtime of runtimeRead) expect(series(`${runtime}{`).length, runtime).toBeGreaterThan(0);
  });

  it('spans and data points the collector refuses in an accepted export are counted and reported, not counted as exported', async () => {
    const service = `sdk-refused-${Date.now()}`;
    const { code, result, stderr } = await runApp('refused', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_RUNTIME_METRICS: 'false' });
    expect(code, stderr).toBe(0);
    expect(result.spans).toEqual({ exported: 1, failed: 1, dropped: 0 });
    expect(result.metrics.rejectedPoints).toBeGreaterThan(0);
    // one warning per signal, with the collector's reason, reaches the collector like any log
    const { records } = await api(`/api/v1/logs?service=${service}&limit=100`);
    const warnings = records.filter((r: any) => r.msgId === 'otlp-partial-success');
    expect(warnings.map((r: any) => [r.msg, r.attributes.error.match(/PERISCOPE_ERR_\w+/)?.[0]]).sort()).toEqual([
      ['the collector refused metric data points', 'PERISCOPE_ERR_OTLP_LABEL_TOO_LARGE'],
      ['the collector refused spans', 'PERISCOPE_ERR_OTLP_SPAN_TOO_LARGE'],
    ]);
  });
});

it('collector down, then up: the app never throws, its buffer stays bounded, delivery resumes', async () => {
  const port = await freePort();
  const service = `sdk-outage-${Date.now()}`;
  const maxBufferBytes = 64 * 1024;
  const stopFile = join(mkdtempSync(join(tmpdir(), 'periscope-outage-')), 'stop');
  let logging!: () => void;
  const started = new Promise<void>((r) => (logging = r));
  const app = runApp('outage', {
    PERISCOPE_ENDPOINT: `http://127.0.0.1:${port}`, APP_SERVICE: service, APP_STOP_FILE: stopFile,
    FIXTURE_MAX_BUFFER: String(maxBufferBytes), PERISCOPE_TRACES_ENABLED: 'false', PERISCOPE_METRICS_ENABLED: 'false',
  }, (line) => line === 'LOGGING' && logging());
  await started;
  await new Promise((r) => setTimeout(r, 1500)); // the app logs into the void for a while
  const collector = await startCollectorProcess({ httpAddr: `127.0.0.1:${port}` });
  try {
    // Delivery resumes on the SDK's own retry schedule (backoff capped at 30 s).
    await waitFor(async () => {
      const stats = (await (await fetch(`${collector.url}/api/v1/logs/stats?service=${service}&interval=1h`)).json()) as any;
      return stats.buckets.length > 0;
    }, 90_000, 200);
    writeFileSync(stopFile, '');
    const { code, result, stderr } = await app;
    expect(code, stderr).toBe(0);
    const stats = result.stats;
    const dropped = Object.values(stats.dropped as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(stats.sent).toBeGreaterThan(0);
    expect(result.maxBuffered).toBeLessThanOrEqual(maxBufferBytes);
    expect(stats.dropped.buffer_full).toBeGreaterThan(0); // the outage outgrew the bound and was counted
    expect(stats.sent + dropped).toBe(result.logged); // every record accounted for
    const stored = (await (await fetch(`${collector.url}/api/v1/logs/stats?service=${service}&interval=1h`)).json()) as any;
    const total = stored.buckets.reduce((n: number, b: any) => n + b.count, 0);
    expect(total).toBe(stats.sent);
  } finally {
    writeFileSync(stopFile, '');
    await collector.stop();
  }
}, 180_000);

it('an answer lost on its way back: the SDK retries the batch under its Idempotency-Key and the collector stores it once', async () => {
  const collector = await startCollectorProcess();
  const upstream = new URL(collector.url);
  // A proxy that forwards every request, and for the first log batch lets the collector commit
  // it, then resets the app's connection instead of passing the answer on.
  let dropped = 0;
  const proxy = http.createServer((req, res) => {
    const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      if (req.url === '/api/v1/logs' && dropped === 0) {
        dropped++;
        answer.resume();
        answer.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(forward);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const service = `sdk-lost-answer-${Date.now()}`;
  try {
    const { code, result, stderr } = await runApp('logs', {
      PERISCOPE_ENDPOINT: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, APP_SERVICE: service, PERISCOPE_LOG_LEVEL: 'trace',
      PERISCOPE_TRACES_ENABLED: 'false', PERISCOPE_METRICS_ENABLED: 'false',
    });
    expect(code, stderr).toBe(0);
    expect(dropped).toBe(1);
    expect(result).toMatchObject({ sent: 8, retries: 1 });
    const stored = (await (await fetch(`${collector.url}/api/v1/logs/stats?service=${service}&interval=1h`)).json()) as any;
    expect(stored.buckets.reduce((n: number, b: any) => n + b.count, 0)).toBe(8);
    expect(await (await fetch(`${collector.url}/metrics`)).text()).toMatch(/^periscope_receiver_replayed_requests_total\{receiver="native"\} 1$/m);
  } finally {
    proxy.close();
    await collector.stop();
  }
});
