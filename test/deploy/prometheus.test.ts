// A real Prometheus (Debian package) runs deploy/prometheus — the shipped prometheus.yml and
// rules, with only the collector's address (and the intervals, for speed) changed — against a
// running collector, and its HTTP API shows the scrape, the rules and the alert receiver.
// https://prometheus.io/docs/prometheus/2.42/querying/api/
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { startCollectorProcess, waitFor, type CollectorProcess } from '../helpers/collector-process.ts';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.ts';
import { DEPLOY, describeWithBinaries, readYaml } from './helpers.ts';

describeWithBinaries('deploy/prometheus in a real Prometheus', ['prometheus'], (bin) => {
  let collector: CollectorProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let api = '';
  let dir = '';
  const service = `deploy-check-${process.pid}`;
  const shipped = readYaml(join(DEPLOY, 'prometheus/prometheus.yml'));

  async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: any[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result;
  }

  async function get(path: string): Promise<any> {
    const res = await fetch(`${api}${path}`);
    return ((await res.json()) as { data: unknown }).data;
  }

  beforeAll(async () => {
    collector = await startCollectorProcess();
    // One record so the per-service log counter and the accepted counter have series.
    const ingest = await fetch(`${collector.url}/api/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ level: 'info', appName: service, msg: 'deploy check' })}\n`,
    });
    expect(ingest.status).toBe(200);

    // The shipped folder as is (rules/, targets/ resolve relative to the config file); only the
    // collector's address and the intervals differ.
    dir = mkdtempSync(join(tmpdir(), 'periscope-prometheus-'));
    cpSync(join(DEPLOY, 'prometheus'), join(dir, 'config'), { recursive: true });
    const configPath = join(dir, 'config/prometheus.yml');
    const config = parseYaml(readFileSync(configPath, 'utf8'));
    const target = `127.0.0.1:${collector.httpPort}`;
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    config.scrape_configs.find((s: any) => s.job_name === 'periscope-collector').static_configs = [{ targets: [target] }];
    config.alerting.alertmanagers[0].static_configs = [{ targets: [target] }];
    writeFileSync(configPath, stringify(config));

    prometheus = await startPrometheus({ bin: bin.prometheus, configFile: configPath, dataDir: join(dir, 'tsdb'), args: ['--log.level=warn'] });
    api = prometheus.url;
  });

  afterAll(async () => {
    await prometheus?.stop();
    await collector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes the collector: up{job="periscope-collector"} == 1', async () => {
    const up = (await waitFor(async () => {
      const r = await query('up{job="periscope-collector"}');
      return r.length === 1 && r[0].value[1] === '1' ? r : undefined;
    }))!;
    expect(up[0].metric.instance).toBe(`127.0.0.1:${collector!.httpPort}`);
  });

  it("stores the collector's periscope_ series under its job", async () => {
    const store = await waitFor(async () => (await query('periscope_store_records{job="periscope-collector"}')).length > 0);
    expect(store).toBe(true);
    const volume = (await waitFor(async () => {
      const r = await query(`periscope_log_records_total{service="${service}"}`);
      return r.length > 0 ? r : undefined;
    }))!;
    expect(volume[0].metric).toMatchObject({ job: 'periscope-collector', service, level: 'info' });
    expect(Number(volume[0].value[1])).toBe(1);
  });

  it('loads every shipped rule group, and each rule evaluates without error', async () => {
    const shippedGroups = ['alerts.yml', 'recording.yml'].flatMap((f) => readYaml(join(DEPLOY, 'prometheus/rules', f)).groups) as Array<{ name: string; rules: unknown[] }>;
    const groups = (await waitFor(async () => {
      const data = await get('/api/v1/rules');
      const all = data.groups as Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
      const evaluated = all.length === shippedGroups.length && all.every((g) => g.rules.every((r) => r.health !== 'unknown'));
      return evaluated ? all : undefined;
    }))!;
    expect(groups.map((g) => g.name).sort()).toEqual(shippedGroups.map((g) => g.name).sort());
    for (const g of groups) {
      expect(g.rules.length, g.name).toBe(shippedGroups.find((s) => s.name === g.name)!.rules.length);
      for (const r of g.rules) expect({ rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({ rule: r.name, health: 'ok', error: '' });
    }
  });

  it("sends alerts to the collector's /api/v2/alerts", async () => {
    const expected = `http://127.0.0.1:${collector!.httpPort}/api/v2/alerts`;
    const active = await waitFor(async () => {
      const data = await get('/api/v1/alertmanagers');
      const urls = (data.activeAlertmanagers as Array<{ url: string }>).map((a) => a.url);
      return urls.includes(expected) ? urls : undefined;
    });
    expect(active).toEqual([expected]);
    expect(shipped.alerting.alertmanagers[0].api_version).toBe('v2');
  });
});
