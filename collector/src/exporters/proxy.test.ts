// An exporter's requests through a real proxy (test/helpers/http-proxy.ts), in process: what a
// proxy's refusal says, for a forwarded request (http:// backend) and a CONNECT (https://).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayProxy, proxyDispatcher, proxySecrets } from '../../../alerting/src/proxy.ts';
import { startTestProxy, type TestProxy } from '../../../test/helpers/http-proxy.ts';
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
