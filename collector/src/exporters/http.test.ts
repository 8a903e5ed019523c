import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AcceptTimes } from './accept-times.ts';
import { displayUrl, httpEndpoint, Redactor, send } from './http.ts';

describe('httpEndpoint and redaction', () => {
  it('moves credentials out of the URL into a Basic header and never shows them', async () => {
    let auth = '';
    const server = createServer((req, res) => {
      auth = String(req.headers.authorization);
      res.writeHead(500).end(`echo ${auth} and ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const e = httpEndpoint(`http://alice:s3cr%3Ft-pass@127.0.0.1:${port}/base/`, '/loki/api/v1/push', undefined, {}, 5000);
    expect(e.url).toBe(`http://127.0.0.1:${port}/base/loki/api/v1/push`);
    expect(displayUrl(e)).toBe(`http://127.0.0.1:${port}/base/loki/api/v1/push`);
    const { result } = await send(e, 'x', {});
    await new Promise((r) => server.close(r));
    expect(auth).toBe(`Basic ${Buffer.from('alice:s3cr?t-pass').toString('base64')}`);
    expect(result).toMatchObject({ status: 'retryable', httpStatus: 500 });
    expect(result.error).toBe('HTTP 500: echo Basic *** and /base/loki/api/v1/push');
  });

  it('a timeout longer than a Node timer (timeout: 600h) waits, not aborts at once', async () => {
    // Node fires a timer over 2^31-1 ms after 1 ms, AbortSignal.timeout's included.
    const server = createServer((_req, res) => setTimeout(() => res.writeHead(204).end(), 50));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const e = httpEndpoint(`http://127.0.0.1:${port}`, '/_bulk', undefined, {}, 600 * 3_600_000);
    const { result } = await send(e, 'x', {});
    await new Promise((r) => server.close(r));
    expect(result.status).toBe('success');
  });

  it('redacts the values of extra headers (a proxy key echoed in an error text)', async () => {
    const server = createServer((req, res) => res.writeHead(401).end(`invalid key ${req.headers['x-api-key']}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const e = httpEndpoint(`http://127.0.0.1:${port}`, '/_bulk', undefined, { 'X-Api-Key': 'proxy-key-SECRET-42' }, 5000);
    const { result } = await send(e, 'x', {});
    await new Promise((r) => server.close(r));
    expect(result.error).toBe('HTTP 401: invalid key ***');
  });

  it('an API key given as <id>:<api_key> is sent base64-encoded, as Elasticsearch expects; the encoded form as it is', () => {
    const encoded = Buffer.from('VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw').toString('base64');
    expect(httpEndpoint('http://es:9200', '/_bulk', { apiKey: 'VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw' }, {}, 5000).headers.authorization).toBe(`ApiKey ${encoded}`);
    expect(httpEndpoint('http://es:9200', '/_bulk', { apiKey: encoded }, {}, 5000).headers.authorization).toBe(`ApiKey ${encoded}`);
    expect(httpEndpoint('http://es:9200', '/_bulk', { apiKey: 'VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw' }, {}, 5000).redactor.redact(`echo ${encoded}`)).toBe('echo ***');
  });

  it('redacts raw, URL-encoded and base64 forms, longest first', () => {
    const r = new Redactor(['p@ss word', 'abc', undefined, 'x']);
    expect(r.redact(`a p@ss word b ${encodeURIComponent('p@ss word')} c ${Buffer.from('p@ss word').toString('base64')} abcd x`)).toBe('a *** b *** c *** ***d x');
  });
});

describe('a backend on https with a private CA', () => {
  const tls = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url));

  it('untrusted: the error names tls.caFile and NODE_EXTRA_CA_CERTS; with the variable set to the CA, the request goes through', async () => {
    const server = createHttpsServer({ key: readFileSync(tls('server.key')), cert: readFileSync(tls('server.pem')) }, (_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { result } = await send(httpEndpoint(url, '/loki/api/v1/push', undefined, {}, 5000), 'x', {});
      expect(result.status).toBe('retryable');
      expect(result.error).toMatch(/^network error: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE: the backend's certificate is not from a trusted CA; give the exporter its CA with tls\.caFile \(or the whole collector with NODE_EXTRA_CA_CERTS=<CA file, PEM>\)/);
      // The way the message names, in a process started with it (Node reads it at start-up).
      const script = `import { httpEndpoint, send } from ${JSON.stringify(fileURLToPath(new URL('./http.ts', import.meta.url)))};
        const { result } = await send(httpEndpoint(${JSON.stringify(url)}, '/loki/api/v1/push', undefined, {}, 5000), 'x', {});
        process.stdout.write(JSON.stringify(result));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: tls('ca.pem') } });
      expect(JSON.parse(stdout)).toEqual({ status: 'success', httpStatus: 204 });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

const NGINX_400 = '<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n</body>\r\n</html>\r\n';

describe('an http backend reached with an https:// URL', () => {
  it('the TLS failure says the port does not answer TLS', async () => {
    const server = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { result } = await send(httpEndpoint(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, '/_bulk', undefined, {}, 5000), 'x', {});
    await new Promise((r) => server.close(r));
    expect(result).toEqual({ status: 'retryable', error: 'network error: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER: the backend does not answer TLS on this port: is its url http://?)' });
  });
});

describe('an https backend reached with an http:// URL', () => {
  it.each([
    { name: 'Go net/http (Loki, Prometheus)', answer: 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n' },
    { name: 'nginx', answer: `HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: ${NGINX_400.length}\r\nConnection: close\r\n\r\n${NGINX_400}` },
  ])('its 400 ($name) is retried, naming the scheme, not a refusal of the records', async ({ answer }) => {
    // What a TLS port answers to plain HTTP, byte for byte (Go: net/http server.go, on a TLS record header error).
    const server = createTcpServer((socket) => socket.once('data', () => socket.end(answer)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { result } = await send(httpEndpoint(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/loki/api/v1/push', undefined, {}, 5000), 'x', {});
    await new Promise((r) => server.close(r));
    expect(result.status).toBe('retryable');
    expect(result.httpStatus).toBeUndefined(); // nothing to bisect
    expect(result.error).toMatch(/^HTTP 400: .* \(the backend takes https only: change the url to https:\/\/, docs\/exporters.md#tls\)$/);
  });
});

describe('AcceptTimes', () => {
  it('dates each position by its append, to the resolution; earlier positions get the start time', () => {
    let now = 1000;
    const t = new AcceptTimes(10, { now: () => now, resolutionMs: 100 });
    now = 1500;
    t.accepted(20);
    now = 1550;
    t.accepted(25); // same slot as 20: extends it
    now = 2000;
    t.accepted(30);
    expect([t.at(1), t.at(10), t.at(11), t.at(25), t.at(26), t.at(30), t.at(31)]).toEqual([1000, 1000, 1500, 1500, 2000, 2000, undefined]);
    expect([t.lastIdBefore(999), t.lastIdBefore(1500), t.lastIdBefore(1501), t.lastIdBefore(5000)]).toEqual([0, 10, 25, 30]);
    t.forgetThrough(25);
    expect(t.at(30)).toBe(2000);
  });
});
