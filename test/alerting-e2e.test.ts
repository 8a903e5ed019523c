// Alerting end to end through the real collector process, with real time and real sockets:
// OTLP gauge → metric threshold rule (1 s interval, no `for`) → escalation chain
// Slack → wait → email (a real SMTP server, npm smtp-server) → wait → SMS (a Twilio-compatible
// stand-in) → acknowledgement (API and signed link) → recovery → resolved notices; a collector
// restart (SIGTERM, then kill -9) in the middle of a chain; a log frequency rule; the history,
// timeline, incident, outbox and /metrics views of all of it.
//
// Alerts are told apart by their `host` label (one escalation group per host). Every message is
// attributed to its alert from its title, `[FIRING:1] E2EHighLoad (host=a)`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpBackend, type SmtpBackend } from '../alerting/src/notify/testing/backends.ts';
import { leaves, parseMime } from '../alerting/src/notify/testing/mime.ts';
import { ackLinkIn, freePort, pushGauge, slackText, startStandIn, type StandIn } from './helpers/alerting.ts';
import { metricNamesIn } from '../dashboards/src/inspect.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { familiesOf, shippedQueries, unknownLabelReads } from './helpers/metric-reads.ts';

const SERVICE = 'alerting-e2e';
const LOG_SERVICE = 'e2e-checkout';
const WAIT_S = 5; // each escalation step's wait
const GOOD_PHONE = '+15550100';
const BAD_PHONE = '+15550199'; // the SMS stand-in answers 400 (Twilio 21211): a permanent failure

type Status = 'FIRING' | 'RESOLVED';
interface Delivered {
  at: number;
  host: string;
  status: Status;
  text: string;
}

const TITLE = /\[(FIRING|RESOLVED)[^\]]*\] E2EHighLoad \(host=([a-z0-9]+)\)/;

/** The rule file of periscope.yaml's alerting.ruleFiles, and its text. */
let rulesFile: string;
let rulesYaml: string;
let collector: CollectorProcess;
let port: number;
let configYaml: string;
let slack: StandIn;
let sms: StandIn;
let hook: StandIn;
let smtp: SmtpBackend;
/** host → value the feeder pushes every 500 ms (a live app keeps exporting its gauge). */
const load = new Map<string, number>();
let feeder: NodeJS.Timeout | undefined;
/** Slack attempts per host, in order: the first one for host a gets 429, the second 500. */
const slackAttemptsFor = new Map<string, number>();

function parseTitle(text: string): { host: string; status: Status } | undefined {
  const m = TITLE.exec(text);
  return m ? { status: m[1] as Status, host: m[2] } : undefined;
}

function slackDelivered(): Delivered[] {
  return slack.requests.filter((r) => r.status === 200).flatMap((r) => {
    const text = slackText(r.body);
    const t = parseTitle(text);
    return t ? [{ at: r.at, ...t, text }] : [];
  });
}

function smsBody(r: { body: string }): { to: string; body: string } {
  const form = new URLSearchParams(r.body);
  return { to: form.get('To') ?? '', body: form.get('Body') ?? '' };
}

function smsDelivered(): Delivered[] {
  return sms.requests.filter((r) => r.status === 201).flatMap((r) => {
    const { body } = smsBody(r);
    const t = parseTitle(body);
    return t ? [{ at: r.at, ...t, text: body }] : [];
  });
}

function mailText(raw: string): string {
  return leaves(parseMime(raw)).map((p) => p.body).join('\n');
}

function emailDelivered(): Delivered[] {
  return smtp.mails.flatMap((m) => {
    const text = mailText(m.raw);
    const t = parseTitle(text);
    return t ? [{ at: m.at, ...t, text }] : [];
  });
}

const count = (list: Delivered[], host: string, status: Status) => list.filter((d) => d.host === host && d.status === status).length;
const first = (list: Delivered[], host: string, status: Status = 'FIRING') => list.find((d) => d.host === host && d.status === status);

