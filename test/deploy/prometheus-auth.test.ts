// A real Prometheus (Debian package) against a collector with http.auth and http.tls, configured
// with the credential and TLS lines that deploy/prometheus/prometheus.yml ships commented out: its
// scrape and its alert delivery to POST /api/v2/alerts get through with them, and a scrape
// without credentials is refused. (The alertmanagers block once had the credential lines only:
// Prometheus posted plain HTTP to the https port, got 400 and delivered no alert.)
// https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#scrape_config
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { startCollectorProcess, waitFor, type CollectorProcess } from '../helpers/collector-process.ts';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';
import { DEPLOY, describeWithBinaries } from './helpers.ts';

const TOKEN = 'prometheus-token-0123456789abcdef';
const PASSWORD = 'prometheus-pässword';

/** The `# authorization: {…}` and `# basic_auth: {…}` lines of the shipped file, in order, parsed. */
function commentedCredentials(text: string): Array<{ key: string; value: Record<string, string> }> {
  return [...text.matchAll(/^\s*# (authorization|basic_auth): (\{.*\})$/gm)].map((m) => ({ key: m[1], value: parseYaml(m[2]) }));
}

/** The `# scheme: https` and `# tls_config: {…}` lines of the shipped file, in order, parsed. */
function commentedTls(text: string): Array<{ key: string; value: unknown }> {
  return [...text.matchAll(/^\s*# (scheme|tls_config): (https|\{.*\})$/gm)].map((m) => ({ key: m[1], value: parseYaml(m[2]) }));
}

describeWithBinaries('deploy/prometheus against a collector with http.auth and http.tls', ['prometheus', 'openssl'], (bin) => {
  let collector: CollectorProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let api = '';
  let dir = '';
  let certs: TestCerts | undefined;

  async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const body = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { status: string; data: { result: any[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'periscope-prometheus-auth-'));
    writeFileSync(join(dir, 'periscope-token'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'periscope-password'), `${PASSWORD}\n`);
    certs = makeTestCerts();
    collector = await startCollectorProcess({
      configYaml: `http:\n  tls: { certFile: ${certs.serverCert}, keyFile: ${certs.serverKey} }\n  auth:\n    basicUsers:\n      prometheus: "${bcrypt.hashSync(PASSWORD, 4)}"\n    bearerTokens: ["\${file:${join(dir, 'periscope-token')}}"]\n`,
    });

    cpSync(join(DEPLOY, 'prometheus'), join(dir, 'config'), { recursive: true });
    const configPath = join(dir, 'config/prometheus.yml');
    const shippedText = readFileSync(configPath, 'utf8');
    const lines = commentedCredentials(shippedText);
    // Two for the alertmanagers, then two for the collector's scrape job.
    expect(lines.map((l) => l.key)).toEqual(['authorization', 'basic_auth', 'authorization', 'basic_auth']);
    // The same for TLS: scheme and tls_config for the alertmanagers, then for the scrape job.
    const tls = commentedTls(shippedText);
    expect(tls.map((l) => l.key)).toEqual(['scheme', 'tls_config', 'scheme', 'tls_config']);
    const withTls = (block: Record<string, unknown>, [scheme, tlsConfig]: typeof tls) => {
      block[scheme.key] = scheme.value;
      block[tlsConfig.key] = { ...(tlsConfig.value as object), ca_file: certs!.ca };
    };
    const located = (v: Record<string, string>) => ({
      ...v,
      ...(v.credentials_file && { credentials_file: join(dir, 'periscope-token') }),
      ...(v.password_file && { password_file: join(dir, 'periscope-password') }),
    });
    const config = parseYaml(shippedText);
    const target = `127.0.0.1:${collector.httpPort}`;
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    const job = config.scrape_configs.find((s: any) => s.job_name === 'periscope-collector');
    job.static_configs = [{ targets: [target] }];
    withTls(job, tls.slice(2));
    config.scrape_configs.push(
      { ...job, job_name: 'periscope-collector-basic', [lines[3].key]: located(lines[3].value) },
      { ...job, job_name: 'periscope-collector-none' },
    );
    job[lines[2].key] = located(lines[2].value);
    config.alerting.alertmanagers[0].static_configs = [{ targets: [target] }];
    config.alerting.alertmanagers[0][lines[0].key] = located(lines[0].value);
    withTls(config.alerting.alertmanagers[0], tls.slice(0, 2));
    writeFileSync(configPath, stringify(config));
    // An alert that fires at once, so that Prometheus posts to the collector's /api/v2/alerts.
    writeFileSync(join(dir, 'config/rules/auth-check.yml'), stringify({ groups: [{ name: 'auth-check', rules: [{ alert: 'AuthCheckFiring', expr: 'vector(1)', labels: { severity: 'info' } }] }] }));

    prometheus = await startPrometheus({ bin: bin.prometheus, configFile: configPath, dataDir: join(dir, 'tsdb'), args: ['--log.level=warn', '--rules.alert.resend-delay=1s'] });
    api = prometheus.url;
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await collector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    certs?.remove();
  });

  it('scrapes with the bearer token and with basic auth (up == 1); without credentials the scrape fails (up == 0)', async () => {
    const ups = await waitFor(async () => {
      const r = await query('up{job=~"periscope-collector.*"}');
      return r.length === 3 ? Object.fromEntries(r.map((s) => [s.metric.job, s.value[1]])) : undefined;
    });
    expect(ups).toEqual({ 'periscope-collector': '1', 'periscope-collector-basic': '1', 'periscope-collector-none': '0' });
  });

  it("delivers its alerts to the collector's /api/v2/alerts with the token", async () => {
    // Prometheus' own counters (https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#alertmanager_config):
    // a refused POST (401) counts in errors, not in sent.
    const counter = (text: string, name: string) => Number(new RegExp(`^${name}\\{alertmanager="[^"]*/api/v2/alerts"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    const text = await waitFor(async () => {
      const t = await (await fetch(`${api}/metrics`)).text();
      return counter(t, 'prometheus_notifications_sent_total') + counter(t, 'prometheus_notifications_errors_total') > 0 ? t : undefined;
    });
    expect({ sent: counter(text, 'prometheus_notifications_sent_total') > 0, errors: counter(text, 'prometheus_notifications_errors_total') }).toEqual({ sent: true, errors: 0 });
  });
});
