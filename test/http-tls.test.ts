// http.tls against the real collector process: ingest, query, live tail and the health listener
// over https (wss) with a private CA; mutual TLS; the SDK end to end with
// OTEL_EXPORTER_OTLP_CERTIFICATE; a certificate renewed in place under the running collector; a
// plain HTTP request answered 400; a bad file refused at start and by check-config.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { haveChromium, launchChromium } from './helpers/chromium.ts';
import { runSdkApp } from './helpers/sdk-app.ts';
import { freePort, trickleUntilClosed } from './helpers/net.ts';
import { startPrometheus, type PrometheusProcess } from './helpers/prometheus.ts';
import { promtoolCheckMetrics } from './helpers/promtool.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';

const T = 60_000;
const certs = makeTestCerts();
const BIN = join(REPO_ROOT, 'collector/bin/periscope.ts');
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const prometheusMissing = !existsSync(PROMETHEUS) || !existsSync(PROMTOOL);
if (prometheusMissing && process.env.CI === 'true') throw new Error('prometheus/promtool not installed: CI must install the Debian package "prometheus"');
if (prometheusMissing) console.warn('skipping the Prometheus scrape over https: Debian package "prometheus" not installed');

/** fetch() that trusts the test CA and, given them, presents the client certificate. */
function fetchWith(client: { cert?: boolean } = {}) {
  const dispatcher = new Agent({ connect: { ca: certs.read(certs.ca), ...(client.cert && { cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) }) } });
  return Object.assign((url: string, init: Parameters<typeof undiciFetch>[1] = {}) => undiciFetch(url, { ...init, dispatcher }), { close: () => dispatcher.close() });
}

/** The certificate the listener at `url` presents to a new connection. */
function servedCertificate(url: string): Promise<PeerCertificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: certs.read(certs.ca), servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** What the listener answers to `bytes` sent in the clear, until it closes the connection. */
function plainExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
  });
}

const runApp = (scenario: string, env: Record<string, string>) => runSdkApp(scenario, env);

const ndjson = (service: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ appName: service, msg: `tls ${i}` })).join('\n');

afterAll(() => certs.remove());