/** Per host and channel: [firing, resolved] messages delivered. */
function tally(host: string) {
  return {
    slack: [count(slackDelivered(), host, 'FIRING'), count(slackDelivered(), host, 'RESOLVED')],
    email: [count(emailDelivered(), host, 'FIRING'), count(emailDelivered(), host, 'RESOLVED')],
    sms: [count(smsDelivered(), host, 'FIRING'), count(smsDelivered(), host, 'RESOLVED')],
  };
}

async function api(path: string, init?: RequestInit): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const res = await fetch(collector.url + path, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

async function setLoad(values: Record<string, number>): Promise<void> {
  for (const [host, v] of Object.entries(values)) load.set(host, v);
  expect(await pushGauge(collector.url, SERVICE, 'e2e.load', Object.entries(values).map(([host, value]) => ({ attrs: { host }, value })))).toBe(200);
}

function startFeeder(): void {
  feeder = setInterval(() => {
    if (load.size === 0 || !collector) return;
    pushGauge(collector.url, SERVICE, 'e2e.load', [...load].map(([host, value]) => ({ attrs: { host }, value }))).catch(() => undefined); // down while restarting
  }, 500);
}

async function alertOf(host: string): Promise<any> {
  return waitFor(async () => (await api('/api/v1/alerts')).json.alerts.find((a: any) => a.ruleName === 'E2EHighLoad' && a.labels.host === host), 10_000);
}

/** Resolves after the rule was evaluated `n` more times (its lastEvaluation moved on n times). */
async function evaluations(ruleId: string, n: number): Promise<void> {
  const seen = new Set<string>();
  const start = (await api(`/api/v1/alerts/rules/${ruleId}`)).json.rule.lastEvaluation;
  await waitFor(async () => {
    const at = (await api(`/api/v1/alerts/rules/${ruleId}`)).json.rule.lastEvaluation;
    if (at !== start) seen.add(at);
    return seen.size >= n;
  }, 15_000, 100);
}

/** Epoch ms of each escalation step of the alert (from its timeline), in order. */
async function stepTimes(fingerprint: string): Promise<number[]> {
  const { entries } = (await api(`/api/v1/alerts/${fingerprint}/timeline`)).json;
  return entries.filter((e: any) => e.kind === 'escalation_step').map((e: any) => Date.parse(e.at));
}

/**
 * "One step wait later", with slack for Node timers, which start from the event loop's cached time
 * and so may run a little early by the wall clock when the loop was busy.
 */
const WAITED_MS = WAIT_S * 1000 - 300;

/** Sum of the samples of `name` that carry every `label="value"` pair of `match`. */
function metricSum(text: string, name: string, match: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && match.every((m) => line.includes(m))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  slack = await startStandIn((req) => {
    const host = parseTitle(slackText(req.body))?.host ?? '';
    const n = (slackAttemptsFor.get(host) ?? 0) + 1;
    slackAttemptsFor.set(host, n);
    // Host a's first firing message meets a rate limit, then a server error: both retried.
    if (host === 'a' && n === 1) return { status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' };
    if (host === 'a' && n === 2) return { status: 500, body: 'internal_error' };
    return { status: 200, body: 'ok' };
  });
  sms = await startStandIn((req) => {
    const { to } = smsBody(req);
    if (req.headers.authorization !== `Basic ${Buffer.from('AC0123:sms-token').toString('base64')}`) return { status: 401, body: '{"code":20003}' };
    if (to === BAD_PHONE) {
      return { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 }) };
    }
    return { status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sid: `SM${req.at}`, status: 'queued' }) };
  });
  hook = await startStandIn();
  smtp = await startSmtpBackend();
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-e2e-'));
  rulesFile = join(dir, 'rules.yaml');
  rulesYaml = `rules:
  - name: E2EHighLoad
    kind: metric
    selector: 'e2e_load{job="${SERVICE}"}'
    aggregation: last
    window: 30s
    groupBy: [host]
    threshold: 90
    clearThreshold: 80
    interval: 1s
    severity: critical
    annotations:
      summary: 'load {{ $value }} on host-{{ $labels.host }}'
  - name: E2EErrorLogs
    kind: log
    filter: { service: ${LOG_SERVICE}, severity: err }
    mode: frequency
    window: 10s
    threshold: 2
    interval: 1s
    severity: error
    annotations:
      summary: '{{ $value }} error logs in 10s'
`;
  writeFileSync(rulesFile, rulesYaml);
  configYaml = `alerting:
  ruleFiles: [${join(dir, 'rules.yaml')}]
  ack: { baseUrl: 'http://127.0.0.1:${port}' }
  delivery: { backoffBase: 200ms, backoffCap: 2s }
  receivers:
    - name: team-slack
      slack: [{ webhookUrl: '${slack.url}/services/T000/B000/e2e-secret' }]
    - name: oncall-email
      email: [{ to: oncall@example.com, from: 'Periscope <alerts@example.com>', smtp: { host: 127.0.0.1, port: ${smtp.port}, maxConnections: 1 } }]
    - name: oncall-sms
      sms: [{ baseUrl: '${sms.url}', accountSid: AC0123, authToken: sms-token, from: '+15550001', to: ['${GOOD_PHONE}', '${BAD_PHONE}'] }]
    - name: log-hook
      webhook: [{ url: '${hook.url}/alertmanager' }]
  escalations:
    - name: oncall
      steps:
        - { notify: [team-slack], wait: ${WAIT_S}s }
        - { notify: [oncall-email], wait: ${WAIT_S}s }
        - { notify: [oncall-sms], wait: ${WAIT_S}s }
  route:
    escalation: oncall
    groupBy: [alertname, host]
    groupWait: 0s
    groupInterval: 1s
    repeatInterval: 4h
    routes:
      - matchers: ['alertname="E2EErrorLogs"']
        receiver: log-hook
`;
  collector = await startCollectorProcess({ configYaml, httpAddr: `127.0.0.1:${port}` });
  startFeeder();
});

