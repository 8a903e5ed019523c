// Alerting's HTTP channels through an HTTP proxy (proxyUrl, noProxy: Alertmanager's http_config
// proxy_url, no_proxy), through the real collector process and a real proxy
// (test/helpers/http-proxy.ts): Slack and webhooks go through it (a forwarded request for http://,
// a CONNECT with the channel's tls: inside it for https://), its credentials are sent and appear in
// no error or log line, noProxy bypasses it, and a notification waits while the proxy is down and
// is sent once it is up.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { apiCall } from './helpers/alerting.ts';
import { startTestProxy, type TestProxy } from './helpers/http-proxy.ts';
import { freePort } from './helpers/net.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';

const certs = makeTestCerts();
const PASSWORD = 'Alert-pr0xy-pass';
const DOWN_PASSWORD = 'Down-pr0xy-pass';

interface Receiver {
  url: string;
  paths: string[];
  server: Server;
}

/** A receiver answering 200 to everything, over https (the test certificate) or http. */
async function receiver(tls: boolean): Promise<Receiver> {
  const paths: string[] = [];
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    req.resume().on('end', () => {
      paths.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  };
  const server = tls ? createHttpsServer({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, server };
}

let plain: Receiver;
/** The receiver of the channel whose noProxy lists it: nothing to it may go through the proxy. */
let direct: Receiver;
let secure: Receiver;
let proxy: TestProxy;
let downPort: number;
let late: TestProxy | undefined;
let collector: CollectorProcess;

const periscope = (args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'collector/bin/periscope.ts'), ...args], { encoding: 'utf8' });