describe.skipIf(opensslMissing)('http.tls: the collector serves https', () => {
  let collector: CollectorProcess;
  // The listener's files, copied so the test can renew them in place.
  const live = mkdtempSync(join(tmpdir(), 'periscope-live-tls-'));
  const https = fetchWith();

  beforeAll(async () => {
    copyFileSync(certs.serverCert, join(live, 'tls.crt'));
    copyFileSync(certs.serverKey, join(live, 'tls.key'));
    collector = await startCollectorProcess({
      configYaml: `http:
  healthAddr: 127.0.0.1:0
  requestTimeout: 1s
  tls:
    certFile: ${join(live, 'tls.crt')}
    keyFile: ${join(live, 'tls.key')}
`,
    });
  });

  afterAll(async () => {
    await collector?.dispose();
    rmSync(live, { recursive: true, force: true });
  });

  it('says https:// on its start-up line, for both listeners', () => {
    expect(collector.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(collector.healthUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('takes a batch and answers a query over https with the private CA', { timeout: T }, async () => {
    const service = `tls-${Date.now()}`;
    const post = await https(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(service, 3) });
    expect(post.status).toBe(200);
    const { records } = (await (await https(`${collector.url}/api/v1/logs?service=${service}`)).json()) as { records: unknown[] };
    expect(records).toHaveLength(3);
  });

  it('answers a plain HTTP request with 400 PERISCOPE_ERR_TLS_REQUIRED instead of closing silently, on both listeners', async () => {
    for (const url of [collector.url, collector.healthUrl!]) {
      const answer = await plainExchange(url, 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('PERISCOPE_ERR_TLS_REQUIRED');
    }
  });

  it('live tail works over wss:// with the private CA, from the console\'s https origin', { timeout: T }, async () => {
    const service = `tail-${Date.now()}`;
    const ws = new WebSocket(`${collector.url.replace('https:', 'wss:')}/api/v1/logs/tail?service=${service}`, {
      ca: certs.read(certs.ca),
      // As the console's page sends it: the https origin must pass the same-origin check.
      headers: { origin: collector.url },
    });
    const messages: Array<{ type: string; records?: Array<{ msg: string }> }> = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    try {
      await waitFor(() => messages.some((m) => m.type === 'ready'));
      const post = await https(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(service, 2) });
      expect(post.status).toBe(200);
      const tailed = await waitFor(() => {
        const r = messages.filter((m) => m.type === 'records').flatMap((m) => m.records!);
        return r.length === 2 ? r : undefined;
      });
      expect(tailed.map((r) => r.msg)).toEqual(['tls 0', 'tls 1']);
    } finally {
      ws.close();
    }
  });

  it.skipIf(!haveChromium)('the web console loads over https and its live tail connects over wss://', { timeout: T }, async () => {
    const browser = await launchChromium();
    try {
      // The test CA is not in Chromium's store: its certificate errors are ignored, the scheme stays https.
      const page = await (await browser.newContext({ ignoreHTTPSErrors: true, baseURL: collector.url })).newPage();
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      const service = `console-${Date.now()}`;
      await page.goto(`/#/tail?service=${service}`);
      await page.locator('.tail-state[data-state="live"]').waitFor({ timeout: 20_000 });
      expect(sockets.map((u) => new URL(u).protocol)).toEqual(['wss:']);
      const post = await https(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(service, 1) });
      expect(post.status).toBe(200);
      await page.locator('table.tail td.msg', { hasText: 'tls 0' }).waitFor({ timeout: 20_000 });
    } finally {
      await browser.close();
    }
  });

  it('keeps http.requestTimeout on TLS connections: a trickled body is answered 408', { timeout: T }, async () => {
    const { hostname, port } = new URL(collector.url);
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: certs.read(certs.ca), servername: 'localhost' });
    expect(await trickleUntilClosed(socket)).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers a request Node\'s parser refuses on a TLS connection in the collector\'s error shape (clientError)', async () => {
    const { hostname, port } = new URL(collector.url);
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: certs.read(certs.ca), servername: 'localhost' });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
    socket.on('error', () => {});
    socket.write(Buffer.from('GET /api/v1/logs?q=\u00e9 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', 'latin1'));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('PERISCOPE_ERR_BAD_QUERY');
  });

  it('the SDK delivers logs over https with OTEL_EXPORTER_OTLP_CERTIFICATE', { timeout: T }, async () => {
    const service = `sdk-tls-${Date.now()}`;
    const run = await runApp('logs', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_RUNTIME_METRICS: 'false', PERISCOPE_LOG_LEVEL: 'trace', OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca });
    expect(run.code, run.stderr).toBe(0);
    expect(run.result.sent).toBe(8);
    const { records } = (await (await https(`${collector.url}/api/v1/logs?service=${service}&limit=100`)).json()) as { records: unknown[] };
    expect(records).toHaveLength(8);
  });

  it('an SDK that does not trust the certificate is told once, with the variable to set; its records are kept for retries, not sent', { timeout: T }, async () => {
    const service = `sdk-untrusted-${Date.now()}`;
    const run = await runApp('logs', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_RUNTIME_METRICS: 'false', PERISCOPE_SHUTDOWN_TIMEOUT_MS: '2000' });
    expect(run.result.sent).toBe(0);
    expect(run.stderr.match(/log records cannot be delivered/g), run.stderr).toHaveLength(1);
    expect(run.stderr).toMatch(/\[PERISCOPE_SDK_DELIVERY_TLS_FAILED\] Warning: log records cannot be delivered to https:\/\/127\.0\.0\.1:\d+\/api\/v1\/logs: TLS (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    expect(run.stderr).toContain('OTEL_EXPORTER_OTLP_CERTIFICATE');
  });

  it.skipIf(prometheusMissing)('/metrics with the certificate expiry gauge passes promtool check metrics', async () => {
    const text = await (await https(`${collector.url}/metrics`)).text();
    expect(text).toContain('periscope_tls_certificate_expiry_timestamp_seconds{listener="health"}');
    const check = promtoolCheckMetrics(PROMTOOL, text);
    expect(check.output.trim()).toBe('');
    expect(check.status).toBe(0);
  });

  it('a certificate renewed in place is served to the next connection, logged, and moves the expiry gauge', { timeout: T }, async () => {
    const gauge = async () => {
      const text = await (await https(`${collector.url}/metrics`)).text();
      return Number(/^periscope_tls_certificate_expiry_timestamp_seconds\{listener="http"\} (\S+)$/m.exec(text)?.[1]);
    };
    const before = await servedCertificate(collector.url);
    expect(await gauge()).toBe(new Date(before.valid_to).getTime() / 1000);

    // A renewal with a later notAfter (7 days, the first one and the CA's 2), written as a full
    // chain (certbot's fullchain.pem: the certificate, then its issuer); the key is unchanged.
    execFileSync('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '7', '-extfile', 'server.ext', '-out', join(live, 'renewed.pem')], { cwd: certs.dir, stdio: 'ignore' });
    writeFileSync(join(live, 'tls.crt'), Buffer.concat([certs.read(join(live, 'renewed.pem')), certs.read(certs.ca)]));
    const renewed = new X509Certificate(certs.read(join(live, 'renewed.pem')));

    const after = await servedCertificate(collector.url);
    expect(after.serialNumber).toBe(renewed.serialNumber);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(await gauge()).toBe(renewed.validToDate.getTime() / 1000);
    await waitFor(() => collector.output().includes('"msg":"http.tls: renewed certificate in use from now on (http listener)"'));
    expect(collector.output()).toContain(`"notAfter":"${renewed.validToDate.toISOString()}"`);

    // A key that does not belong to the certificate: the renewed one stays in use, with a warning.
    copyFileSync(certs.otherKey, join(live, 'tls.key'));
    expect((await servedCertificate(collector.url)).serialNumber).toBe(renewed.serialNumber);
    await waitFor(() => collector.output().includes('http.tls: the changed certificate files cannot be used, the previous certificate is still served'));
  });
});