afterAll(async () => {
  clearInterval(feeder);
  if (collector) expect(await collector.stop()).toBe(0);
  await Promise.all([slack?.close(), sms?.close(), hook?.close(), smtp?.close()]);
});

describe('metric threshold → escalation chain through the real collector', () => {
  it('escalates Slack → email → SMS until acknowledged; ack by API and by signed link stops it; recovery notifies everyone who was notified', async () => {
    // Right after the start nothing was pushed yet: the rule has no data, but that is no page
    // (alerting.evaluation.noDataGrace — the in-memory metric store is empty after every start).
    await evaluations('E2EHighLoad', 2);
    expect((await api('/api/v1/alerts/rules/E2EHighLoad')).json.rule).toMatchObject({ health: 'nodata', instances: 0 });
    expect((await api('/api/v1/alerts?rule=E2EHighLoad')).json.alerts).toEqual([]);

    // Three alert instances cross the threshold in one evaluation: a is never acknowledged (the
    // control: its chain shows when each step fell due), b is acknowledged through the API and c
    // through the signed link in its Slack message.
    await setLoad({ a: 95, b: 97, c: 99 });
    const [alertA, alertB, alertC] = await Promise.all(['a', 'b', 'c'].map(alertOf));
    expect(alertA).toMatchObject({ state: 'firing', severity: 'critical', value: 95, ack: null, labels: { alertname: 'E2EHighLoad', host: 'a', severity: 'critical' } });

    // Step 1: Slack, for each of them (a after a 429 and a 500).
    await waitFor(() => first(slackDelivered(), 'b') && first(slackDelivered(), 'c'), 10_000);

    const ackB = await api(`/api/v1/alerts/${alertB.fingerprint}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'kim', comment: 'on it' }) });
    expect(ackB.status).toBe(200);
    expect(ackB.json.ack).toMatchObject({ fingerprint: alertB.fingerprint, by: 'kim', comment: 'on it', via: 'api' });

    const linkC = ackLinkIn(first(slackDelivered(), 'c')!.text)!;
    expect(linkC).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/ack/`));
    const page = await fetch(linkC);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<form[^>]+method="post"/i);
    expect(html).toContain('E2EHighLoad');
    expect((await alertOf('c')).ack).toBeNull(); // a GET (a link preview) never acknowledges
    const posted = await fetch(linkC, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'by=lee&comment=from+slack' });
    expect(posted.status).toBe(200);
    expect((await alertOf('c')).ack).toMatchObject({ by: 'lee', via: 'link' });
    expect((await alertOf('b')).ack).toMatchObject({ by: 'kim', via: 'api' });
    const acked = Date.now();
    const openMetrics = (await api('/metrics')).text;
    expect(metricSum(openMetrics, 'periscope_alerts_open', ['state="firing"'])).toBe(3);
    expect(metricSum(openMetrics, 'periscope_alerts_open', ['state="firing"', 'severity="critical"'])).toBe(3);

    // b: hysteresis — 85 is under the threshold but above the clear threshold: still firing.
    await setLoad({ b: 85 });
    await evaluations('E2EHighLoad', 2);
    expect((await alertOf('b')).state).toBe('firing');

    // Step 2 for a only: the email, one wait after the Slack step. Its ack link shows a confirm page
    // (a GET leaves the chain running: the SMS still comes).
    const emailA = await waitFor(() => first(emailDelivered(), 'a'), 20_000);
    // a's Slack message may still be in its retries: the 429's Retry-After held b's and c's too.
    await waitFor(() => first(slackDelivered(), 'a'), 20_000);
    const slackA = slack.requests.filter((r) => parseTitle(slackText(r.body))?.host === 'a');
    const linkA = ackLinkIn(emailA.text)!;
    expect(linkA).toBeDefined();
    expect((await fetch(linkA)).status).toBe(200);
    expect(emailA.text).toContain('load 95 on host-a');

    // Step 3 for a: the SMS, one more wait later, to the good number; the bad number fails for good.
    const smsA = await waitFor(() => first(smsDelivered(), 'a'), 20_000);
    const [step1A, step2A, step3A] = await stepTimes(alertA.fingerprint);
    expect(slackA[0].at).toBeGreaterThanOrEqual(step1A);
    expect(step2A - step1A).toBeGreaterThanOrEqual(WAITED_MS);
    expect(emailA.at).toBeGreaterThanOrEqual(step1A + WAITED_MS);
    expect(step3A - step2A).toBeGreaterThanOrEqual(WAITED_MS);
    expect(smsA.at).toBeGreaterThanOrEqual(step2A + WAITED_MS);
    expect(smsA.text).toContain('Escalation step 3/3');
    expect(sms.requests.filter((r) => smsBody(r).to === GOOD_PHONE)).toHaveLength(1);

    // By now b's and c's email and SMS steps were due (they fired in the same evaluation as a):
    // the acknowledgements stopped both chains.
    expect(Date.now() - acked).toBeGreaterThan(WAIT_S * 1000);
    expect(tally('b')).toEqual({ slack: [1, 0], email: [0, 0], sms: [0, 0] });
    expect(tally('c')).toEqual({ slack: [1, 0], email: [0, 0], sms: [0, 0] });

    // Slack retries: 429 (Retry-After: 2 honoured), 500, then delivered — one message for a.
    expect(slackA.slice(0, 3).map((r) => r.status)).toEqual([429, 500, 200]);
    expect(slackA[1].at - slackA[0].at).toBeGreaterThanOrEqual(1900);
    expect(slackA[2].body).toBe(slackA[0].body);

    // Recovery: resolved notices to every receiver notified in the episode, and nobody else.
    await setLoad({ a: 50, b: 40, c: 30 });
    await waitFor(() => tally('a').sms[1] === 1 && tally('a').email[1] === 1 && tally('a').slack[1] === 1 && tally('b').slack[1] === 1 && tally('c').slack[1] === 1, 20_000);
    await evaluations('E2EHighLoad', 2); // nothing more trickles in
    await waitFor(async () => (await api('/api/v1/notifications?status=pending')).json.notifications.length === 0, 10_000);
    expect(tally('a')).toEqual({ slack: [1, 1], email: [1, 1], sms: [1, 1] });
    expect(tally('b')).toEqual({ slack: [1, 1], email: [0, 0], sms: [0, 0] });
    expect(tally('c')).toEqual({ slack: [1, 1], email: [0, 0], sms: [0, 0] });
    expect(smtp.mails.every((m) => m.to.includes('oncall@example.com'))).toBe(true);
    // Nothing else was sent: in particular no "no data" page for the rule right after the start,
    // before the first sample arrived (alerting.evaluation.noDataGrace).
    for (const text of [...slack.requests.map((r) => slackText(r.body)), ...sms.requests.map((r) => smsBody(r).body), ...smtp.mails.map((m) => mailText(m.raw))]) {
      expect(['a', 'b', 'c']).toContain(parseTitle(text)?.host ?? text.split('\n')[0]);
    }
    // The resolved email continues the firing email's thread.
    const resolvedMail = smtp.mails.find((m) => parseTitle(mailText(m.raw))?.status === 'RESOLVED' && parseTitle(mailText(m.raw))?.host === 'a')!;
    const firingMail = smtp.mails.find((m) => parseTitle(mailText(m.raw))?.status === 'FIRING' && parseTitle(mailText(m.raw))?.host === 'a')!;
    const messageId = parseMime(firingMail.raw).headers['message-id'];
    expect(parseMime(resolvedMail.raw).headers['in-reply-to']).toBe(messageId);

    // The link of a resolved alert no longer acknowledges anything.
    const late = await fetch(linkA, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'by=late' });
    expect(late.status).toBe(409);

    // ---- the views of what happened
    const open = (await api('/api/v1/alerts')).json.alerts.filter((a: any) => a.ruleName === 'E2EHighLoad' && ['a', 'b', 'c'].includes(a.labels.host));
    expect(open.every((a: any) => a.state === 'resolved' || a.state === 'inactive')).toBe(true);

    const history = (await api(`/api/v1/alerts/history?fingerprint=${alertA.fingerprint}`)).json;
    expect(history.entries.map((e: any) => `${e.from}->${e.to}`)).toEqual(['firing->resolved', 'inactive->firing']); // newest first
    const firingOnly = (await api('/api/v1/alerts/history?rule=E2EHighLoad&state=firing')).json.entries;
    expect(new Set(firingOnly.map((e: any) => e.labels.host))).toEqual(new Set(['a', 'b', 'c']));

    const timelineA = (await api(`/api/v1/alerts/${alertA.fingerprint}/timeline`)).json;
    const kindsA = timelineA.entries.map((e: any) => e.kind);
    for (const k of ['escalation_started', 'escalation_step', 'notification_queued', 'notification_retry', 'notification_sent', 'notification_failed', 'resolved']) expect(kindsA).toContain(k);
    expect(timelineA.entries.filter((e: any) => e.kind === 'escalation_step').map((e: any) => e.details.receivers)).toEqual([['team-slack'], ['oncall-email'], ['oncall-sms']]);
    expect(kindsA).not.toContain('acknowledged');
    const timelineB = (await api(`/api/v1/alerts/${alertB.fingerprint}/timeline`)).json.entries;
    expect(timelineB.find((e: any) => e.kind === 'acknowledged').details).toMatchObject({ by: 'kim', via: 'api' });
    expect(timelineB.find((e: any) => e.kind === 'escalation_stopped').details).toMatchObject({ reason: 'acknowledged', step: 1 });
    const timelineC = (await api(`/api/v1/alerts/${alertC.fingerprint}/timeline`)).json.entries;
    expect(timelineC.find((e: any) => e.kind === 'acknowledged').details).toMatchObject({ by: 'lee', via: 'link' });

    // The three fired together: one incident.
    const incidents = (await api('/api/v1/incidents')).json.incidents;
    const incident = incidents.find((i: any) => i.alerts.some((a: any) => a.fingerprint === alertA.fingerprint));
    expect(incident.alerts.map((a: any) => a.fingerprint).sort()).toEqual(expect.arrayContaining([alertA.fingerprint, alertB.fingerprint, alertC.fingerprint].sort()));
    expect(incident.status).toBe('resolved');
    expect((await api(`/api/v1/incidents/${incident.id}`)).json.timeline.length).toBeGreaterThan(0);

    // The number that cannot receive SMS: failed (permanent, one attempt each), never silently lost.
    const failed = (await api('/api/v1/notifications?status=failed')).json.notifications;
    expect(failed.length).toBe(2); // a's firing and resolved SMS to BAD_PHONE
    for (const n of failed) {
      expect(n).toMatchObject({ channel: 'sms', receiver: 'oncall-sms', status: 'failed', attempts: 1, lastResult: 'permanent', fingerprints: [alertA.fingerprint] });
      expect(n.lastError).toMatch(/400/);
      expect(n.lastError).not.toContain('sms-token');
    }
    expect(sms.requests.filter((r) => smsBody(r).to === BAD_PHONE)).toHaveLength(2);

    const metrics = (await api('/metrics')).text;
    expect(metricValue(metrics, 'periscope_notification_failures_total{channel="sms",reason="permanent"}')).toBe(2);
    expect(metricValue(metrics, 'periscope_notification_attempts_total{channel="slack",result="retryable"}')).toBe(2);
    expect(metricValue(metrics, 'periscope_notification_attempts_total{channel="email",result="success"}')).toBe(2);
    expect(metricValue(metrics, 'periscope_alert_acks_total{via="api"}')).toBe(1);
    expect(metricValue(metrics, 'periscope_alert_acks_total{via="link"}')).toBe(1);
    expect(metricValue(metrics, 'periscope_escalations_stopped_total{escalation="oncall",reason="acknowledged"}')).toBe(2);
    expect(metricSum(metrics, 'periscope_alerts_open', ['state="firing"'])).toBe(0);
    // Zeros, not absent series: every rule has its four states.
    expect(metrics.split('\n').filter((l) => l.startsWith('periscope_alerts_open{') && l.includes('severity="critical"')).map((l) => /state="(\w+)"/.exec(l)![1]).sort()).toEqual(['error', 'firing', 'nodata', 'pending']);
    expect(metricValue(metrics, 'periscope_alert_rule_evaluations_total')).toBeGreaterThan(10);
    expect(metricValue(metrics, 'periscope_alert_rule_evaluation_failures_total')).toBe(0);
    expect(metricValue(metrics, 'periscope_alert_rule_last_evaluation_duration_seconds{rule="E2EHighLoad"}')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'periscope_alert_rules{health="ok"}')).toBe(2);
    expect(metrics).not.toContain('e2e-secret');

    // The Alerting dashboard's notification, escalation and ack panels read labels these metrics
    // have (the exporter and ingest reads are checked in deploy/collector-metrics.test.ts).
    const { wrong, checked } = unknownLabelReads(shippedQueries(), familiesOf(metrics));
    expect(wrong).toEqual([]);
    const read = new Set(checked.flatMap((q) => metricNamesIn(q.expr)));
    for (const name of ['periscope_notification_attempts_total', 'periscope_notification_failures_total', 'periscope_notification_latency_seconds_bucket', 'periscope_escalation_steps_total', 'periscope_escalations_stopped_total', 'periscope_alert_acks_total']) expect(read).toContain(name);
  });
});

