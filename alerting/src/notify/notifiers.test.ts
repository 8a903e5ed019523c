// Every channel runs the shared notifier contract against a real local backend.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeNotifier, sampleNotification, type NotifierHarness } from './testing/describe-notifier.ts';
import { startHttpBackend, startSmtpBackend, type HttpBehavior, type SmtpBehavior } from './testing/backends.ts';
import { EmailNotifier } from './email/email.ts';
import { SlackNotifier } from './slack/slack.ts';
import { SmsNotifier } from './sms/sms.ts';
import { WebhookNotifier } from './webhook/webhook.ts';

const SLACK_TOKEN = 'T0SECRET/B0SECRET/slackWebhookSecretToken';
const WEBHOOK_TOKEN = 'webhookQuerySecret42';
const BEARER = 'bearerSecretToken99';
const TWILIO_TOKEN = 'twilioAuthTokenSecret77';
const SMTP_PASSWORD = 'smtpPasswordSecret55';

const httpDate = (msFromNow: number) => new Date(Date.now() + msFromNow).toUTCString();

/** HTTP answers every HTTP channel must classify the same way (DESIGN.md principle 3). */
function httpCases(okStatus: number, echo: string): NotifierHarness<HttpBehavior>['cases'] {
  return [
    { name: `${okStatus} → success`, behavior: { status: okStatus, body: '{}' }, want: { status: 'success' } },
    { name: '400 → permanent (echoing the secret)', behavior: { status: 400, body: `{"code":21211,"message":"bad request ${echo}"}` }, want: { status: 'permanent' } },
    { name: '401 → permanent', behavior: { status: 401, body: `invalid_token ${echo}` }, want: { status: 'permanent' } },
    { name: '403 → permanent', behavior: { status: 403, body: 'forbidden' }, want: { status: 'permanent' } },
    { name: '404 → permanent', behavior: { status: 404, body: 'no_service' }, want: { status: 'permanent' } },
    { name: '408 → retryable', behavior: { status: 408 }, want: { status: 'retryable' } },
    { name: '429 + Retry-After seconds → retryable, honoured', behavior: { status: 429, headers: { 'retry-after': '7' }, body: 'rate_limited' }, want: { status: 'retryable', retryAfterMs: 7000 } },
    { name: '429 + Retry-After HTTP-date → retryable, honoured', behavior: { status: 429, headers: { 'retry-after': httpDate(30_000) } }, want: { status: 'retryable', retryAfterMs: 30_000 } },
    { name: '500 → retryable (echoing the secret)', behavior: { status: 500, body: `internal ${echo}` }, want: { status: 'retryable' } },
    { name: '502 → retryable', behavior: { status: 502 }, want: { status: 'retryable' } },
    { name: '503 + Retry-After → retryable, honoured', behavior: { status: 503, headers: { 'retry-after': '2' } }, want: { status: 'retryable', retryAfterMs: 2000 } },
  ];
}

describeNotifier<HttpBehavior>('slack', {
  secrets: [SLACK_TOKEN],
  ok: { status: 200, body: 'ok' },
  cases: httpCases(200, SLACK_TOKEN).map((c) => (c.behavior.status === 200 ? { ...c, behavior: { status: 200, body: 'ok' } } : c)),
  async setup(logger) {
    const backend = await startHttpBackend();
    const notifier = new SlackNotifier('team/slack/0', 'team', { webhookUrl: `${backend.url}/services/${SLACK_TOKEN}`, sendResolved: true, maxAlerts: 10, timeoutMs: 5000 }, { logger });
    return { notifier, backend };
  },
  unreachable(logger) {
    return new SlackNotifier('team/slack/0', 'team', { webhookUrl: `http://127.0.0.1:1/services/${SLACK_TOKEN}`, sendResolved: true, maxAlerts: 10, timeoutMs: 2000 }, { logger });
  },
});

describeNotifier<HttpBehavior>('webhook', {
  secrets: [WEBHOOK_TOKEN, BEARER],
  ok: { status: 200 },
  cases: httpCases(200, `${WEBHOOK_TOKEN} ${BEARER}`),
  async setup(logger) {
    const backend = await startHttpBackend();
    const notifier = new WebhookNotifier('team/webhook/0', 'team', { url: `${backend.url}/hook?token=${WEBHOOK_TOKEN}`, bearerToken: BEARER, sendResolved: true, maxAlerts: 0, timeoutMs: 5000 }, { logger });
    return { notifier, backend };
  },
  unreachable(logger) {
    return new WebhookNotifier('team/webhook/0', 'team', { url: `http://127.0.0.1:1/hook?token=${WEBHOOK_TOKEN}`, bearerToken: BEARER, sendResolved: true, maxAlerts: 0, timeoutMs: 2000 }, { logger });
  },
});

