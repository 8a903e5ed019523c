// Exporters towards https backends, through the real collector process: a private CA (tls.caFile),
// mutual TLS (certFile/keyFile), a server-name override and insecureSkipVerify, against the Loki
// and Elasticsearch test servers and a remote-write endpoint served over https. Certificates are
// made with openssl for the run (test/helpers/tls-certs.ts).
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { dependency, postMessages, startWithExporter } from './helpers/one-exporter.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';
import { startElasticsearchServer } from './servers/elasticsearch.ts';
import { startLokiServer } from './servers/loki.ts';

const certs = makeTestCerts();
// Read when a test runs: without openssl the files are not there (the tests are skipped).
const serverTls = () => ({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) });
const mutualTls = () => ({ ...serverTls(), clientCa: certs.read(certs.ca) });

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(() => certs.remove());

const start = (exporter: Record<string, unknown>, dataDir?: string) => startWithExporter(exporter, cleanup, dataDir ? { dataDir } : {});
const post = (c: CollectorProcess, msgs: string[]) => postMessages(c, 'tls', msgs);

async function metric(c: CollectorProcess, re: RegExp): Promise<number> {
  return Number(re.exec(await (await fetch(`${c.url}/metrics`)).text())?.[1] ?? Number.NaN);
}

/** Posts records, waits until the exporter reports `error`, checks they wait (no dead letter), stops. */
async function refusedAndWaiting(c: CollectorProcess, name: string, msgs: string[], error: RegExp) {
  await post(c, msgs);
  const dep = await waitFor(async () => {
    const d = await dependency(c, name);
    return d?.lastError && d.status !== 'up' ? d : undefined;
  });
  expect(dep.status).toMatch(/^(degraded|down)$/);
  expect(dep.lastError).toMatch(error);
  expect(await metric(c, new RegExp(`periscope_exporter_dead_letters\\{exporter="${name}",type="\\w+"\\} (\\d+)`))).toBe(0);
  expect(await metric(c, new RegExp(`periscope_exporter_queue_items\\{exporter="${name}",type="\\w+"\\} (\\d+)`))).toBe(msgs.length);
  expect(await c.stop()).toBe(0);
}

