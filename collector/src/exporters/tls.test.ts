import { createPrivateKey } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCerts, opensslMissing } from '../../../test/helpers/tls-certs.ts';
import { readConfig } from '../config/load.ts';
import { httpEndpoint, send } from './http.ts';
import { loadTls, tlsConnector } from './tls.ts';
import { ownDispatcher } from '../../../alerting/src/proxy.ts';

// The `tls:` block of an exporter as the config loading checks it (start and check-config).
const certs = makeTestCerts();
afterAll(() => certs.remove());

let n = 0;
function check(tls: string, url = 'https://loki:3100', type = 'loki') {
  const dir = join(certs.dir, `cfg-${n++}`);
  mkdirSync(dir);
  const file = join(dir, 'periscope.yaml');
  writeFileSync(file, `exporters:\n  - type: ${type}\n    name: x\n    url: ${url}\n    tls: ${tls}\n`);
  return { dir, ...readConfig({ file, env: {} }) };
}

describe.skipIf(opensslMissing)('exporters[].tls, checked with the config', () => {
  it.each([
    { name: 'a CA', tls: `{ caFile: ${certs.ca} }` },
    { name: 'a client certificate', tls: `{ caFile: ${certs.ca}, certFile: ${certs.clientCert}, keyFile: ${certs.clientKey} }` },
    { name: 'a server name, TLS 1.3', tls: `{ serverName: backend.example, minVersion: TLS1.3 }` },
    { name: 'no verification', tls: '{ insecureSkipVerify: true }' },
  ])('valid: $name', ({ tls }) => {
    for (const type of ['loki', 'elasticsearch', 'prometheusRemoteWrite']) expect(check(tls, 'https://backend:443', type).problems).toEqual([]);
  });

  it('defaults: TLS 1.2 at least, verification on', () => {
    expect(check(`{ caFile: ${certs.ca} }`).config.exporters[0].tls).toEqual({ caFile: certs.ca, insecureSkipVerify: false, minVersion: 'TLS1.2' });
  });

  it('a relative path is from the config file\'s folder', () => {
    const { dir, problems } = check('{ caFile: ca.pem }');
    expect(problems).toEqual([`exporters.0.tls.caFile: cannot read ${join(dir, 'ca.pem')}: no such file`]);
    copyFileSync(certs.ca, join(dir, 'ca.pem'));
    expect(readConfig({ file: join(dir, 'periscope.yaml'), env: {} }).problems).toEqual([]);
  });

  it.each([
    { name: 'a missing file', tls: '{ caFile: /nonexistent/ca.pem }', problem: 'exporters.0.tls.caFile: cannot read /nonexistent/ca.pem: no such file' },
    { name: 'a directory', tls: '{ caFile: /tmp }', problem: 'exporters.0.tls.caFile: cannot read /tmp: a directory, not a file' },
    { name: 'a key as the CA', tls: `{ caFile: ${certs.clientKey} }`, problem: `exporters.0.tls.caFile: ${certs.clientKey} holds no PEM certificate` },
    { name: 'a certificate without its key', tls: `{ certFile: ${certs.clientCert} }`, problem: 'exporters.0.tls.keyFile: missing: a client certificate needs both certFile and keyFile' },
    { name: 'a key without its certificate', tls: `{ keyFile: ${certs.clientKey} }`, problem: 'exporters.0.tls.certFile: missing: a client certificate needs both certFile and keyFile' },
    { name: 'a certificate as the key', tls: `{ certFile: ${certs.clientCert}, keyFile: ${certs.clientCert} }`, problem: `exporters.0.tls.keyFile: ${certs.clientCert} holds no PEM private key` },
    { name: 'a key of another certificate', tls: `{ certFile: ${certs.clientCert}, keyFile: ${certs.otherKey} }`, problem: `exporters.0.tls.keyFile: the key in ${certs.otherKey} does not belong to the certificate in ${certs.clientCert} (certFile)` },
    { name: 'an unknown TLS version', tls: '{ minVersion: TLS1.1 }', problem: 'exporters.0.tls.minVersion: must be one of "TLS1.2", "TLS1.3"' },
    { name: "the OTel Collector's key names", tls: `{ ca_file: ${certs.ca} }`, problem: 'exporters.0.tls.ca_file: unknown key' },
  ])('refused, naming the key and the path: $name', ({ tls, problem }) => {
    const { problems } = check(tls);
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(problem)).toBe(true);
  });

  it('an encrypted key is refused as such', () => {
    const dir = join(certs.dir, 'enc');
    mkdirSync(dir);
    const encrypted = createPrivateKey(certs.read(certs.clientKey)).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass-phrase' });
    writeFileSync(join(dir, 'client.key'), encrypted);
    const { problems } = check(`{ certFile: ${certs.clientCert}, keyFile: ${join(dir, 'client.key')} }`);
    expect(problems).toEqual([`exporters.0.tls.keyFile: ${join(dir, 'client.key')} is encrypted with a passphrase; give an unencrypted key (openssl pkey -in <file> -out <file>.plain)`]);
  });

  it("no problem shows the key file's content", () => {
    const key = certs.read(certs.clientKey).toString();
    const body = key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const { problems } = check(`{ certFile: ${certs.clientKey}, keyFile: ${certs.clientKey}, caFile: ${certs.clientKey} }`);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) for (const line of key.split('\n').filter((l) => l.length > 20)) expect(p).not.toContain(line);
    expect(problems.join('\n')).not.toContain(body.slice(0, 16));
  });

  it('a tls block with an http:// url is refused: its settings would be ignored', () => {
    expect(check(`{ caFile: ${certs.ca} }`, 'http://loki:3100').problems).toEqual([
      'exporters.0.tls: set with an http:// url (exporters.0.url): TLS applies to https:// only; use https:// or remove tls',
    ]);
  });
});

describe.skipIf(opensslMissing)('tlsConnector: files changed under a running exporter', () => {
  it('a change that cannot be used (a key written before its certificate) is reported and the previous files stay in use', async () => {
    const server = createServer({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert), ca: certs.read(certs.ca), requestCert: true, rejectUnauthorized: true }, (_req, res) =>
      res.writeHead(204, { connection: 'close' }).end(), // every request on a new connection
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = join(certs.dir, 'swap');
    mkdirSync(dir);
    copyFileSync(certs.clientCert, join(dir, 'client.pem'));
    copyFileSync(certs.clientKey, join(dir, 'client.key'));
    const tls = { caFile: certs.ca, certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key'), insecureSkipVerify: false, minVersion: 'TLS1.2' as const };
    const reports: string[][] = [];
    const dispatcher = ownDispatcher(undefined, tlsConnector(tls, 'exporters.0.tls', '/', loadTls(tls, 'exporters.0.tls', '/').options!, (p) => reports.push(p)));
    const endpoint = httpEndpoint(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, '/_bulk', undefined, {}, 5000, { dispatcher });
    try {
      expect((await send(endpoint, 'x', {})).result.status).toBe('success');
      copyFileSync(certs.otherKey, join(dir, 'client.key'));
      expect((await send(endpoint, 'x', {})).result.status).toBe('success');
      expect(reports).toEqual([[`exporters.0.tls.keyFile: the key in ${join(dir, 'client.key')} does not belong to the certificate in ${join(dir, 'client.pem')} (certFile)`]]);
      copyFileSync(certs.clientKey, join(dir, 'client.key'));
      expect((await send(endpoint, 'x', {})).result.status).toBe('success');
      expect(reports.at(-1)).toEqual([]);
    } finally {
      await dispatcher.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