describe.skipIf(opensslMissing)('http.tls with clientCaFile: mutual TLS', () => {
  let collector: CollectorProcess;

  beforeAll(async () => {
    collector = await startCollectorProcess({
      configYaml: `http:
  healthAddr: 127.0.0.1:0
  tls: { certFile: ${certs.serverCert}, keyFile: ${certs.serverKey}, clientCaFile: ${certs.ca} }
`,
    });
  });

  afterAll(async () => {
    await collector?.dispose();
  });

  it('refuses a client without a certificate, and serves one with a certificate from the CA', { timeout: T }, async () => {
    const without = await fetchWith()(`${collector.url}/health`).then((r) => r.status, (err: Error) => (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message);
    expect(without).toMatch(/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ECONNRESET|UND_ERR_SOCKET/);
    expect((await fetchWith({ cert: true })(`${collector.url}/health`)).status).toBe(200);
  });

  it('counts and logs a failed handshake with its reason and the client, at most once a minute per reason', { timeout: T }, async () => {
    // The client sees only a TLS alert; before, the collector logged and counted nothing, so an
    // operator could not tell a Prometheus without its client certificate, or an app that does
    // not trust the CA, from one that never connected.
    const failures = async () => Number(/^periscope_http_tls_handshake_failures_total (\S+)$/m.exec(await (await fetchWith({ cert: true })(`${collector.url}/metrics`)).text())?.[1]);
    const before = await failures();
    const noCert = () => fetchWith()(`${collector.url}/health`).then(() => 'served', () => 'refused');
    expect([await noCert(), await noCert()]).toEqual(['refused', 'refused']);
    // A client that does not trust the collector's CA refuses the certificate itself (alert unknown CA).
    const untrusting = new Agent({ connect: { cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) } });
    expect(await undiciFetch(`${collector.url}/health`, { dispatcher: untrusting }).then(() => 'served', () => 'refused')).toBe('refused');
    await untrusting.close();
    await waitFor(async () => (await failures()) - before === 3);
    const lines = collector.output().split('\n').filter((l) => l.includes('HTTP TLS handshake failed'));
    // One line per reason: the second client without a certificate is counted, not logged again.
    // (Node's client closes without an alert when it refuses the certificate: OpenSSL's reason
    // there is the closed socket; curl sends "unknown ca".)
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['HTTP TLS handshake failed: peer did not return a certificate', expect.stringMatching(/^HTTP TLS handshake failed: (socket hang up|tlsv1 alert unknown ca)$/)]);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40, listener: 'http', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it('the health listener asks for no client certificate (Kubernetes probes cannot present one)', async () => {
    expect((await fetchWith()(`${collector.healthUrl}/health`)).status).toBe(200);
  });

  it('the SDK delivers logs with OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY', { timeout: T }, async () => {
    const service = `sdk-mtls-${Date.now()}`;
    const env = { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_RUNTIME_METRICS: 'false', PERISCOPE_LOG_LEVEL: 'trace', OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca };
    const run = await runApp('logs', { ...env, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certs.clientCert, OTEL_EXPORTER_OTLP_CLIENT_KEY: certs.clientKey });
    expect(run.code, run.stderr).toBe(0);
    expect(run.result.sent).toBe(8);
    const query = async () => ((await (await fetchWith({ cert: true })(`${collector.url}/api/v1/logs?service=${service}&limit=100`)).json()) as { records: unknown[] }).records;
    expect(await query()).toHaveLength(8);
  });
});

describe.skipIf(opensslMissing)('http.tls: connections before their handshake', () => {
  let collector: CollectorProcess;
  beforeAll(async () => {
    collector = await startCollectorProcess({ configYaml: `http:\n  healthAddr: 127.0.0.1:0\n  maxConnections: 3\n  tls: { certFile: ${certs.serverCert}, keyFile: ${certs.serverKey} }\n` });
  });
  afterAll(async () => {
    await collector?.dispose();
  });

  /** Resolves once connected (and `bytes` written), with the socket and a promise of its close. */
  const open = (url: string, bytes: Buffer) =>
    new Promise<{ socket: ReturnType<typeof tcpConnect>; closed: Promise<void> }>((resolve) => {
      const { hostname, port } = new URL(url);
      const socket = tcpConnect(Number(port), hostname, () => {
        if (bytes.length > 0) socket.write(bytes);
        resolve({ socket, closed: new Promise((closed) => socket.once('close', () => closed())) });
      });
      socket.on('error', () => {});
    });

  it('count in http.maxConnections: over it a TLS client is closed on accept, and served once there is room', { timeout: T }, async () => {
    const client = fetchWith();
    try {
      const held = await Promise.all([1, 2, 3].map(() => open(collector.url, Buffer.alloc(0))));
      const refused = await client(`${collector.url}/health`).then((r) => r.status, (err: Error) => (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message);
      expect(refused).not.toBe(200);
      for (const h of held) h.socket.destroy();
      await Promise.all(held.map((h) => h.closed));
      expect(await waitFor(async () => (await client(`${collector.url}/health`).catch(() => undefined))?.status)).toBe(200);
      const metrics = await (await client(`${collector.healthUrl}/metrics`)).text();
      expect(Number(/^periscope_http_refused_connections_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await client.close(); // its keep-alive connections count in maxConnections too
    }
  });

  it('one stuck in its TLS handshake, or silent, does not hold the stop (Node\'s handshake timeout is 120 s)', { timeout: T }, async () => {
    // The first byte of a handshake record and nothing more; and a connection that sends nothing.
    const held = await Promise.all([open(collector.url, Buffer.from([0x16])), open(collector.url, Buffer.alloc(0)), open(collector.healthUrl!, Buffer.from([0x16]))]);
    await new Promise((r) => setTimeout(r, 200)); // the bytes are in
    expect(await collector.stop()).toBe(0);
    await Promise.all(held.map((h) => h.closed));
  });
});

describe.skipIf(opensslMissing)('a bad http.tls file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-badtls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'missing.pem');
  const config = join(dir, 'periscope.yaml');
  writeFileSync(config, `http:\n  tls:\n    certFile: ${missing}\n    keyFile: ${certs.serverKey}\nstore:\n  dataDir: ${join(dir, 'data')}\n`);

  it('is refused by check-config, naming the key and the path', () => {
    const r = spawnSync(process.execPath, [BIN, 'check-config', '--config', config], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain(`http.tls.certFile: cannot read ${missing}`);
  });

  it('stops the start, naming the key and the path', { timeout: T }, async () => {
    const started = startCollectorProcess({ configYaml: `http:\n  tls:\n    certFile: ${missing}\n    keyFile: ${certs.serverKey}\n` });
    await expect(started).rejects.toThrow(`http.tls.certFile: cannot read ${missing}`);
  });
});

describe.skipIf(opensslMissing)('an expired http.tls certificate', () => {
  // The files are valid (check-config takes them: a renewal may be on its way), but every client
  // refuses the certificate: before, the start said nothing of it and the operator learnt it from
  // the clients' failed handshakes.
  it('is served, with a warning at start that names the file and its notAfter', { timeout: T }, async () => {
    const expired = join(certs.dir, 'expired.pem');
    // -days -1: notAfter a day before notBefore (now), so already past.
    execFileSync('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '-1', '-extfile', 'server.ext', '-out', expired], { cwd: certs.dir, stdio: 'ignore' });
    const notAfter = new X509Certificate(certs.read(expired)).validToDate.toISOString();
    const collector = await startCollectorProcess({ configYaml: `http:\n  tls: { certFile: ${expired}, keyFile: ${certs.serverKey} }\n` });
    try {
      const line = collector.output().split('\n').find((l) => l.includes('http.tls: the certificate in'));
      expect(line && JSON.parse(line)).toMatchObject({ level: 40, listener: 'http', msg: `http.tls: the certificate in ${expired} expired on ${notAfter}: clients refuse it until it is renewed (the files are read again when they change)` });
      const refused = await fetchWith()(`${collector.url}/health`).then(() => 'served', (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message));
      expect(refused).toMatch(/expired/);
    } finally {
      await collector.dispose();
    }
  });
});

describe.skipIf(opensslMissing || prometheusMissing)('Prometheus scrapes /metrics over https', () => {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-prom-tls-'));
  let collector: CollectorProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  afterAll(async () => {
    await collector?.dispose();
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with tls_config ca_file, the real Prometheus scrapes the https listener and reads the expiry gauge', { timeout: T }, async () => {
    const collectorPort = await freePort();
    collector = await startCollectorProcess({ httpAddr: `127.0.0.1:${collectorPort}`, configYaml: `http:\n  tls: { certFile: ${certs.serverCert}, keyFile: ${certs.serverKey} }\n` });
    writeFileSync(join(dir, 'prometheus.yml'), `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: periscope
    scheme: https
    tls_config: { ca_file: ${certs.ca} }
    static_configs:
      - targets: ['127.0.0.1:${collectorPort}']
`);
    prometheus = await startPrometheus({ bin: PROMETHEUS, configFile: join(dir, 'prometheus.yml'), dataDir: join(dir, 'data') });
    const { url: promUrl, output } = prometheus;
    const query = async (q: string) => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
      if (!res?.ok) return [];
      return ((await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
    };
    const expiry = await waitFor(async () => (await query('periscope_tls_certificate_expiry_timestamp_seconds{job="periscope",listener="http"}'))[0], 30_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}\n${output()}`);
    });
    expect(Number(expiry.value[1])).toBe(new X509Certificate(certs.read(certs.serverCert)).validToDate.getTime() / 1000);
    expect((await query('up{job="periscope"}')).map((s) => s.value[1])).toEqual(['1']);
  });
});