const smsConfig = (baseUrl: string) => ({ baseUrl, accountSid: 'AC0001', authToken: TWILIO_TOKEN, from: '+15550001', to: '+821012345678', sendResolved: false, maxSegments: 3, timeoutMs: 5000 });

describeNotifier<HttpBehavior>('sms', {
  secrets: [TWILIO_TOKEN, Buffer.from(`AC0001:${TWILIO_TOKEN}`).toString('base64')],
  ok: { status: 201, body: '{"sid":"SM1"}' },
  cases: httpCases(201, TWILIO_TOKEN),
  async setup(logger) {
    const backend = await startHttpBackend();
    return { notifier: new SmsNotifier('team/sms/0.0', 'team', smsConfig(backend.url), { logger }), backend };
  },
  unreachable(logger) {
    return new SmsNotifier('team/sms/0.0', 'team', smsConfig('http://127.0.0.1:1'), { logger });
  },
});

const emailConfig = (port: number) => ({
  to: ['oncall@example.com'],
  from: 'Periscope <alerts@periscope.example>',
  smtp: { host: '127.0.0.1', port, secure: false, requireTls: false, user: 'alerts', password: SMTP_PASSWORD, maxConnections: 1, tlsRejectUnauthorized: false },
  subjectPrefix: '[Periscope]',
  sendResolved: true,
  maxAlerts: 50,
  timeoutMs: 5000,
});

describeNotifier<SmtpBehavior>('email', {
  secrets: [SMTP_PASSWORD, Buffer.from(`\u0000alerts\u0000${SMTP_PASSWORD}`).toString('base64')],
  ok: { dataCode: 250 },
  cases: [
    { name: '250 → success', behavior: { dataCode: 250 }, want: { status: 'success' } },
    { name: '451 on DATA → retryable', behavior: { dataCode: 451, message: 'try again later' }, want: { status: 'retryable' } },
    { name: '452 on DATA → retryable', behavior: { dataCode: 452, message: 'insufficient storage' }, want: { status: 'retryable' } },
    { name: '550 on DATA → permanent', behavior: { dataCode: 550, message: 'mailbox unavailable' }, want: { status: 'permanent' } },
    { name: '554 on DATA → permanent', behavior: { dataCode: 554, message: 'rejected' }, want: { status: 'permanent' } },
    { name: '535 AUTH echoing the password → permanent', behavior: { dataCode: 250, authFailMessage: `bad credentials for ${SMTP_PASSWORD}` }, want: { status: 'permanent' } },
  ],
  async setup(logger) {
    const backend = await startSmtpBackend({ user: 'alerts', pass: SMTP_PASSWORD });
    return { notifier: new EmailNotifier('team/email/0', 'team', emailConfig(backend.port), { logger }), backend };
  },
  unreachable(logger) {
    // Nothing listens on port 1 of the loopback: connection refused.
    return new EmailNotifier('team/email/0', 'team', emailConfig(1), { logger });
  },
});

// The config takes any duration, and Node fires a timer longer than 2^31-1 ms (about 24.8 days)
// after 1 ms: with `timeout: 600h`, every Slack message and every mail failed at once, as webhook
// and SMS requests did before they were bounded (MAX_NODE_TIMER_MS).
describe('a timeout longer than a Node timer (timeout: 600h) waits, not fails at once', () => {
  const LONG = 600 * 3_600_000;

  it('slack', async () => {
    // Answers after a pause, as a real Slack does: a timer set to 1 ms fires first.
    const server = createServer((req, res) => {
      req.resume();
      setTimeout(() => res.end('ok'), 50);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const notifier = new SlackNotifier('team/slack/0', 'team', { webhookUrl: `http://127.0.0.1:${port}/services/${SLACK_TOKEN}`, sendResolved: true, maxAlerts: 10, timeoutMs: LONG });
    try {
      await notifier.start();
      expect(await notifier.send(sampleNotification())).toEqual({ status: 'success' });
    } finally {
      await notifier.shutdown();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('email', async () => {
    const backend = await startSmtpBackend({ user: 'alerts', pass: SMTP_PASSWORD });
    backend.respond({ dataCode: 250 });
    const notifier = new EmailNotifier('team/email/0', 'team', { ...emailConfig(backend.port), timeoutMs: LONG });
    try {
      await notifier.start();
      expect(await notifier.send(sampleNotification())).toEqual({ status: 'success' });
    } finally {
      await notifier.shutdown();
      await backend.close();
    }
  });
});
