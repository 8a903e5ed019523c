// Alerting's HTTP channels towards https receivers with a private CA or mutual TLS, through the real
// collector process: the channel's `tls:` (caFile, certFile/keyFile), as Alertmanager's
// http_config.tls_config. Without the CA a notification fails, its error in the outbox naming the
// setting and no secret; the config check names a wrong file's key and path. Certificates are made
// with openssl for the run (test/helpers/tls-certs.ts).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { apiCall } from './helpers/alerting.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';

const certs = makeTestCerts();
const TOKEN = 'tls-test-bearer-token-secret';

interface Receiver {
  url: string;
  /** Request paths received, with the client certificate's CN when one was given. */
  got: Array<{ path: string; client?: string }>;
  server: Server;
}

/** An https receiver with the test server certificate; `mutual`: it asks for a client certificate of the test CA. */
async function receiver(mutual: boolean): Promise<Receiver> {
  const got: Receiver['got'] = [];
  const server = createServer(
    { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert), ...(mutual ? { ca: certs.read(certs.ca), requestCert: true, rejectUnauthorized: true } : {}) },
    (req, res) => {
      req.resume();
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        got.push({ path: req.url ?? '', ...(peer?.subject?.CN ? { client: String(peer.subject.CN) } : {}) });
        res.writeHead(req.url?.includes('/Messages.json') ? 201 : 200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server };
}

let plain: Receiver;
let mutual: Receiver;
let collector: CollectorProcess;

const periscope = (args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'collector/bin/periscope.ts'), ...args], { encoding: 'utf8' });

describe.skipIf(opensslMissing)('alerting channels over https with tls:', () => {
  beforeAll(async () => {
    plain = await receiver(false);
    mutual = await receiver(true);
    const ca = `{ caFile: ${certs.ca} }`;
    const client = `{ caFile: ${certs.ca}, certFile: ${certs.clientCert}, keyFile: ${certs.clientKey} }`;
    const receivers: Array<[string, string]> = [
      ['webhook-ca', `webhook: [{ url: '${plain.url}/webhook-ca', bearerToken: ${TOKEN}, tls: ${ca} }]`],
      ['webhook-no-ca', `webhook: [{ url: '${plain.url}/webhook-no-ca', bearerToken: ${TOKEN} }]`],
      ['webhook-mtls', `webhook: [{ url: '${mutual.url}/webhook-mtls', tls: ${client} }]`],
      ['webhook-mtls-no-cert', `webhook: [{ url: '${mutual.url}/webhook-mtls-no-cert', tls: ${ca} }]`],
      ['slack-ca', `slack: [{ webhookUrl: '${plain.url}/services/T000/B000/slacksecret', tls: ${ca} }]`],
      ['sms-mtls', `sms: [{ baseUrl: '${mutual.url}', accountSid: AC1, authToken: smssecrettoken, from: '+15550000000', to: '+15551111111', tls: ${client} }]`],
    ];
    collector = await startCollectorProcess({
      configYaml: `alerting:
  delivery: { backoffBase: 100ms, backoffCap: 200ms }
  receivers:
${receivers.map(([name, channel]) => `    - name: ${name}\n      ${channel}\n`).join('')}  route:
    receiver: webhook-ca
    groupBy: [to]
    groupWait: 0s
    routes:
${receivers.map(([name]) => `      - { matchers: ['to="${name}"'], receiver: ${name} }\n`).join('')}`,
    });
    const alerts = receivers.map(([name]) => ({ labels: { alertname: 'TlsTest', to: name } }));
    expect((await apiCall(collector.url, '/api/v2/alerts', alerts)).status).toBe(200);
  });

  afterAll(async () => {
    await collector?.dispose();
    for (const r of [plain, mutual]) r?.server.closeAllConnections();
    await Promise.all([plain, mutual].map((r) => r && new Promise((resolve) => r.server.close(resolve))));
    certs.remove();
  });

  const paths = (r: Receiver) => r.got.map((g) => g.path);
  /** The outbox's last error of the receiver's notification, once it has one. */
  const lastError = (name: string) =>
    waitFor(async () => {
      const { json } = await apiCall(collector.url, '/api/v1/notifications?limit=100');
      return (json.notifications as Array<{ receiver: string; lastError: string | null }>).find((n) => n.receiver === name && n.lastError)?.lastError;
    });

  it('a webhook with its private CA in tls.caFile is delivered; without it, it fails naming tls.caFile, no secret in the error', async () => {
    await waitFor(() => paths(plain).includes('/webhook-ca'));
    const error = await lastError('webhook-no-ca');
    expect(error).toMatch(/certificate is not from a trusted CA; give the channel its CA with tls\.caFile/);
    expect(error).not.toContain(TOKEN);
    expect(paths(plain)).not.toContain('/webhook-no-ca');
  });

  it('mutual TLS: the client certificate of tls.certFile/keyFile is accepted (webhook, SMS); without one the receiver refuses', async () => {
    await waitFor(() => mutual.got.some((g) => g.path === '/webhook-mtls'));
    expect(mutual.got.find((g) => g.path === '/webhook-mtls')?.client).toBe('periscope-collector');
    await waitFor(() => mutual.got.some((g) => g.path.endsWith('/Messages.json')));
    const error = await lastError('webhook-mtls-no-cert');
    expect(error).toMatch(/the receiver asks for a client certificate: set tls\.certFile and tls\.keyFile/);
    expect(mutual.got.map((g) => g.path)).not.toContain('/webhook-mtls-no-cert');
  });

  it('Slack through an https webhook with tls.caFile', async () => {
    await waitFor(() => paths(plain).includes('/services/T000/B000/slacksecret'));
  });

  it('check-config names the key and the path of a wrong tls file, and a tls on an http:// url', () => {
    const dir = certs.dir;
    const yaml = `alerting:
  receivers:
    - name: a
      webhook: [{ url: 'https://hooks.example/x', tls: { caFile: missing-ca.pem } }]
      slack: [{ webhookUrl: 'http://hooks.example/y', tls: { caFile: ${certs.ca} } }]
      sms: [{ accountSid: AC1, authToken: t0ken, from: '+15550000000', to: '+15551111111', tls: { certFile: ${certs.clientCert}, keyFile: ${certs.otherKey} } }]
      email: [{ to: ops@example.com, from: alerts@example.com, smtp: { host: smtp.example, tls: { caFile: smtp-ca.pem } } }]
  route: { receiver: a }
`;
    const file = join(dir, 'bad-tls.yaml');
    writeFileSync(file, yaml);
    const { status, stdout, stderr } = periscope(['check-config', file]);
    const out = stdout + stderr;
    expect(status).toBe(2);
    expect(out).toContain(`alerting.receivers.0.webhook.0.tls.caFile: cannot read ${join(dir, 'missing-ca.pem')}: no such file`);
    expect(out).toContain('alerting.receivers.0.slack.0.tls: set with an http:// url (alerting.receivers.0.slack.0.webhookUrl)');
    expect(out).toContain(`alerting.receivers.0.email.0.smtp.tls.caFile: cannot read ${join(dir, 'smtp-ca.pem')}: no such file`);
    expect(out).toContain(`alerting.receivers.0.sms.0.tls.keyFile: the key in ${certs.otherKey} does not belong to the certificate in ${certs.clientCert} (certFile)`);
  });
});
