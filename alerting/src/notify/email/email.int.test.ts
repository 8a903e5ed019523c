// Real SMTP server (npm smtp-server), real time: the pipeline's mail has a plain-text and an HTML
// part, and every update of one group episode lands in one thread (Message-ID / In-Reply-To / References).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { labelsFingerprint } from '../../dispatch/alert.ts';
import { parseNotifyConfig } from '../../notify-config.ts';
import { NotificationPipeline } from '../../notify-pipeline.ts';
import type { AlertEvent } from '../../types.ts';
import { startSmtpBackend, type SmtpBackend } from '../testing/backends.ts';
import { sampleNotification } from '../testing/describe-notifier.ts';
import { buildNotifiers } from '../factory.ts';
import { makeTestCerts, opensslMissing } from '../../../../test/helpers/tls-certs.ts';
import { decodeHeader, leaves, parseMime } from '../testing/mime.ts';
import { startTestProxy } from '../../../../test/helpers/http-proxy.ts';
import { freePort } from '../../../../test/helpers/net.ts';

let smtp: SmtpBackend | undefined;
let pipeline: NotificationPipeline | undefined;
let dir: string | undefined;

afterEach(async () => {
  await pipeline?.shutdown();
  await smtp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  pipeline = undefined;
  smtp = undefined;
  dir = undefined;
});