describe.skipIf(opensslMissing)('exporters towards https backends (tls:)', () => {
  it('Loki with a private CA: without tls.caFile the records wait with an error naming it; with it they are delivered', async () => {
    const loki = await startLokiServer({ tls: serverTls() });
    cleanup.push(() => loki.close());
    const first = await start({ type: 'loki', name: 'loki', url: loki.url });
    const msgs = ['one', 'two', 'three'];
    await refusedAndWaiting(first, 'loki', msgs, /not from a trusted CA; give the exporter its CA with tls\.caFile/);
    expect(loki.entries()).toEqual([]);

    const c = await start({ type: 'loki', name: 'loki', url: loki.url, tls: { caFile: certs.ca } }, first.dataDir);
    await post(c, ['four']);
    await waitFor(() => loki.entries().length >= 4);
    expect(loki.entries().map((e) => e.line).sort()).toEqual([...msgs, 'four'].sort());
    expect((await dependency(c, 'loki')).status).toBe('up');
  });

  it('Elasticsearch behind mutual TLS: refused without a client certificate, delivered with certFile and keyFile', async () => {
    const es = await startElasticsearchServer({ tls: mutualTls() });
    cleanup.push(() => es.close());
    const first = await start({ type: 'elasticsearch', name: 'es', url: es.url, tls: { caFile: certs.ca } });
    await refusedAndWaiting(first, 'es', ['a', 'b'], /the backend asks for a client certificate: set tls\.certFile and tls\.keyFile/);
    expect(es.docs()).toEqual([]);

    const c = await start({ type: 'elasticsearch', name: 'es', url: es.url, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } }, first.dataDir);
    await waitFor(() => es.docs().length >= 2);
    expect(es.docs().map((d) => d.source.message).sort()).toEqual(['a', 'b']);
    expect(es.templates.has('periscope-logs')).toBe(true);
    const key = certs.read(certs.clientKey).toString().split('\n')[1];
    expect(c.output()).not.toContain(key);
  });

  it('a client certificate renewed in place (cert-manager) is used from the next connection, without a restart', async () => {
    const es = await startElasticsearchServer({ tls: mutualTls() });
    cleanup.push(() => es.close());
    // The collector starts with a certificate from a CA the server does not trust (one that
    // expired would be refused the same way), then the files are replaced.
    const untrusted = makeTestCerts();
    cleanup.push(async () => untrusted.remove());
    const dir = mkdtempSync(join(certs.dir, 'rotate-'));
    copyFileSync(untrusted.clientCert, join(dir, 'client.pem'));
    copyFileSync(untrusted.clientKey, join(dir, 'client.key'));
    const c = await start({ type: 'elasticsearch', name: 'es', url: es.url, tls: { caFile: certs.ca, certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') } });
    await post(c, ['before']);
    await waitFor(async () => (await dependency(c, 'es'))?.lastError);
    expect(es.docs()).toEqual([]);
    copyFileSync(certs.clientCert, join(dir, 'client.pem'));
    copyFileSync(certs.clientKey, join(dir, 'client.key'));
    await waitFor(() => es.docs().length >= 1);
    await post(c, ['after']);
    await waitFor(() => es.docs().length >= 2);
    expect(c.output()).toContain('exporter es: TLS files changed, read again for the next connections');
  });

  it('serverName: a certificate for another name than the URL host is accepted for that name', async () => {
    const loki = await startLokiServer({ tls: { key: certs.read(certs.namedKey), cert: certs.read(certs.namedCert) } });
    cleanup.push(() => loki.close());
    const first = await start({ type: 'loki', name: 'loki', url: loki.url, tls: { caFile: certs.ca } });
    await refusedAndWaiting(first, 'loki', ['named'], /ERR_TLS_CERT_ALTNAME_INVALID: .*set tls\.serverName/);

    const c = await start({ type: 'loki', name: 'loki', url: loki.url, tls: { caFile: certs.ca, serverName: certs.serverAltName } }, first.dataDir);
    await waitFor(() => loki.entries().length >= 1);
    expect((await dependency(c, 'loki')).status).toBe('up');
  });

  it('insecureSkipVerify: delivered without the CA, with a warning at start', async () => {
    const loki = await startLokiServer({ tls: serverTls() });
    cleanup.push(() => loki.close());
    const c = await start({ type: 'loki', name: 'loki', url: loki.url, tls: { insecureSkipVerify: true } });
    expect(c.output()).toMatch(/"level":40.*exporter loki: tls\.insecureSkipVerify is on/);
    await post(c, ['unchecked']);
    await waitFor(() => loki.entries().length >= 1);
  });

  it('Prometheus remote write behind mutual TLS', async () => {
    let requests = 0;
    const server = createServer({ ...serverTls(), ca: certs.read(certs.ca), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      req.resume().on('end', () => {
        requests++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    await start({ type: 'prometheusRemoteWrite', name: 'prom', url: url, interval: '1s', tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } });
    await waitFor(() => requests >= 1);
  });

  it('an https Loki reached with an http:// URL: its 400 keeps the records waiting, not in the dead letters', async () => {
    // What Go's net/http (Loki) answers on its TLS port to plain HTTP, byte for byte.
    const server = createTcpServer((socket) => socket.once('data', () => socket.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const c = await start({ type: 'loki', name: 'loki', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    await refusedAndWaiting(c, 'loki', ['x', 'y', 'z'], /the backend takes https only: change the url to https:\/\//);
  });

  it('a tls file that cannot be used stops the start with the key and the path', async () => {
    await expect(start({ type: 'loki', name: 'loki', url: 'https://127.0.0.1:1', tls: { certFile: certs.clientCert, keyFile: certs.otherKey } })).rejects.toThrow(
      `exporters.0.tls.keyFile: the key in ${certs.otherKey} does not belong to the certificate in ${certs.clientCert} (certFile)`,
    );
  });
});