describe('log frequency rule', () => {
  it('fires when more than 2 error logs arrive within 10 s, and not before', async () => {
    const post = (records: object[]) =>
      fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: records.map((r) => JSON.stringify(r)).join('\n') });
    const err = (i: number) => ({ appName: LOG_SERVICE, level: 'err', msg: `payment failed ${i}` });
    expect((await post([err(1), err(2), ...[1, 2, 3, 4, 5].map((i) => ({ appName: LOG_SERVICE, level: 'info', msg: `ok ${i}` })), { appName: 'other-service', level: 'err', msg: 'not ours' }])).status).toBe(200);
    await evaluations('E2EErrorLogs', 2);
    expect((await api('/api/v1/alerts?rule=E2EErrorLogs')).json.alerts.filter((a: any) => a.state === 'firing')).toEqual([]);
    expect(hook.requests).toEqual([]);

    expect((await post([err(3)])).status).toBe(200);
    await waitFor(() => hook.requests.length >= 1, 10_000);
    const payload = JSON.parse(hook.requests[0].body);
    expect(payload).toMatchObject({ version: '4', status: 'firing', receiver: 'log-hook' });
    expect(payload.alerts).toHaveLength(1);
    expect(payload.alerts[0]).toMatchObject({ status: 'firing', labels: { alertname: 'E2EErrorLogs', severity: 'error' }, annotations: { summary: '3 error logs in 10s' } });
    const [alert] = (await api('/api/v1/alerts?rule=E2EErrorLogs&state=firing')).json.alerts;
    expect(alert).toMatchObject({ value: 3, severity: 'error' });
  });
});