let tid = 0;
function event(instance: string, state: 'firing' | 'resolved', startsAt: number): AlertEvent {
  const labels = { alertname: 'HighLatency', service: 'api', instance, severity: 'critical' };
  return {
    fingerprint: labelsFingerprint(labels),
    ruleId: 'r1',
    ruleName: 'HighLatency',
    labels,
    annotations: { summary: `p99 latency above 2s on ${instance}`, description: 'Check <the> "api" & its deps' },
    severity: 'critical',
    state,
    previousState: state === 'resolved' ? 'firing' : 'pending',
    value: 2.71,
    startsAt: new Date(startsAt).toISOString(),
    ...(state === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
    transitionId: ++tid,
    flapping: false,
  };
}

describe('email through a real SMTP server', () => {
  it('sends multipart text + HTML and threads one episode into one conversation', async () => {
    smtp = await startSmtpBackend({ user: 'alerts', pass: 'smtp-secret-pw' });
    dir = mkdtempSync(join(tmpdir(), 'periscope-email-'));
    const smtpConfig = { host: '127.0.0.1', port: smtp.port, user: 'alerts', password: 'smtp-secret-pw' };
    const config = parseNotifyConfig({
      receivers: [
        {
          name: 'mail',
          email: [
            { to: ['oncall@example.com'], from: 'Periscope <alerts@periscope.example>', smtp: smtpConfig },
            { to: 'kr-oncall@example.com', from: 'alerts@periscope.example', smtp: smtpConfig, locale: 'ko' },
          ],
        },
      ],
      route: { receiver: 'mail', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1s' },
      ack: { baseUrl: 'https://periscope.example' },
    });
    pipeline = new NotificationPipeline({ config, dataDir: dir });
    await pipeline.start();

    const t0 = Date.now();
    await pipeline.onTransition(event('a', 'firing', t0));
    await smtp.waitFor(2);
    await pipeline.onTransition(event('b', 'firing', t0));
    await smtp.waitFor(4);
    await pipeline.onTransition(event('a', 'resolved', t0));
    await pipeline.onTransition(event('b', 'resolved', t0));
    await smtp.waitFor(6);

    const en = smtp.mails.filter((m) => m.to.includes('oncall@example.com')).map((m) => parseMime(m.raw));
    const ko = smtp.mails.filter((m) => m.to.includes('kr-oncall@example.com')).map((m) => parseMime(m.raw));
    expect(en).toHaveLength(3);
    expect(ko).toHaveLength(3);

    // Both parts, in multipart/alternative.
    for (const mail of en) {
      expect(mail.headers['content-type']).toMatch(/^multipart\/alternative/);
      const types = leaves(mail).map((p) => p.headers['content-type']?.split(';')[0]);
      expect(types).toEqual(['text/plain', 'text/html']);
      expect(mail.headers['auto-submitted']).toBe('auto-generated');
    }
    const [first, second, third] = en;
    const text = leaves(first)[0].body;
    const html = leaves(first)[1].body;
    expect(text).toContain('[FIRING:1] HighLatency');
    expect(text).toMatch(/Acknowledge: https:\/\/periscope\.example\/ack\/[\w-]+\.[\w-]+/);
    expect(text).toContain('Logs around the alert: https://periscope.example/#/search?service=api&start=');
    expect(html).toContain('Check &lt;the&gt; &quot;api&quot; &amp; its deps');
    expect(html).toMatch(/<a href="https:\/\/periscope\.example\/ack\/[\w-]+\.[\w-]+">Acknowledge<\/a>/);
    expect(leaves(second)[0].body).toContain('[FIRING:2] HighLatency');
    expect(leaves(third)[0].body).toContain('[RESOLVED] HighLatency');

    // Threading: a stable root Message-ID, then In-Reply-To/References to it on every later message.
    const root = first.headers['message-id'];
    expect(root).toMatch(/^<[0-9a-f]{32}@periscope\.example>$/);
    expect(first.headers['in-reply-to']).toBeUndefined();
    expect(decodeHeader(first.headers.subject)).toBe('[Periscope] HighLatency');
    for (const later of [second, third]) {
      expect(later.headers['message-id']).not.toBe(root);
      expect(later.headers['in-reply-to']).toBe(root);
      expect(later.headers.references).toBe(root);
      expect(decodeHeader(later.headers.subject)).toBe('Re: [Periscope] HighLatency');
    }
    // The Korean integration: its own thread root (per integration), Korean text.
    expect(ko[0].headers['message-id']).toBe(root);
    expect(leaves(ko[0])[0].body).toContain('[발생:1] HighLatency');
    expect(leaves(ko[2])[0].body).toContain('[해결됨] HighLatency');
    expect(leaves(ko[0])[1].body).toContain('확인(ACK)');
  });
});

describe('email to several recipients', () => {
  it('some refused by the server: sent once to the others, the refusals in the notification and its timeline', async () => {
    smtp = await startSmtpBackend();
    smtp.respond({ dataCode: 250, refuseRecipients: ['gone@example.com'] });
    dir = mkdtempSync(join(tmpdir(), 'periscope-email-'));
    const config = parseNotifyConfig({
      receivers: [{ name: 'mail', email: [{ to: ['oncall@example.com', 'gone@example.com'], from: 'alerts@periscope.example', smtp: { host: '127.0.0.1', port: smtp.port } }] }],
      route: { receiver: 'mail', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1s' },
    });
    pipeline = new NotificationPipeline({ config, dataDir: dir });
    await pipeline.start();
    const firing = event('a', 'firing', Date.now());
    await pipeline.onTransition(firing);
    await smtp.waitFor(1);
    const deadline = Date.now() + 15_000;
    while (pipeline.notifications({ status: 'sent' }).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const [sent] = pipeline.notifications({ status: 'sent' });
    expect(sent.lastError).toMatch(/^the SMTP server refused gone@example\.com \(550 .*mailbox unavailable\); the other recipients got the mail$/);
    expect(smtp.mails.map((m) => m.to)).toEqual([['oncall@example.com']]);
    expect(pipeline.timelineFor(firing.fingerprint).find((e) => e.kind === 'notification_sent')?.details).toMatchObject({ error: expect.stringContaining('refused gone@example.com') });
  });
});

// smtp.tls: an SMTP relay with a private CA (a company's), as Alertmanager's email_config.tls_config.
describe.skipIf(opensslMissing)('email to an SMTP server over TLS with a private CA', () => {
  it('is sent with smtp.tls.caFile; without it, it fails as retryable naming smtp.tls.caFile', async () => {
    const certs = makeTestCerts();
    smtp = await startSmtpBackend(undefined, { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) });
    const email = (tls?: object) => ({ to: 'oncall@example.com', from: 'alerts@periscope.example', smtp: { host: '127.0.0.1', port: smtp!.port, secure: true, ...(tls ? { tls } : {}) } });
    const config = parseNotifyConfig({ receivers: [{ name: 'mail', email: [email({ caFile: 'ca.pem' }), email()] }], route: { receiver: 'mail' } });
    const { notifiers } = buildNotifiers(config.receivers, { baseDir: certs.dir });
    const [withCa, withoutCa] = [...notifiers.values()];
    try {
      await Promise.all([withCa.start(), withoutCa.start()]);
      expect(await withCa.send(sampleNotification())).toEqual({ status: 'success' });
      expect(smtp.mails).toHaveLength(1);
      const failed = await withoutCa.send(sampleNotification());
      expect(failed).toMatchObject({ status: 'retryable', error: expect.stringMatching(/the SMTP server's certificate is not from a trusted CA; give the channel its CA with smtp\.tls\.caFile/) });
      expect(smtp.mails).toHaveLength(1);
    } finally {
      await Promise.all([withCa.shutdown(), withoutCa.shutdown()]);
      certs.remove();
    }
  });
});

// smtp.proxyUrl: an SMTP relay outside, reached through an HTTP proxy that allows CONNECT (a
// real one: test/helpers/http-proxy.ts), with TLS to the relay inside the tunnel.
describe.skipIf(opensslMissing)('email through an HTTP proxy (smtp.proxyUrl)', () => {
  it('tunnels the SMTP session through CONNECT with the credentials of proxyUrl; a proxy down is retryable, named, and no password shows', async () => {
    const certs = makeTestCerts();
    smtp = await startSmtpBackend(undefined, { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) });
    const proxy = await startTestProxy({ credentials: { user: 'mail', password: 'Smtp-pr0xy-pass' } });
    const down = await freePort();
    const email = (proxyUrl: string) => ({ to: 'oncall@example.com', from: 'alerts@periscope.example', smtp: { host: '127.0.0.1', port: smtp!.port, secure: true, proxyUrl, tls: { caFile: 'ca.pem' } } });
    const config = parseNotifyConfig({
      receivers: [{ name: 'mail', email: [email(`http://mail:Smtp-pr0xy-pass@127.0.0.1:${proxy.port}`), email(`http://mail:Smtp-pr0xy-pass@127.0.0.1:${down}`)] }],
      route: { receiver: 'mail' },
    });
    const { notifiers } = buildNotifiers(config.receivers, { baseDir: certs.dir });
    const [through, proxyDown] = [...notifiers.values()];
    try {
      await Promise.all([through.start(), proxyDown.start()]);
      expect(await through.send(sampleNotification())).toEqual({ status: 'success' });
      expect(smtp.mails).toHaveLength(1);
      expect(proxy.connects).toEqual([{ target: `127.0.0.1:${smtp.port}`, proxyAuthorization: `Basic ${Buffer.from('mail:Smtp-pr0xy-pass').toString('base64')}` }]);
      const failed = await proxyDown.send(sampleNotification());
      expect(failed).toMatchObject({ status: 'retryable', error: expect.stringContaining(`(through the proxy http://127.0.0.1:${down})`) });
      expect(failed.error).not.toContain('Smtp-pr0xy-pass');
      expect(smtp.mails).toHaveLength(1);
    } finally {
      await Promise.all([through.shutdown(), proxyDown.shutdown()]);
      await proxy.idle(); // the pool's QUIT ends the tunnel: the SMTP server then closes at once
      await proxy.close();
      certs.remove();
    }
  });
});

// An https:// smtp.proxyUrl is checked against Node's CAs whatever smtp.tls says of the relay:
// the relay's verification turned off (smtp.tlsRejectUnauthorized: false, tls.insecureSkipVerify)
// is not the proxy's, else its credentials go to whoever answers on its address.
describe.skipIf(opensslMissing)('email through an https:// proxy whose certificate is not trusted', () => {
  it.each([
    { name: 'smtp.tlsRejectUnauthorized: false', smtp: { tlsRejectUnauthorized: false } },
    { name: 'smtp.tls.insecureSkipVerify', smtp: { tls: { insecureSkipVerify: true } } },
  ])('$name: the relay unverified, the proxy still is; no Proxy-Authorization is sent to it', async ({ smtp: relayTls }) => {
    const certs = makeTestCerts();
    const seen: Array<string | undefined> = [];
    const { createServer } = await import('node:https');
    const impostor = createServer({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) });
    impostor.on('connect', (req, socket) => {
      seen.push(req.headers['proxy-authorization']);
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    const port = (impostor.address() as import('node:net').AddressInfo).port;
    const config = parseNotifyConfig({
      receivers: [{ name: 'mail', email: [{ to: 'oncall@example.com', from: 'alerts@periscope.example', smtp: { host: '127.0.0.1', port: 2525, secure: true, proxyUrl: `https://mail:Smtp-pr0xy-pass@127.0.0.1:${port}`, ...relayTls } }] }],
      route: { receiver: 'mail' },
    });
    const [notifier] = [...buildNotifiers(config.receivers, { baseDir: certs.dir }).notifiers.values()];
    try {
      await notifier.start();
      const failed = await notifier.send(sampleNotification());
      expect(failed.status).toBe('retryable');
      expect(seen).toEqual([]);
      expect(failed.error).not.toContain('Smtp-pr0xy-pass');
    } finally {
      await notifier.shutdown();
      impostor.closeAllConnections();
      await new Promise((r) => impostor.close(r));
      certs.remove();
    }
  });
});
