// An escalation chain edited while it escalates — a reload (POST /-/reload) or a restart with the
// edited periscope.yaml — goes on from the equivalent step of the new chain, as PagerDuty moves an
// open incident to an edited policy: an inserted step before it is not paged, a removed step takes
// its wait with it, a changed wait counts from when its step ran, a chain whose route no longer
// escalates stops at the edit, and one that had ended goes on with a step added after its last. Through the real collector, Slack and SMS stand-ins, a real SMTP
// server and a webhook; each alert's decisions are read in order from its timeline and placed
// before or after the edit, not against wall-clock margins.
import { writeFileSync } from 'node:fs';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startSmtpBackend, type SmtpBackend } from '../alerting/src/notify/testing/backends.ts';
import { apiCall, apiPost, slackText, startStandIn, type StandIn } from './helpers/alerting.ts';
import { leaves, parseMime } from '../alerting/src/notify/testing/mime.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let slack: StandIn;
let sms: StandIn;
let pager: StandIn;
let smtp: SmtpBackend;
let collector: CollectorProcess | undefined;

const ALERTS = ['Inserted', 'Removed', 'RemovedBefore', 'Delay', 'ChainRemoved', 'Added'] as const;
type Alert = (typeof ALERTS)[number];

/** Each alert's chain (its route escalates with it), before and after the edit. */
const chains: Record<Alert, [before: string, after: string | undefined]> = {
  // Paging has reached Slack; an SMS step is inserted before it: Slack is not paged again, the pager not at all.
  Inserted: ['[slack, 1h], [email, 1h], [sms, 1h]', '[pager, 1h], [slack, 1s], [email, 1s], [sms, 1h]'],
  // The Slack step (broken) is removed during its wait: email is paged at once, SMS after email's wait.
  Removed: ['[slack, 1h], [email, 1s], [sms, 1h]', '[email, 1s], [sms, 1h]'],
  // Paging has reached email; the Slack step before it is removed: the chain goes on from email.
  RemovedBefore: ['[slack, 0s], [email, 1h], [sms, 1h]', '[email, 1s], [sms, 1h]'],
  // The Slack step's wait is shortened: email is paged a second after Slack, not an hour.
  Delay: ['[slack, 1h], [email, 1h]', '[slack, 1s], [email, 1h]'],
  // The chain is removed and its route given the pager: no further step, the pager is told.
  ChainRemoved: ['[slack, 1h], [email, 1h]', undefined],
  // The chain has ended unacknowledged; an SMS step is added after its last one: it is paged.
  Added: ['[slack, 0s]', '[slack, 0s], [sms, 1h]'],
};

const chainName = (a: Alert) => a.toLowerCase();

function config(edited: boolean): string {
  const steps = (s: string) => [...s.matchAll(/\[(\w+), (\w+)\]/g)].map(([, r, w]) => `        - { notify: [${r}], wait: ${w} }`).join('\n');
  const escalations = ALERTS.flatMap((a) => {
    const s = chains[a][edited ? 1 : 0];
    return s === undefined ? [] : [`    - name: ${chainName(a)}\n      steps:\n${steps(s)}`];
  });
  const routes = ALERTS.map((a) =>
    chains[a][edited ? 1 : 0] === undefined ? `      - { matchers: ['alertname="${a}"'], receiver: pager }` : `      - { matchers: ['alertname="${a}"'], escalation: ${chainName(a)} }`,
  );
  return `alerting:
  delivery: { backoffBase: 200ms, backoffCap: 2s }
  receivers:
    - name: slack
      slack: [{ webhookUrl: '${slack.url}/services/T000/B000/chain-edit' }]
    - name: email
      email: [{ to: oncall@example.com, from: 'Periscope <alerts@example.com>', smtp: { host: 127.0.0.1, port: ${smtp.port}, maxConnections: 1 } }]
    - name: sms
      sms: [{ baseUrl: '${sms.url}', accountSid: AC0123, authToken: sms-token, from: '+15550001', to: ['+15550100'] }]
    - name: pager
      webhook: [{ url: '${pager.url}/pager' }]
  escalations:
${escalations.join('\n')}
  route:
    receiver: pager
    groupBy: [alertname]
    groupWait: 0s
    groupInterval: 1h
    repeatInterval: 4h
    routes:
${routes.join('\n')}
`;
}

/** The alert names a delivered message is about, by channel. */
function delivered(): Record<string, Alert[]> {
  const about = (text: string) => ALERTS.filter((a) => new RegExp(`\\b${a}\\b`).test(text));
  return {
    slack: slack.requests.filter((r) => r.status === 200).flatMap((r) => about(slackText(r.body))),
    email: smtp.mails.flatMap((m) => about(leaves(parseMime(m.raw)).map((p) => p.body).join('\n'))),
    sms: sms.requests.filter((r) => r.status === 201).flatMap((r) => about(new URLSearchParams(r.body).get('Body') ?? '')),
    pager: pager.requests.flatMap((r) => (JSON.parse(r.body) as { alerts: { labels: { alertname: Alert } }[] }).alerts.map((a) => a.labels.alertname)),
  };
}

const sentTo = (a: Alert) => Object.entries(delivered()).flatMap(([channel, alerts]) => alerts.filter((x) => x === a).map(() => channel)).sort();

/**
 * The receivers the alert's notifications were queued for, in order, with `edit` where the edit
 * came; and when each escalation step was decided (the time its wait counts from), by receiver.
 */
