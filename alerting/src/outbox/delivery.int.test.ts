// Real sockets, real time: local HTTP servers stand in for Slack, the SMS API and a webhook receiver,
// answer 429 (Retry-After) and 5xx to prove the retries, and the outbox survives a restart of the
// pipeline without losing or repeating a notification. Then the escalation end to end, with a real
// SMTP server and the ack link followed over HTTP.
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { registerNotifyRoutes } from '../api/notify-routes.ts';
import { labelsFingerprint } from '../dispatch/alert.ts';
import { parseNotifyConfig } from '../notify-config.ts';
import { NotificationPipeline } from '../notify-pipeline.ts';
import { startHttpBackend, startSmtpBackend, type HttpBackend, type SmtpBackend } from '../notify/testing/backends.ts';
import type { AlertEvent } from '../types.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function http(): Promise<HttpBackend> {
  const b = await startHttpBackend();
  cleanups.push(() => b.close());
  return b;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-delivery-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function pipelineFor(raw: Record<string, unknown>, dir: string): Promise<NotificationPipeline> {
  const p = new NotificationPipeline({ config: parseNotifyConfig(raw), dataDir: dir });
  cleanups.push(() => p.shutdown());
  await p.start();
  return p;
}

let tid = 1000;
function event(labels: Record<string, string>, state: 'firing' | 'resolved', startsAt: number, transitionId = ++tid): AlertEvent {
  const all: Record<string, string> = { severity: 'critical', ...labels };
  return {
    fingerprint: labelsFingerprint(all),
    ruleId: 'r',
    ruleName: all.alertname,
    labels: all,
    annotations: { summary: `${all.alertname} is failing` },
    severity: 'critical',
    state,
    previousState: state === 'resolved' ? 'firing' : 'pending',
    value: 42,
    startsAt: new Date(startsAt).toISOString(),
    ...(state === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
    transitionId,
    flapping: false,
  };
}

const fast = { backoffBase: '100ms', backoffCap: '300ms' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await sleep(20);
  }
}