describe('rule files on SIGHUP', () => {
  it('a SIGHUP reloads the rule files; a broken file changes nothing; the collector keeps running', async () => {
    const rule = (id: string) => api(`/api/v1/alerts/rules/${id}`).then((r) => r.status);
    writeFileSync(rulesFile, `${rulesYaml}
  - name: E2EReloaded
    kind: log
    filter: { service: reloaded }
    mode: frequency
    window: 10s
    threshold: 100
    interval: 1s
    severity: info
`);
    collector.proc.kill('SIGHUP');
    await waitFor(async () => (await rule('E2EReloaded')) === 200, 10_000);

    writeFileSync(rulesFile, 'rules: [ { name: ');
    collector.proc.kill('SIGHUP');
    await waitFor(() => collector.output().includes('alerting rule files and routing not reloaded'), 10_000);
    expect(await rule('E2EReloaded')).toBe(200); // all or nothing: the rules in effect stay
    expect(await rule('E2EHighLoad')).toBe(200);

    writeFileSync(rulesFile, rulesYaml);
    collector.proc.kill('SIGHUP');
    await waitFor(async () => (await rule('E2EReloaded')) === 404, 10_000);
    expect(collector.proc.exitCode).toBeNull();
    expect((await api('/health')).status).toBe(200);
  });

  it('POST /-/reload (Prometheus, Alertmanager) reloads as SIGHUP does and answers with the outcome', async () => {
    const rule = (id: string) => api(`/api/v1/alerts/rules/${id}`).then((r) => r.status);
    const before = (await api('/api/v1/alerts/rules')).json.rules.length;
    writeFileSync(rulesFile, `${rulesYaml}
  - name: E2EReloadedByHttp
    kind: log
    filter: { service: reloaded }
    mode: frequency
    window: 10s
    threshold: 100
    interval: 1s
    severity: info
`);
    const ok = await api('/-/reload', { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: 'success', rules: before + 1, restartNeeded: [] });
    expect(await rule('E2EReloadedByHttp')).toBe(200); // in effect when the answer comes

    writeFileSync(rulesFile, `${rulesYaml}
  - name: E2EBroken
    kind: log
    mode: frequency
    threshold: many
`);
    const bad = await api('/-/reload', { method: 'PUT' });
    expect(bad.status).toBe(500);
    expect(bad.json.error.code).toBe('PERISCOPE_ERR_ALERT_RULE_INVALID');
    expect(bad.json.error.details.problems.join('\n')).toMatch(/threshold/);
    expect(await rule('E2EReloadedByHttp')).toBe(200); // all or nothing

    writeFileSync(rulesFile, rulesYaml);
    expect((await api('/-/reload', { method: 'POST' })).status).toBe(200);
    expect(await rule('E2EReloadedByHttp')).toBe(404);
  });

  it('a reload reads periscope.yaml again: its alerting.ruleFiles are applied, a change elsewhere is answered and logged as needing a restart', async () => {
    const rule = (id: string) => api(`/api/v1/alerts/rules/${id}`).then((r) => r.status);
    const configFile = collector.configFile as string;
    const extraFile = join(dirname(rulesFile), 'extra.yaml');
    writeFileSync(extraFile, 'rules:\n  - { name: E2EExtraFile, kind: log, filter: { service: extra }, mode: frequency, window: 10s, threshold: 100, interval: 1s, severity: info }\n');
    const edited = `${configYaml.replace(`ruleFiles: [${rulesFile}]`, `ruleFiles: [${rulesFile}, ${extraFile}]`)}store:\n  retention: { maxAge: 3d }\n`;
    expect(edited).not.toBe(configYaml);
    try {
      writeFileSync(configFile, edited);
      const res = await api('/-/reload', { method: 'POST' });
      expect(res.status).toBe(200);
      expect(res.json.restartNeeded).toEqual(['store']);
      expect(await rule('E2EExtraFile')).toBe(200); // the rule file added to periscope.yaml is read
      expect(await rule('E2EHighLoad')).toBe(200);
      await waitFor(() => collector.output().includes('configuration changed in store: not applied until the collector restarts'), 10_000);

      writeFileSync(configFile, edited.replace('receivers:', 'receivers: [oops'));
      const bad = await api('/-/reload', { method: 'POST' });
      expect(bad.status).toBe(500);
      expect(await rule('E2EExtraFile')).toBe(200); // all or nothing
    } finally {
      writeFileSync(configFile, configYaml);
    }
    const back = await api('/-/reload', { method: 'POST' });
    expect(back.status).toBe(200);
    expect(back.json.restartNeeded).toEqual([]);
    expect(await rule('E2EExtraFile')).toBe(404);
  });
});

