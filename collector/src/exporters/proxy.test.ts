// An exporter's requests through a real proxy (test/helpers/http-proxy.ts), in process: what a
// proxy's refusal says, for a forwarded request (http:// backend) and a CONNECT (https://).
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayProxy, proxyDispatcher, proxySecrets } from '../../../alerting/src/proxy.ts';
import { createProxy } from 'proxy';
import { startTestProxy, type TestProxy } from '../../../test/helpers/http-proxy.ts';
import { makeTestCerts, opensslMissing } from '../../../test/helpers/tls-certs.ts';
import { httpEndpoint, send } from './http.ts';

let proxy: TestProxy;
let backend: ReturnType<typeof createServer>;
let backendUrl: string;

beforeAll(async () => {
  proxy = await startTestProxy({ credentials: { user: 'u', password: 'Right-pass-1' } });
  backend = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await proxy.close();
  await new Promise((r) => backend.close(r));
});

const through = (target: string, proxyUrl: string) =>
  send(httpEndpoint(target, '/loki/api/v1/push', undefined, {}, 5000, { dispatcher: proxyDispatcher(proxyUrl), via: displayProxy(proxyUrl), secrets: proxySecrets(proxyUrl) }), 'x', {});

describe('an exporter through a proxy', () => {
  it('is delivered with the right credentials', async () => {
    const { result } = await through(backendUrl, `http://u:Right-pass-1@127.0.0.1:${proxy.port}`);
    expect(result.status).toBe('success');
    expect(proxy.requests.at(-1)?.target).toBe(`${backendUrl}/loki/api/v1/push`);
  });

  it.each([
    { name: 'a forwarded request (http:// backend)', https: false, want: /^network error: the proxy answered 407: proxy authentication required, check the user and password in proxyUrl \(through the proxy http:\/\/127\.0\.0\.1:\d+\)$/ },
    { name: 'a CONNECT (https:// backend)', https: true, want: /^network error: the proxy answered 407 to CONNECT: proxy authentication required, check the user and password in proxyUrl \(through the proxy http:\/\/127\.0\.0\.1:\d+\)$/ },
  ])('wrong credentials, $name: a retryable error that says so, without the password', async ({ https, want }) => {
    const target = https ? backendUrl.replace('http:', 'https:') : backendUrl;
    const { result } = await through(target, `http://u:Wrong-pass-2@127.0.0.1:${proxy.port}`);
    expect(result.status).toBe('retryable');
    expect(result.error).toMatch(want);
  });

  it('a CONNECT to a backend that is down: the proxy could not open the tunnel', async () => {
    const { result } = await through('https://127.0.0.1:9', `http://u:Right-pass-1@127.0.0.1:${proxy.port}`);
    expect(result).toMatchObject({ status: 'retryable' });
    expect(result.error).toMatch(/^network error: the proxy answered 500 to CONNECT: it could not open a tunnel to the backend \(through the proxy /);
  });
});

// An https:// proxyUrl: the proxy's certificate is checked against Node's CAs, not the exporter's
// tls.caFile (the backend's); a hint naming tls.caFile sent operators to the wrong setting.
describe.skipIf(opensslMissing)('an https:// proxy with a certificate of a private CA', () => {
  it.each([
    { name: 'forwarding to an http:// backend', https: false },
    { name: 'a CONNECT tunnel to an https:// backend', https: true },
  ])('$name: the error says it is the proxy\'s certificate, and what to set', async ({ https }) => {
    const certs = makeTestCerts();
    const secure = createProxy(createHttpsServer({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) }));
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    try {
      const proxyUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
      const { result } = await through(https ? backendUrl.replace('http:', 'https:') : backendUrl, proxyUrl);
      expect(result.status).toBe('retryable');
      expect(result.error).toMatch(/^network error: connecting to the proxy: .*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE: the proxy's certificate is not from a trusted CA; give the collector its CA with NODE_EXTRA_CA_CERTS=<CA file, PEM> \(tls\.caFile is the backend's\)\) \(through the proxy https:\/\/127\.0\.0\.1:\d+\)$/);
    } finally {
      secure.closeAllConnections();
      await new Promise((r) => secure.close(r));
      certs.remove();
    }
  });
});