describe('delivery over real sockets', () => {
  it('Slack: 429 Retry-After is honoured and one webhook gets at most 1 message/s', async () => {
    const slack = await http();
    slack.script([{ status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' }]);
    const p = await pipelineFor(
      {
        receivers: [{ name: 'team', slack: [{ webhookUrl: `${slack.url}/services/T1/B1/secret` }] }],
        route: { receiver: 'team', groupBy: ['alertname'], groupWait: '0s' },
        delivery: fast,
      },
      tempDir(),
    );
    const t0 = Date.now();
    await p.onTransition(event({ alertname: 'A' }, 'firing', t0));
    await p.onTransition(event({ alertname: 'B' }, 'firing', t0));
    await slack.waitFor(3);
    const times = slack.requests.map((r) => r.at);
    // 1st (429) → the other group's message no sooner than 1s later → the retry after both waits.
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(950);
    const bodies = slack.requests.map((r) => JSON.parse(r.body) as { text: string; blocks: { type: string; text?: { text: string } }[] });
    expect(bodies[0].text).toBe(bodies[2].text); // the 429'd message was retried
    expect(bodies[2].blocks[0]).toMatchObject({ type: 'header' });
    expect(bodies.map((b) => b.text).sort()).toEqual(['[FIRING:1] A', '[FIRING:1] A', '[FIRING:1] B']);
    await sleep(100);
    expect(p.notifications({ status: 'sent' })).toHaveLength(2);
  });

  it('SMS: 500 then 201 — retried with the same idempotency key, form-encoded, basic auth', async () => {
    const sms = await http();
    sms.script([{ status: 500, body: '{"code":20500,"message":"internal"}' }, { status: 201, body: '{"sid":"SM1"}' }]);
    const p = await pipelineFor(
      {
        receivers: [{ name: 'pager', sms: [{ baseUrl: sms.url, accountSid: 'AC42', authToken: 'tok', from: '+15550001', to: ['+821011112222'], sendResolved: true }] }],
        route: { receiver: 'pager', groupWait: '0s' },
        delivery: fast,
      },
      tempDir(),
    );
    await p.onTransition(event({ alertname: 'DbDown', service: 'db' }, 'firing', Date.now()));
    await sms.waitFor(2);
    await sleep(100);
    const [r1, r2] = sms.requests;
    expect(r2.url).toBe('/2010-04-01/Accounts/AC42/Messages.json');
    expect(r2.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(r2.headers.authorization).toBe(`Basic ${Buffer.from('AC42:tok').toString('base64')}`);
    expect(r1.headers['idempotency-key']).toBe(r2.headers['idempotency-key']);
    const form = new URLSearchParams(r2.body);
    expect(form.get('To')).toBe('+821011112222');
    expect(form.get('From')).toBe('+15550001');
    expect(form.get('Body')).toContain('[FIRING:1] DbDown');
    expect(p.notifications({ status: 'sent' })[0]).toMatchObject({ attempts: 2, channel: 'sms' });
  });

  it('the outbox survives a restart: nothing lost, nothing repeated', async () => {
    const hook = await http();
    hook.respond({ status: 503 });
    const dir = tempDir();
    const raw = {
      receivers: [{ name: 'ops', webhook: [{ url: `${hook.url}/alertmanager` }] }],
      route: { receiver: 'ops', groupWait: '0s', groupInterval: '1s' },
      delivery: fast,
    };
    const first = await pipelineFor(raw, dir);
    const ev = event({ alertname: 'QueueStuck' }, 'firing', Date.now());
    await first.onTransition(ev);
    await hook.waitFor(2);
    await first.shutdown();
    const failedAttempts = hook.received();
    expect(first.started).toBe(false);
    // Still pending on disk.
    const db = new DatabaseSync(join(dir, 'alerting.db'));
    expect(db.prepare(`SELECT status FROM notify_outbox`).all()).toEqual([{ status: 'pending' }]);
    db.close();

    hook.respond({ status: 200 });
    const second = await pipelineFor(raw, dir);
    await second.onTransition(ev); // the engine re-delivering the same transition is ignored
    await hook.waitFor(failedAttempts + 1);
    await sleep(1500); // group ticks (1s) and retries would show a duplicate by now
    await second.shutdown();
    const third = await pipelineFor(raw, dir);
    await sleep(1200);

    const delivered = hook.requests.slice(failedAttempts);
    expect(delivered).toHaveLength(1);
    const keys = new Set(hook.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    const payload = JSON.parse(delivered[0].body);
    expect(payload).toMatchObject({ version: '4', status: 'firing', receiver: 'ops', truncatedAlerts: 0, groupLabels: {}, commonLabels: { alertname: 'QueueStuck' } });
    expect(payload.alerts[0]).toMatchObject({ status: 'firing', endsAt: '0001-01-01T00:00:00Z', fingerprint: ev.fingerprint });
    expect(third.notifications()).toHaveLength(1);
    expect(third.notifications()[0]).toMatchObject({ status: 'sent', attempts: failedAttempts + 1 });
  });

  // Alertmanager's group key holds the route's matchers path, not its position: moving a route
  // (a new one inserted above it, a reorder) keeps its groups and what their receivers were told.
  it.each([
    { name: 'routes reordered', legacy: false },
    { name: 'upgrade from the position-keyed state (first start of this version)', legacy: true },
  ])('$name: an alert already notified is not notified again after a restart', async ({ legacy }) => {
    const hook = await http();
    const dir = tempDir();
    const config = (routes: Array<Record<string, unknown>>) => ({
      receivers: [{ name: 'ops', webhook: [{ url: `${hook.url}/alertmanager` }] }],
      escalations: [{ name: 'chain', steps: [{ notify: ['ops'], wait: '1h' }] }],
      route: { receiver: 'ops', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1h', routes },
      delivery: fast,
    });
    const routeA = { matchers: ['team="a"'], receiver: 'ops' };
    const routeB = { matchers: ['team="b"'], escalation: 'chain' };
    const first = await pipelineFor(config([routeA, routeB]), dir);
    await first.onTransition(event({ alertname: 'DiskFull', team: 'b' }, 'firing', Date.now()));
    await hook.waitFor(1);
    await waitUntil(() => first.notifications({ status: 'pending' }).length === 0);
    await first.shutdown();
    if (legacy) {
      // What the version before wrote: the route's position appended (`{}/{team="b"}/1`).
      const db = new DatabaseSync(join(dir, 'alerting.db'));
      for (const [table, column] of [['notify_nflog', 'key'], ['notify_escalations', 'group_key'], ['notify_outbox', 'group_key']]) {
        db.prepare(`UPDATE ${table} SET ${column} = replace(${column}, '{}/{team="b"}:', '{}/{team="b"}/1:')`).run();
      }
      db.prepare(`UPDATE notify_escalations SET body = json_set(body, '$.groupKey', group_key)`).run();
      db.prepare(`UPDATE notify_outbox SET idem_key = 'legacy:' || idem_key`).run(); // it hashed the old group key
      db.prepare(`DELETE FROM notify_kv WHERE key = 'route_keys'`).run();
      expect(db.prepare(`SELECT count(*) AS n FROM notify_nflog WHERE key LIKE '{}/{team="b"}/1:%'`).get()).toEqual({ n: 1 });
      db.close();
    }

    const second = await pipelineFor(config(legacy ? [routeA, routeB] : [routeB, routeA]), dir);
    // A new alert after the restart: once it is delivered and nothing is pending, a repeat of
    // DiskFull (its group flushed at the restore, before this one) would have been sent too.
    await second.onTransition(event({ alertname: 'Other', team: 'a' }, 'firing', Date.now()));
    await hook.waitFor(2);
    await waitUntil(() => second.notifications({ status: 'pending' }).length === 0);
    const after = hook.requests.slice(1).map((r) => JSON.parse(r.body).commonLabels.alertname);
    expect(after).toEqual(['Other']);
    expect(second.escalations()).toEqual([expect.objectContaining({ groupKey: '{}/{team="b"}:{alertname="DiskFull"}', step: 0, cycle: 0, notified: ['ops'] })]);
  });
});

describe('escalation end to end (real time, real sockets)', () => {
  let smtp: SmtpBackend;
  let app: FastifyInstance;

  it('Slack at once → email after the wait → ack through the link stops the SMS → resolved to everyone notified', async () => {
    const slack = await http();
    const sms = await http();
    sms.respond({ status: 201, body: '{}' });
    smtp = await startSmtpBackend();
    cleanups.push(() => smtp.close());
    app = Fastify();
    const dir = tempDir();
    const config = parseNotifyConfig({
      receivers: [
        { name: 'team-slack', slack: [{ webhookUrl: `${slack.url}/services/T/B/x` }] },
        { name: 'oncall-email', email: [{ to: 'oncall@example.com', from: 'alerts@periscope.example', smtp: { host: '127.0.0.1', port: smtp.port } }] },
        { name: 'oncall-sms', sms: [{ baseUrl: sms.url, accountSid: 'AC1', authToken: 't', from: '+15550001', to: '+15550002', sendResolved: true }] },
      ],
      escalations: [
        {
          name: 'oncall',
          steps: [
            { notify: ['team-slack'], wait: '2s' },
            { notify: ['oncall-email'], wait: '2s' },
            { notify: ['oncall-sms'], wait: '2s' },
          ],
        },
      ],
      route: { escalation: 'oncall', groupWait: '0s', groupInterval: '500ms' },
      ack: { baseUrl: 'http://placeholder' },
      delivery: fast,
    });
    const p = new NotificationPipeline({ config, dataDir: dir });
    cleanups.push(() => p.shutdown());
    await p.start();
    await app.register(registerNotifyRoutes, { pipeline: p });
    await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

    const t0 = Date.now();
    await p.onTransition(event({ alertname: 'CheckoutDown', service: 'checkout' }, 'firing', t0));
    await slack.waitFor(1);
    expect(slack.requests[0].at - t0).toBeLessThan(2000); // the target: Slack within 2 s
    await smtp.waitFor(1, 6000);
    expect(smtp.mails[0].at - t0).toBeGreaterThanOrEqual(1900);

    // Follow the ack link from the Slack message: GET is a confirm page, POST acknowledges.
    const slackText = JSON.stringify(JSON.parse(slack.requests[0].body).blocks);
    const token = /\/ack\/([\w-]+\.[\w-]+)\|/.exec(slackText)?.[1];
    expect(token).toBeTruthy();
    const confirm = await fetch(`${base}/ack/${token}`);
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).toContain('<form method="post">');
    const acked = await fetch(`${base}/ack/${token}`, { method: 'POST', body: new URLSearchParams({ by: 'kim', comment: 'rolling back' }) });
    expect(acked.status).toBe(200);

    await sleep(Math.max(0, t0 + 5000 - Date.now())); // past the SMS step (t0 + 4 s)
    expect(sms.received()).toBe(0);

    await p.onTransition(event({ alertname: 'CheckoutDown', service: 'checkout' }, 'resolved', t0));
    await slack.waitFor(2);
    await smtp.waitFor(2);
    await sleep(700);
    expect(sms.received()).toBe(0); // never notified, so no resolved notice either
    expect(JSON.parse(slack.requests[1].body).text).toBe('[RESOLVED] CheckoutDown');
    const fp = p.alerts()[0].fingerprint;
    const kinds = p.timelineFor(fp).map((e) => e.kind);
    for (const k of ['received', 'escalation_started', 'escalation_step', 'acknowledged', 'escalation_stopped', 'resolved', 'ack_ended', 'notification_sent']) expect(kinds).toContain(k);
  });
});