describe('collector restarts in the middle of an escalation', () => {
  it('neither loses nor repeats a notification (SIGTERM before the email step, kill -9 before the SMS step)', async () => {
    await setLoad({ d: 96 });
    await waitFor(() => first(slackDelivered(), 'd'), 10_000);
    const fp = (await alertOf('d')).fingerprint;

    // Graceful stop during the first wait, start again on the same data dir.
    expect(await collector.stop()).toBe(0);
    collector = await startCollectorProcess({ configYaml, dataDir: collector.dataDir, httpAddr: `127.0.0.1:${port}` });
    const emailD = await waitFor(() => first(emailDelivered(), 'd'), 20_000);

    // kill -9 during the second wait — once the email's outbox row says sent (a kill between the
    // SMTP server's 250 and that row update would re-send that one message: at-least-once).
    await waitFor(async () => (await api(`/api/v1/notifications?fingerprint=${fp}`)).json.notifications.some((n: any) => n.channel === 'email' && n.status === 'sent'), 10_000);
    await collector.kill();
    collector = await startCollectorProcess({ configYaml, dataDir: collector.dataDir, httpAddr: `127.0.0.1:${port}` });
    const smsD = await waitFor(() => first(smsDelivered(), 'd'), 20_000);
    // Each step one wait after the one before, across both restarts (a step that fell due while
    // the collector was down runs when it is back).
    const [step1D, step2D] = await stepTimes(fp);
    expect(emailD.at).toBeGreaterThanOrEqual(step1D + WAITED_MS);
    expect(smsD.at).toBeGreaterThanOrEqual(step2D + WAITED_MS);

    await setLoad({ d: 20 });
    await waitFor(() => tally('d').slack[1] === 1 && tally('d').email[1] === 1 && tally('d').sms[1] === 1, 20_000);
    await evaluations('E2EHighLoad', 2);
    await waitFor(async () => (await api('/api/v1/notifications?status=pending')).json.notifications.length === 0, 10_000);
    expect(tally('d')).toEqual({ slack: [1, 1], email: [1, 1], sms: [1, 1] });

    // The alert's own history has one episode: no second "firing" after either restart.
    const history = (await api(`/api/v1/alerts/history?fingerprint=${fp}`)).json.entries;
    expect(history.map((e: any) => `${e.from}->${e.to}`)).toEqual(['firing->resolved', 'inactive->firing']);
    const steps = (await api(`/api/v1/alerts/${fp}/timeline`)).json.entries.filter((e: any) => e.kind === 'escalation_step');
    expect(steps.map((e: any) => e.details.step)).toEqual([1, 2, 3]); // no step taken twice
  });
});
