// promql rules against a REAL Prometheus (Debian package, DESIGN.md "Real components"): the test
// runs a tiny /metrics server, starts /usr/bin/prometheus on a free loopback port with a temp TSDB
// scraping it every second, and evaluates rules through the HTTP API. Skipped with the reason when
// the binary is missing; in CI (CI=true) a missing binary fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.ts';
import { defaultRulesConfig } from '../config.ts';
import { ALERT_ERR } from '../errors.ts';
import type { AlertEvent } from '../types.ts';
import { AlertingEngine } from './engine.ts';
import { createPrometheusClient, type PrometheusClient } from './prometheus.ts';
import { freePort } from '../../../test/helpers/net.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const havePrometheus = existsSync(PROMETHEUS);

describe.runIf(!havePrometheus && process.env.CI === 'true')('promql rules in CI', () => {
  it('needs Prometheus', () => {
    throw new Error(`${PROMETHEUS} is missing: install the Debian package "prometheus" (.ci/run does)`);
  });
});


async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe.skipIf(!havePrometheus)(`promql rules against a real Prometheus${havePrometheus ? '' : ` (skipped: ${PROMETHEUS} not installed)`}`, () => {
  let gauge = 10;
  let metricsServer: Server;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let promLog = '';
  let dir: string;
  let client: PrometheusClient;
  let engine: AlertingEngine;
  const events: AlertEvent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'periscope-promql-'));
    metricsServer = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE periscope_test_load gauge\nperiscope_test_load{shard="a"} ${gauge}\nperiscope_test_load{shard="b"} 1\n`);
    });
    await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(metricsServer.address() as { port: number }).port}`;
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: periscope-test\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    prometheus = spawn(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus.stderr?.on('data', (d: Buffer) => {
      promLog = (promLog + d.toString()).slice(-4000);
    });
    await waitFor(`Prometheus ready (${promLog})`, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
    client = createPrometheusClient({ url: promUrl, timeoutMs: 5000 });
    await waitFor('first scrape', async () => ((await client.query('up{job="periscope-test"} == 1', Date.now())).length ? true : undefined));

    engine = new AlertingEngine({
      sink: { onTransition: (e) => void events.push(e) },
      dataDir: join(dir, 'alerting'),
      clock: systemClock,
      prometheus: client,
      autoEvaluate: false,
      config: defaultRulesConfig({ flapping: { enabled: false, window: 21, high: 20, low: 5 } }),
      logger: { warn: () => {}, error: () => {} },
      rules: [
        { id: 'target-up', name: 'TargetUp', kind: 'promql', expr: 'up{job="periscope-test"} == 1', annotations: { summary: '{{ $labels.instance }} is up ({{ $value }})' } },
        { id: 'load', name: 'HighLoad', kind: 'promql', expr: 'periscope_test_load', threshold: 90, clearThreshold: 80 },
        // Parses (the grammar checks rules at load), fails at evaluation: rate needs a range vector.
        { id: 'broken', name: 'Broken', kind: 'promql', expr: 'rate(up)' },
      ],
    });
    await engine.start();
  }, 60_000);

  afterAll(async () => {
    await engine?.shutdown();
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await new Promise((resolve) => metricsServer?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function setGauge(v: number) {
    gauge = v;
    await waitFor(`gauge ${v} scraped`, async () => {
      const r = await client.query('periscope_test_load{shard="a"}', Date.now());
      return r[0]?.value === v ? true : undefined;
    });
  }

  async function evaluate() {
    await engine.evaluateAll();
    await engine.flush();
  }

  const stateOf = (ruleId: string) => engine.alerts({ rule: ruleId, states: ['pending', 'firing', 'resolved', 'nodata', 'error'] }).map((a) => `${a.labels.shard ?? a.labels.instance ?? ''}:${a.state}`).sort();

  it('filter expression: one firing alert per returned series, labels and value from Prometheus', async () => {
    await evaluate();
    const up = events.filter((e) => e.ruleId === 'target-up');
    expect(up).toHaveLength(1);
    expect(up[0]).toMatchObject({ state: 'firing', value: 1, labels: { alertname: 'TargetUp', job: 'periscope-test' } });
    expect(up[0].labels.__name__).toBeUndefined();
    expect(up[0].annotations.summary).toMatch(/^127\.0\.0\.1:\d+ is up \(1\)$/);
  });

  it('threshold with hysteresis over real series: fire > 90, hold at 85, clear < 80', async () => {
    await setGauge(95);
    await evaluate();
    expect(stateOf('load')).toEqual(['a:firing']);
    await setGauge(85);
    await evaluate();
    expect(stateOf('load')).toEqual(['a:firing']);
    await setGauge(70);
    await evaluate();
    expect(stateOf('load')).toEqual(['a:resolved']);
  });

  it('a bad expression is the error state with Prometheus\'s message', async () => {
    await evaluate();
    expect(engine.getRule('broken')).toMatchObject({ health: 'error' });
    expect(engine.getRule('broken')?.lastError).toMatch(/bad_data|expected type range vector/);
    await expect(client.query('rate(up)', Date.now())).rejects.toMatchObject({ code: ALERT_ERR.PROMETHEUS_QUERY });
  });

  it('Prometheus going away turns a firing alert into error, never resolved', async () => {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus!.kill('SIGTERM');
    await exited;
    await expect(client.query('up', Date.now())).rejects.toMatchObject({ code: ALERT_ERR.PROMETHEUS_UNAVAILABLE });
    await evaluate();
    const up = events.filter((e) => e.ruleId === 'target-up').map((e) => `${e.previousState}->${e.state}`);
    expect(up).toEqual(['inactive->firing', 'firing->error']);
    expect(stateOf('target-up')).toEqual([expect.stringMatching(/:error$/)]);
    expect(events.some((e) => e.ruleId === 'target-up' && e.state === 'resolved')).toBe(false);
  });
});