describe.skipIf(opensslMissing)('alerting channels through an HTTP proxy', () => {
  beforeAll(async () => {
    plain = await receiver(false);
    direct = await receiver(false);
    secure = await receiver(true);
    proxy = await startTestProxy({ credentials: { user: 'alerts', password: PASSWORD } });
    downPort = await freePort();
    const through = `'http://alerts:${PASSWORD}@127.0.0.1:${proxy.port}'`;
    const receivers: Array<[string, string]> = [
      ['slack', `slack: [{ webhookUrl: '${plain.url}/services/T000/B000/slacksecret', proxyUrl: ${through} }]`],
      ['webhook-tls', `webhook: [{ url: '${secure.url}/webhook-tls', proxyUrl: ${through}, tls: { caFile: ${certs.ca} } }]`],
      ['webhook-env', `webhook: [{ url: '${plain.url}/webhook-env', proxyFromEnvironment: true }]`],
      ['webhook-direct', `webhook: [{ url: '${direct.url}/webhook-direct', proxyUrl: ${through}, noProxy: '127.0.0.1' }]`],
      ['webhook-down', `webhook: [{ url: '${plain.url}/webhook-down', proxyUrl: 'http://alerts:${DOWN_PASSWORD}@127.0.0.1:${downPort}' }]`],
      ['webhook-wrong', `webhook: [{ url: '${secure.url}/webhook-wrong', proxyUrl: 'http://alerts:Wrong-pr0xy-pass@127.0.0.1:${proxy.port}', tls: { caFile: ${certs.ca} } }]`],
    ];
    collector = await startCollectorProcess({
      env: { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: `http://alerts:${PASSWORD}@127.0.0.1:${proxy.port}`, HTTPS_PROXY: '', NO_PROXY: '', https_proxy: '', no_proxy: '', http_proxy: `http://alerts:${PASSWORD}@127.0.0.1:${proxy.port}` },
      configYaml: `alerting:
  delivery: { backoffBase: 100ms, backoffCap: 200ms, breakerCooldown: 200ms }
  receivers:
${receivers.map(([name, channel]) => `    - name: ${name}\n      ${channel}\n`).join('')}  route:
    receiver: slack
    groupBy: [to]
    groupWait: 0s
    routes:
${receivers.map(([name]) => `      - { matchers: ['to="${name}"'], receiver: ${name} }\n`).join('')}`,
    });
    const alerts = receivers.map(([name]) => ({ labels: { alertname: 'ProxyTest', to: name } }));
    expect((await apiCall(collector.url, '/api/v2/alerts', alerts)).status).toBe(200);
  });

  afterAll(async () => {
    await collector?.dispose();
    await Promise.all([proxy, late].map((p) => p?.close()));
    for (const r of [plain, direct, secure]) {
      if (!r) continue;
      (r.server as import('node:http').Server).closeAllConnections();
      await new Promise((resolve) => r.server.close(resolve));
    }
    certs.remove();
  });

  const basic = `Basic ${Buffer.from(`alerts:${PASSWORD}`).toString('base64')}`;

  it('Slack over http: the proxy forwards the message with the credentials of proxyUrl', async () => {
    await waitFor(() => plain.paths.includes('/services/T000/B000/slacksecret'));
    const seen = proxy.requests.find((r) => r.target === `${plain.url}/services/T000/B000/slacksecret`);
    expect(seen?.proxyAuthorization).toBe(basic);
  });

  it('a webhook over https: a CONNECT tunnel, its tls.caFile checked inside it', async () => {
    await waitFor(() => secure.paths.includes('/webhook-tls'));
    expect(proxy.connects.map((c) => c.target)).toContain(new URL(secure.url).host);
    expect(proxy.connects.map((c) => c.proxyAuthorization)).toContain(basic);
  });

  it('proxyFromEnvironment: through the collector\'s HTTP_PROXY', async () => {
    await waitFor(() => plain.paths.includes('/webhook-env'));
    expect(proxy.requests.find((r) => r.target === `${plain.url}/webhook-env`)?.proxyAuthorization).toBe(basic);
  });

  it('noProxy lists the receiver: sent directly, even with Node\'s own proxy on (NODE_USE_ENV_PROXY=1)', async () => {
    await waitFor(() => direct.paths.includes('/webhook-direct'));
    expect(proxy.targets().some((t) => t.includes(new URL(direct.url).host))).toBe(false);
  });

  const lastError = (name: string) =>
    waitFor(async () => {
      const { json } = await apiCall(collector.url, '/api/v1/notifications?limit=100');
      return (json.notifications as Array<{ receiver: string; lastError: string | null }>).find((n) => n.receiver === name && n.lastError)?.lastError;
    });

  it('credentials the proxy refuses: a retryable failure that says so, without the password', async () => {
    const error = await lastError('webhook-wrong');
    expect(error).toMatch(/^webhook network error: the proxy answered 407 to CONNECT: proxy authentication required, check the user and password in proxyUrl \(through the proxy http:\/\/127\.0\.0\.1:\d+\)$/);
    expect(secure.paths).not.toContain('/webhook-wrong');
  });

  it('a proxy down: the notification fails as retryable naming the proxy, no password, and is sent once the proxy is up', async () => {
    const error = await lastError('webhook-down');
    expect(error).toMatch(new RegExp(`ECONNREFUSED.*\\(through the proxy http://127\\.0\\.0\\.1:${downPort}\\)`));
    expect(error).not.toContain(DOWN_PASSWORD);
    late = await startTestProxy({ port: downPort, credentials: { user: 'alerts', password: DOWN_PASSWORD } });
    await waitFor(() => plain.paths.includes('/webhook-down'));
    expect(late.requests.map((r) => r.target)).toContain(`${plain.url}/webhook-down`);
    expect(plain.paths.filter((p) => p === '/webhook-down')).toHaveLength(1);
    for (const secret of [PASSWORD, DOWN_PASSWORD, 'Wrong-pr0xy-pass', Buffer.from(`alerts:${PASSWORD}`).toString('base64')]) expect(collector.output()).not.toContain(secret);
  });

  it('check-config names a bad proxyUrl, both proxy keys, and noProxy alone, without the password', () => {
    const yaml = `alerting:
  receivers:
    - name: a
      webhook: [{ url: 'https://hooks.example/x', proxyUrl: 'ftp://u:Cfg-pass-1@proxy:21' }]
      slack: [{ webhookUrl: 'https://hooks.example/y', proxyUrl: 'http://proxy:3128', proxyFromEnvironment: true }]
      sms: [{ accountSid: AC1, authToken: t0ken, from: '+15550000000', to: '+15551111111', noProxy: 'localhost' }]
      email: [{ to: ops@example.com, from: alerts@example.com, smtp: { host: smtp.example, proxyUrl: 'socks5://u:Cfg-pass-1@proxy:1080' } }]
  route: { receiver: a }
`;
    const file = join(certs.dir, 'bad-proxy.yaml');
    writeFileSync(file, yaml);
    const { status, stdout, stderr } = periscope(['check-config', file]);
    const out = stdout + stderr;
    expect(status).toBe(2);
    expect(out).toContain('alerting.receivers.0.webhook.0.proxyUrl: not an http:// or https:// URL of a proxy (http://[user:password@]host:port); the scheme ftp is not supported');
    expect(out).toContain('alerting.receivers.0.slack.0.proxyFromEnvironment: set with proxyUrl; use one or the other');
    expect(out).toContain('alerting.receivers.0.sms.0.noProxy: set without proxyUrl');
    expect(out).toContain('alerting.receivers.0.email.0.smtp.proxyUrl: not an http:// or https:// URL of a proxy (http://[user:password@]host:port); the scheme socks5 is not supported');
    expect(out).not.toContain('Cfg-pass-1');
  });
});
