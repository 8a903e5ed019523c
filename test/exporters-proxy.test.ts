// Exporters through an HTTP proxy (proxyUrl, noProxy, proxyFromEnvironment), through the real
// collector process and a real proxy (test/helpers/http-proxy.ts): the proxy sees the CONNECT
// (https backends, tls: applied inside the tunnel) or the forwarded request (http backends), its
// credentials are sent and never written to the log or an error, noProxy bypasses it, and records
// wait while the proxy is down and are delivered once it is up.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startTestProxy } from './helpers/http-proxy.ts';
import { dependency, postMessages, startWithExporter } from './helpers/one-exporter.ts';
import { freePort } from './helpers/net.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';
import { startElasticsearchServer } from './servers/elasticsearch.ts';
import { startLokiServer } from './servers/loki.ts';

const certs = makeTestCerts();
afterAll(() => certs.remove());

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Never a proxy of the test runner's environment, unless a test gives one. */
const NO_ENV_PROXY = { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '' };
const start = (exporter: Record<string, unknown>, env: Record<string, string> = {}) => startWithExporter(exporter, cleanup, { env: { ...NO_ENV_PROXY, ...env } });
const post = (c: CollectorProcess, msgs: string[]) => postMessages(c, 'proxy', msgs);

describe('exporters through an HTTP proxy', () => {
  it('Loki over http: the proxy forwards each push, with the credentials of proxyUrl, which no log or error shows', async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    const proxy = await startTestProxy({ credentials: { user: 'periscope', password: 'Pr0xy-s3cret' } });
    cleanup.push(() => proxy.close());
    const c = await start({ type: 'loki', name: 'loki', url: loki.url, proxyUrl: `http://periscope:Pr0xy-s3cret@127.0.0.1:${proxy.port}` });
    await post(c, ['one', 'two']);
    await waitFor(() => loki.entries().length >= 2);
    expect(proxy.requests.map((r) => r.target)).toContain(`${loki.url}/loki/api/v1/push`);
    expect(proxy.requests[0].proxyAuthorization).toBe(`Basic ${Buffer.from('periscope:Pr0xy-s3cret').toString('base64')}`);
    expect(c.output()).toContain(`exporter loki: sends through the proxy http://127.0.0.1:${proxy.port}`);
    expect(c.output()).not.toContain('Pr0xy-s3cret');
    expect(c.output()).not.toContain(Buffer.from('periscope:Pr0xy-s3cret').toString('base64'));
  });

  it.skipIf(opensslMissing)('Loki over https with a private CA: a CONNECT tunnel, tls.caFile checked inside it', async () => {
    const loki = await startLokiServer({ tls: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) } });
    cleanup.push(() => loki.close());
    const proxy = await startTestProxy();
    cleanup.push(() => proxy.close());
    const c = await start({ type: 'loki', name: 'loki', url: loki.url, proxyUrl: proxy.url, tls: { caFile: certs.ca } });
    await post(c, ['secret-line']);
    await waitFor(() => loki.entries().length >= 1);
    expect(proxy.connects.map((s) => s.target)).toEqual([new URL(loki.url).host]);
    expect(proxy.requests).toEqual([]);
    expect((await dependency(c, 'loki')).status).toBe('up');
  });

  it.skipIf(opensslMissing)('Elasticsearch behind mutual TLS through the tunnel: a client certificate renewed in place is used from the next connection', async () => {
    const es = await startElasticsearchServer({ tls: { key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert), clientCa: certs.read(certs.ca) } });
    cleanup.push(() => es.close());
    const proxy = await startTestProxy();
    cleanup.push(() => proxy.close());
    // A certificate from a CA the server does not trust first (as an expired one), then the right one.
    const untrusted = makeTestCerts();
    cleanup.push(async () => untrusted.remove());
    const dir = mkdtempSync(join(certs.dir, 'rotate-'));
    copyFileSync(untrusted.clientCert, join(dir, 'client.pem'));
    copyFileSync(untrusted.clientKey, join(dir, 'client.key'));
    const c = await start({ type: 'elasticsearch', name: 'es', url: es.url, proxyUrl: proxy.url, tls: { caFile: certs.ca, certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') } });
    await post(c, ['before']);
    await waitFor(async () => (await dependency(c, 'es'))?.lastError);
    expect(es.docs()).toEqual([]);
    copyFileSync(certs.clientCert, join(dir, 'client.pem'));
    copyFileSync(certs.clientKey, join(dir, 'client.key'));
    await waitFor(() => es.docs().length >= 1);
    expect(es.docs().map((d) => d.source.message)).toEqual(['before']);
    expect(proxy.connects.length).toBeGreaterThan(0);
    expect(proxy.requests).toEqual([]);
    expect(c.output()).toContain('exporter es: TLS files changed, read again for the next connections');
  });

  it('noProxy lists the backend: sent directly, the proxy sees nothing, even with Node\'s own proxy on (NODE_USE_ENV_PROXY=1)', async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    const proxy = await startTestProxy();
    cleanup.push(() => proxy.close());
    const c = await start({ type: 'loki', name: 'loki', url: loki.url, proxyUrl: proxy.url, noProxy: 'localhost,127.0.0.0/8' }, { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxy.url, http_proxy: proxy.url });
    await post(c, ['direct']);
    await waitFor(() => loki.entries().length >= 1);
    expect(proxy.targets()).toEqual([]);
    expect(c.output()).toContain('exporter loki: sends directly: noProxy lists its host');
  });

  it('a proxy down: the records wait with an error naming the proxy, and are all delivered once it is up', async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    const port = await freePort();
    const c = await start({ type: 'loki', name: 'loki', url: loki.url, proxyUrl: `http://u:Dn-pass-42@127.0.0.1:${port}` });
    await post(c, ['a', 'b', 'c']);
    const dep = await waitFor(async () => {
      const d = await dependency(c, 'loki');
      return d?.lastError ? d : undefined;
    });
    expect(dep.lastError).toMatch(new RegExp(`ECONNREFUSED.*\\(through the proxy http://127\\.0\\.0\\.1:${port}\\)`));
    expect(dep.lastError).not.toContain('Dn-pass-42');
    const proxy = await startTestProxy({ port, credentials: { user: 'u', password: 'Dn-pass-42' } });
    cleanup.push(() => proxy.close());
    await waitFor(() => loki.entries().length >= 3);
    expect(loki.entries().map((e) => e.line).sort()).toEqual(['a', 'b', 'c']);
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(c.output()).not.toContain('Dn-pass-42');
  });

  it('proxyFromEnvironment: HTTP_PROXY of the collector is used; without it, sent directly', async () => {
    let requests = 0;
    const server = createServer((req, res) => req.resume().on('end', () => (requests++, res.writeHead(204).end())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    const proxy = await startTestProxy();
    cleanup.push(() => proxy.close());
    const first = await start({ type: 'prometheusRemoteWrite', name: 'prom', url, interval: '1s', proxyFromEnvironment: true }, { HTTP_PROXY: proxy.url });
    await waitFor(() => requests >= 1);
    expect(proxy.requests.map((r) => r.target)).toContain(url);
    await first.stop();

    const seen = proxy.targets().length;
    const direct = await start({ type: 'prometheusRemoteWrite', name: 'prom', url, interval: '1s', proxyFromEnvironment: true }, { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    const before = requests;
    await waitFor(() => requests >= before + 2);
    expect(proxy.targets().length).toBe(seen);
    expect(direct.output()).toContain('exporter prom: sends directly: the environment has no proxy for its URL');
  });

  it('proxyFromEnvironment: HTTP_PROXY without a scheme is http://, as curl and Go take it; a socks5:// one stops the start naming the variable', async () => {
    const loki = await startLokiServer();
    cleanup.push(() => loki.close());
    const proxy = await startTestProxy();
    cleanup.push(() => proxy.close());
    const c = await start({ type: 'loki', name: 'loki', url: loki.url, proxyFromEnvironment: true }, { HTTP_PROXY: `127.0.0.1:${proxy.port}` });
    await post(c, ['env']);
    await waitFor(() => loki.entries().length >= 1);
    expect(proxy.requests.map((r) => r.target)).toContain(`${loki.url}/loki/api/v1/push`);

    const refused = start({ type: 'loki', name: 'loki', url: loki.url, proxyFromEnvironment: true }, { http_proxy: 'socks5://u:Env-pass-3@127.0.0.1:1080' });
    await expect(refused).rejects.toThrow("exporters.0.proxyFromEnvironment: the environment's HTTP_PROXY (or http_proxy) is not an http:// or https:// URL of a proxy (http://[user:password@]host:port); the scheme socks5 is not supported");
    await expect(refused).rejects.not.toThrow(/Env-pass-3/);
  });

  it('remote write with its proxy down: the samples stay queued, with an error naming the proxy, and are sent once it is up', async () => {
    let requests = 0;
    const server = createServer((req, res) => req.resume().on('end', () => (requests++, res.writeHead(204).end())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    const port = await freePort();
    const c = await start({ type: 'prometheusRemoteWrite', name: 'prom', url, interval: '1s', proxyUrl: `http://u:Rw-pass-7@127.0.0.1:${port}` });
    const dep = await waitFor(async () => {
      const d = await dependency(c, 'prom');
      return d?.lastError ? d : undefined;
    });
    expect(dep.lastError).toMatch(new RegExp(`ECONNREFUSED.*\\(through the proxy http://127\\.0\\.0\\.1:${port}\\)`));
    expect(requests).toBe(0);
    const dropped = async () => Number(/periscope_exporter_dropped_items_total\{exporter="prom"[^}]*\} (\d+)/.exec(await (await fetch(`${c.url}/metrics`)).text())?.[1] ?? 0);
    expect(await dropped()).toBe(0);
    const proxy = await startTestProxy({ port, credentials: { user: 'u', password: 'Rw-pass-7' } });
    cleanup.push(() => proxy.close());
    await waitFor(() => requests >= 1);
    expect(proxy.requests.map((r) => r.target)).toContain(url);
    expect(await dropped()).toBe(0);
    expect(c.output()).not.toContain('Rw-pass-7');
  });

  it('a proxyUrl that is not a URL, or with proxyFromEnvironment, stops the start with the key, without the password', async () => {
    const started = start({ type: 'loki', name: 'loki', url: 'http://127.0.0.1:9', proxyUrl: 'socks5://u:Bad-pass-9@127.0.0.1:1080', proxyFromEnvironment: true });
    await expect(started).rejects.toThrow(/exporters\.0\.proxyUrl: not an http:\/\/ or https:\/\/ URL of a proxy .*the scheme socks5 is not supported/);
    await expect(started).rejects.toThrow(/exporters\.0\.proxyFromEnvironment: set with proxyUrl; use one or the other/);
    await expect(started).rejects.not.toThrow(/Bad-pass-9/);
  });
});
