// A real Prometheus (Debian package, 2.42) points `alerting.alertmanagers` at Periscope: its
// alerting rule fires, Prometheus posts the alert to POST /api/v2/alerts (Alertmanager API v2),
// and Periscope routes it into an escalation chain — the thing Alertmanager itself cannot do —
// which an acknowledgement stops. The same Prometheus also serves a `promql` rule of Periscope's
// own engine (real PromQL over its HTTP API). Skipped with the reason when the binary is missing
// (a failure in CI).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBinaries } from './deploy/helpers.ts';
import { freePort, slackText, startStandIn, type StandIn } from './helpers/alerting.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startPrometheus, type PrometheusProcess } from './helpers/prometheus.ts';

const WAIT_S = 2;

describeWithBinaries('a real Prometheus sends its alerts to Periscope, which escalates them', ['prometheus'], (bin) => {
  let collector: CollectorProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let promUrl = '';
  let dir = '';
  let slack: StandIn;
  let hook: StandIn;

  const slackTitles = () => slack.requests.map((r) => slackText(r.body).split('\n')[0]);

  async function api(path: string, init?: RequestInit): Promise<{ status: number; json: any }> {
    const res = await fetch(collector!.url + path, init);
    return { status: res.status, json: await res.json() };
  }

  beforeAll(async () => {
    slack = await startStandIn();
    hook = await startStandIn();
    dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-prom-'));
    const collectorPort = await freePort();
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    writeFileSync(join(dir, 'periscope-rules.yaml'), [
      'rules:',
      '  - name: PeriscopeScrapedByPrometheus',
      '    kind: promql',
      '    expr: up{job="periscope"} == 1',
      '    interval: 1s',
      '    severity: info',
      '',
    ].join('\n'));
    collector = await startCollectorProcess({
      httpAddr: `127.0.0.1:${collectorPort}`,
      configYaml: `alerting:
  ruleFiles: [${join(dir, 'periscope-rules.yaml')}]
  prometheus: { url: '${promUrl}', timeout: 2s }
  ack: { baseUrl: 'http://127.0.0.1:${collectorPort}' }
  receivers:
    - name: team-slack
      slack: [{ webhookUrl: '${slack.url}/services/T0/B0/prom' }]
    - name: oncall-hook
      webhook: [{ url: '${hook.url}/oncall' }]
  escalations:
    - name: prom-chain
      repeat: 2
      steps:
        - { notify: [team-slack], wait: ${WAIT_S}s }
        - { notify: [oncall-hook], wait: ${WAIT_S}s }
  route:
    receiver: team-slack
    groupBy: [alertname]
    groupWait: 0s
    groupInterval: 1s
    routes:
      - matchers: ['team="e2e"']
        escalation: prom-chain
`,
    });

    writeFileSync(join(dir, 'rules.yml'), [
      'groups:',
      '  - name: e2e',
      '    interval: 1s',
      '    rules:',
      '      - alert: CollectorScraped',
      '        expr: up{job="periscope"} == 1',
      '        labels: { severity: critical, team: e2e }',
      "        annotations: { summary: 'Prometheus scrapes {{ $labels.instance }}' }",
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files: [rules.yml]',
      'alerting:',
      '  alertmanagers:',
      '    - api_version: v2',
      '      timeout: 5s',
      '      static_configs:',
      `        - targets: ['127.0.0.1:${collectorPort}']`,
      'scrape_configs:',
      '  - job_name: periscope',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${collectorPort}']`,
      '',
    ].join('\n'));
    // On the port chosen above: the collector's alerting.prometheus.url already points there.
    prometheus = await startPrometheus({ bin: bin.prometheus, configFile: join(dir, 'prometheus.yml'), dataDir: join(dir, 'tsdb'), port: promPort, args: ['--log.level=warn'] });
  });

  afterAll(async () => {
    await prometheus?.stop();
    if (collector) expect(await collector.stop()).toBe(0);
    await Promise.all([slack?.close(), hook?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the Prometheus alert arrives through POST /api/v2/alerts, escalates Slack → webhook, and an ack stops the chain', async () => {
    // Step 1: Slack.
    await waitFor(() => slackTitles().some((t) => t.startsWith('[FIRING:1] CollectorScraped')), 20_000, 100);
    const slackAt = slack.requests.find((r) => slackText(r.body).startsWith('[FIRING:1] CollectorScraped'))!.at;
    const text = slackText(slack.requests.find((r) => slackText(r.body).startsWith('[FIRING:1] CollectorScraped'))!.body);
    expect(text).toContain(`Prometheus scrapes 127.0.0.1:${collector!.httpPort}`);

    // Step 2, one wait later: the webhook, in Alertmanager's webhook format, with Prometheus' labels.
    await waitFor(() => hook.requests.length >= 1, 15_000, 100);
    const payload = JSON.parse(hook.requests[0].body);
    expect(payload).toMatchObject({ version: '4', status: 'firing', receiver: 'oncall-hook' });
    const [alert] = payload.alerts;
    expect(alert.labels).toEqual({ alertname: 'CollectorScraped', severity: 'critical', team: 'e2e', job: 'periscope', instance: `127.0.0.1:${collector!.httpPort}` });
    expect(alert.generatorURL).toMatch(/\/graph\?g0\.expr=/); // set by Prometheus
    const fp = alert.fingerprint as string;
    // One wait after step 1 was taken (Slack's own arrival may lag: the promql rule's alert shares
    // the webhook, and the outbox spaces messages to one webhook by 1 s).
    const steps = (await api(`/api/v1/alerts/${fp}/timeline`)).json.entries.filter((e: any) => e.kind === 'escalation_step').map((e: any) => Date.parse(e.at));
    expect(steps).toHaveLength(2);
    expect(slackAt).toBeGreaterThanOrEqual(steps[0]);
    expect(steps[1] - steps[0]).toBeGreaterThanOrEqual(WAIT_S * 1000 - 300);
    expect(hook.requests[0].at).toBeGreaterThanOrEqual(steps[1]);

    // The alert is listed with its source and escalation, and its ack stops the chain (repeat 2
    // would page Slack again one wait after the webhook).
    const listed = (await api('/api/v1/alerts')).json.alerts.find((a: any) => a.fingerprint === fp);
    expect(listed).toMatchObject({ state: 'firing', ruleName: 'CollectorScraped', labels: { alertname: 'CollectorScraped' }, ack: null });
    const ack = await api(`/api/v1/alerts/${fp}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'oncall' }) });
    expect(ack.status).toBe(200);
    const esc = (await api('/api/v1/escalations')).json.escalations.find((e: any) => e.chain === 'prom-chain');
    expect(esc).toMatchObject({ status: 'acknowledged', step: 1, cycle: 0, notified: ['team-slack', 'oncall-hook'] });
    const firingSlack = () => slackTitles().filter((t) => t.startsWith('[FIRING:1] CollectorScraped')).length;
    // Round 2 would have paged Slack one wait after the webhook step: look a second past that.
    await waitFor(() => Date.now() > hook.requests[0].at + (WAIT_S + 1) * 1000, (WAIT_S + 5) * 1000, 100);
    expect(firingSlack()).toBe(1);
    expect(hook.requests).toHaveLength(1);

    const timeline = (await api(`/api/v1/alerts/${fp}/timeline`)).json;
    const kinds = timeline.entries.map((e: any) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['received', 'escalation_started', 'escalation_step', 'notification_sent', 'acknowledged', 'escalation_stopped']));
    expect(timeline.entries.find((e: any) => e.kind === 'received').details).toMatchObject({ source: 'api' });
  });

  it('a promql rule of Periscope evaluates through the same Prometheus and notifies its receiver', async () => {
    await waitFor(() => slackTitles().some((t) => t.startsWith('[FIRING:1] PeriscopeScrapedByPrometheus')), 20_000, 100);
    const [alert] = (await api('/api/v1/alerts?rule=PeriscopeScrapedByPrometheus')).json.alerts;
    expect(alert).toMatchObject({ state: 'firing', value: 1, labels: { alertname: 'PeriscopeScrapedByPrometheus', job: 'periscope', instance: `127.0.0.1:${collector!.httpPort}` } });
  });
});
