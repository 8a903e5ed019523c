// Real Prometheus (Debian package) against the real collector process: it scrapes /metrics
// (which must also pass `promtool check metrics`) and receives the collector's remote write
// (--web.enable-remote-write-receiver); the test queries Prometheus' HTTP API for the series.
// Without the binaries the test is skipped with the reason, except in CI (CI=true) where it fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { freePort } from './helpers/net.ts';
import { startPrometheus, type PrometheusProcess } from './helpers/prometheus.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const missing = [PROMETHEUS, PROMTOOL].filter((p) => !existsSync(p));
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`${missing.join(', ')} not installed: CI must install the Debian package "prometheus"`);
}
const describeWithPrometheus = missing.length > 0 ? describe.skip : describe;
if (missing.length > 0) console.warn(`skipping: ${missing.join(', ')} not installed (Debian package "prometheus")`);

/**
 * Starts the real Prometheus with the remote write receiver, scraping `scrapeTarget` when given;
 * on `port` when given (the collector's remote write URL names it), else on a free one.
 */
async function startReceivingPrometheus(dir: string, port: number | undefined, scrapeTarget?: string): Promise<PrometheusProcess> {
  const scrape = scrapeTarget
    ? `scrape_configs:
  - job_name: periscope
    static_configs:
      - targets: ['${scrapeTarget}']
`
    : '';
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n${scrape}`);
  return startPrometheus({ bin: PROMETHEUS, configFile: join(dir, 'prometheus.yml'), dataDir: join(dir, 'data'), port, args: ['--web.enable-remote-write-receiver'] });
}

type Series = Array<{ metric: Record<string, string>; value: [number, string] }>;

/** A query against Prometheus' HTTP API (a range selector gives `values` instead of `value`). */
async function queryPrometheus<T = Series>(promUrl: string, q: string): Promise<T> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: T } };
  expect(body.status).toBe('success');
  return body.data.result;
}

describeWithPrometheus('Prometheus scrapes and receives remote write', () => {
  let collector: CollectorProcess;
  let prometheus: PrometheusProcess;
  let promUrl: string;
  const dir = mkdtempSync(join(tmpdir(), 'periscope-prom-'));
  const service = `prom-${Date.now()}`;

  beforeAll(async () => {
    const collectorPort = await freePort();
    prometheus = await startReceivingPrometheus(dir, undefined, `127.0.0.1:${collectorPort}`);
    promUrl = prometheus.url;
    collector = await startCollectorProcess({
      httpAddr: `127.0.0.1:${collectorPort}`,
      configYaml: `exporters:
  - type: prometheusRemoteWrite
    name: prom
    url: ${promUrl}/api/v1/write
    interval: 1s
    externalLabels: { source: remote-write }
`,
    });
    const records = ['info', 'info', 'err'].map((level, i) => JSON.stringify({ appName: service, level, msg: `prom ${i}` })).join('\n');
    const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body: records, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(200);
  });

  afterAll(async () => {
    if (collector) expect(await collector.stop()).toBe(0);
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = (q: string) => queryPrometheus(promUrl, q);

  it('/metrics passes promtool check metrics', async () => {
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });

  it('the scrape has the log-derived counters and the exporter metrics', async () => {
    const series = await waitFor(async () => {
      const r = await query(`periscope_log_records_total{job="periscope",service="${service}"}`);
      return r.length === 2 ? r : undefined;
    }, 30_000, 250);
    expect(Object.fromEntries(series!.map((s) => [s.metric.level, s.value[1]]))).toEqual({ info: '2', err: '1' });
    const circuit = await query('periscope_exporter_circuit_state{job="periscope",exporter="prom",state="closed"}');
    expect(circuit.map((s) => s.value[1])).toEqual(['1']);
  });

  it('remote write delivers the same series (with the external label)', async () => {
    const series = await waitFor(async () => {
      const r = await query(`periscope_log_records_total{source="remote-write",service="${service}"}`);
      return r.length === 2 ? r : undefined;
    }, 30_000, 250);
    expect(Object.fromEntries(series!.map((s) => [s.metric.level, s.value[1]]))).toEqual({ info: '2', err: '1' });
    expect(series![0].metric.job).toBeUndefined(); // not the scraped copy
    const sent = await waitFor(async () => {
      const r = await query('periscope_exporter_sent_items_total{job="periscope",exporter="prom"}');
      return r.length === 1 && Number(r[0].value[1]) > 0 ? r : undefined;
    }, 30_000, 250);
    expect(Number(sent![0].value[1])).toBeGreaterThan(0);
    const failed = await query('sum(periscope_exporter_failed_requests_total{job="periscope",exporter="prom"})');
    expect(failed[0].value[1]).toBe('0');
  });

  it('a series that leaves /metrics leaves the remote Prometheus too (stale marker), as it leaves the scraping one', async () => {
    const point = (fields: Record<string, unknown>) => ({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [{ metrics: [{ name: 'room.temperature', gauge: { dataPoints: [{ timeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`, ...fields }] } }] }],
      }],
    });
    const post = async (body: unknown) => {
      const res = await fetch(`${collector.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(await res.text()).toBe('{}');
    };
    const selector = 'room_temperature'; // scraped (exported_job: no honor_labels here) and remote-written (job)
    await post(point({ asDouble: 21.5 }));
    await waitFor(async () => (await query(selector)).length === 2, 30_000, 250);
    await post(point({ flags: 1 })); // FLAG_NO_RECORDED_VALUE: the series is gone
    // Without a stale marker the remote-written copy stayed for Prometheus' 5-minute lookback.
    await waitFor(async () => (await query(selector)).length === 0, 30_000, 250);
  });
});

// Prometheus' own remote write resumes from its WAL after a restart; the collector's queue is in
// its database: what was read during an outage reaches Prometheus after a kill -9 and a restart.
describeWithPrometheus('remote write samples queued while Prometheus is down survive kill -9', () => {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-prom-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'periscope-prom-data-'));
  let collector: CollectorProcess | undefined;
  let prometheus: PrometheusProcess | undefined;

  afterAll(async () => {
    if (collector) await collector.stop();
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends them after the restart, with the times they were read at', async () => {
    const promPort = await freePort();
    const configYaml = `exporters:
  - type: prometheusRemoteWrite
    name: prom
    url: http://127.0.0.1:${promPort}/api/v1/write
    interval: 1s
    retry: { initialBackoff: 50ms, maxBackoff: 200ms }
`;
    const service = `queued-${Date.now()}`;
    collector = await startCollectorProcess({ dataDir, configYaml });
    const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', body: JSON.stringify({ appName: service, level: 'info', msg: 'm' }), headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    const c = collector;
    const queued = async () => ((await (await fetch(`${c.url}/health/detailed`)).json()) as any).components.exporters.exporters.prom.queue.requests as number;
    // Four more reads queued, none sent (nothing listens on Prometheus' port yet): the first may
    // have begun before the record came in; the other three have its series.
    const before = await queued();
    await waitFor(async () => (await queued()) >= before + 4, 30_000, 100);
    const killedAtMs = Date.now();
    await collector.kill();

    prometheus = await startReceivingPrometheus(dir, promPort);
    collector = await startCollectorProcess({ dataDir, configYaml });
    // Raw samples of the last 5 minutes: those stamped before the kill came from the queue.
    const samples = await waitFor(async () => {
      const r = await queryPrometheus<Array<{ values: Array<[number, string]> }>>(prometheus!.url, `periscope_log_records_total{service="${service}"}[5m]`);
      const before = (r[0]?.values ?? []).filter(([t]) => t * 1000 < killedAtMs);
      return before.length >= 3 ? before : undefined;
    }, 30_000, 250);
    expect(samples.every(([, v]) => v === '1')).toBe(true);
    expect(collector.output()).toMatch(/samples queued before the restart will be sent first/);
  });
});