async function decisions(url: string, a: Alert, editAt: number): Promise<{ seq: string[]; at: Record<string, number> }> {
  const alerts = (await apiCall(url, '/api/v1/alerts')).json.alerts as { fingerprint: string; labels: Record<string, string> }[];
  const fp = alerts.find((x) => x.labels.alertname === a)!.fingerprint;
  const entries = (await apiCall(url, `/api/v1/alerts/${fp}/timeline`)).json.entries as { at: string; kind: string; details: { receiver?: string; receivers?: string[] } }[];
  const queued = entries
    .filter((e) => e.kind === 'notification_queued')
    .map((e) => ({ at: Date.parse(e.at), receiver: e.details.receiver as string }))
    .sort((x, y) => x.at - y.at);
  const seq = [...queued.filter((e) => e.at < editAt).map((e) => e.receiver).sort(), 'edit', ...queued.filter((e) => e.at >= editAt).map((e) => e.receiver)];
  const steps = entries.filter((e) => e.kind === 'escalation_step').map((e) => [(e.details.receivers as string[])[0], Date.parse(e.at)]);
  return { seq, at: Object.fromEntries(steps) };
}

beforeAll(async () => {
  slack = await startStandIn();
  sms = await startStandIn(() => ({ status: 201, headers: { 'content-type': 'application/json' }, body: '{"sid":"SM1","status":"queued"}' }));
  pager = await startStandIn();
  smtp = await startSmtpBackend();
});

afterEach(async () => {
  await collector?.dispose();
  collector = undefined;
  for (const s of [slack, sms, pager]) s.requests.length = 0;
  smtp.mails.length = 0;
});

afterAll(async () => {
  await Promise.all([slack?.close(), sms?.close(), pager?.close(), smtp?.close()]);
});

describe.each(['reload', 'restart'] as const)('an escalation chain edited mid-escalation (%s)', (how) => {
  it('goes on from the equivalent step: inserted and removed steps, a changed wait, a removed chain', async () => {
    collector = await startCollectorProcess({ configYaml: config(false) });
    const c = collector;
    expect((await apiPost(c.url, '/api/v2/alerts', ALERTS.map((a) => ({ labels: { alertname: a } })))).status).toBe(200);
    // Every chain has paged Slack; RemovedBefore's has gone on to email.
    await waitFor(() => ALERTS.every((a) => delivered().slack.includes(a)) && delivered().email.includes('RemovedBefore'), 20_000);
    await waitFor(async () => (await apiCall(c.url, '/api/v1/notifications?status=pending')).json.notifications.length === 0, 10_000);
    await waitFor(async () => (await apiCall(c.url, '/api/v1/escalations')).json.escalations.some((e: { chain: string; status: string }) => e.chain === 'added' && e.status === 'exhausted'), 10_000);

    const editAt = Date.now();
    writeFileSync(c.configFile as string, config(true));
    if (how === 'reload') {
      expect((await apiPost(c.url, '/-/reload')).status).toBe(200);
      await waitFor(() => c.output().includes('alerting notifications reloaded'), 10_000);
    } else {
      expect(await c.stop()).toBe(0);
      collector = await startCollectorProcess({ configYaml: config(true), dataDir: c.dataDir });
    }
    const url = collector.url;
    // The removed chain stopped at the edit, not an hour later at its next step, and the log says why.
    const running = (await apiCall(url, '/api/v1/escalations')).json.escalations as { chain: string }[];
    expect(running.map((e) => e.chain).sort()).toEqual(['added', 'delay', 'inserted', 'removed', 'removedbefore']);
    expect(collector.output()).toContain('escalation stopped: its route no longer escalates since the configuration changed');

    await waitFor(
      () => {
        const d = delivered();
        return d.email.filter((a) => a === 'Inserted' || a === 'Removed' || a === 'Delay').length === 3 && d.sms.includes('Inserted') && d.sms.includes('Removed') && d.sms.includes('RemovedBefore') && d.pager.includes('ChainRemoved') && d.sms.includes('Added');
      },
      20_000,
    );
    await waitFor(async () => (await apiCall(url, '/api/v1/notifications?status=pending')).json.notifications.length === 0, 10_000);

    const inserted = await decisions(url, 'Inserted', editAt);
    expect(inserted.seq).toEqual(['slack', 'edit', 'email', 'sms']); // no pager, Slack once
    expect(inserted.at.sms).toBeGreaterThanOrEqual(inserted.at.email + 1000);
    const removed = await decisions(url, 'Removed', editAt);
    expect(removed.seq).toEqual(['slack', 'edit', 'email', 'sms']);
    expect(removed.at.sms).toBeGreaterThanOrEqual(removed.at.email + 1000);
    expect((await decisions(url, 'RemovedBefore', editAt)).seq).toEqual(['email', 'slack', 'edit', 'sms']); // email once
    const delay = await decisions(url, 'Delay', editAt);
    expect(delay.seq).toEqual(['slack', 'edit', 'email']);
    expect(delay.at.email).toBeGreaterThanOrEqual(delay.at.slack + 1000);
    expect(delay.at.email).toBeLessThan(delay.at.slack + 3_600_000);
    expect((await decisions(url, 'ChainRemoved', editAt)).seq).toEqual(['slack', 'edit', 'pager']);
    expect((await decisions(url, 'Added', editAt)).seq).toEqual(['slack', 'edit', 'sms']);

    // What was delivered is what was decided, once each.
    expect(sentTo('Inserted')).toEqual(['email', 'slack', 'sms']);
    expect(sentTo('Removed')).toEqual(['email', 'slack', 'sms']);
    expect(sentTo('RemovedBefore')).toEqual(['email', 'slack', 'sms']);
    expect(sentTo('Delay')).toEqual(['email', 'slack']);
    expect(sentTo('ChainRemoved')).toEqual(['pager', 'slack']);
    expect(sentTo('Added')).toEqual(['slack', 'sms']);
    expect(collector.output()).toContain('escalation chain edited');
  });
});
