// Syslog over TLS (RFC 5425, syslog.tls) into the real collector process, from a Node TLS client:
// records arrive with their fields in both framings; with clientCaFile a sender without a client
// certificate, and a plain-TCP sender on the TLS port, fail the handshake, counted in /metrics
// and /health/detailed and logged with the peer and the reason, the collector serving on; a
// certificate renewed in place is served to the next connection (logged), a half-written renewal
// is not (warned); wrong files stop `start` and `check-config`, naming the key and the path.
// The real senders (rsyslog, syslog-ng) over TLS: test/syslog-senders.test.ts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';

const certs = makeTestCerts();
const run = Date.now().toString(36).slice(-5);
const periscope = (args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'collector/bin/periscope.ts'), ...args], { encoding: 'utf8' });
const oc = (m: string) => `${Buffer.byteLength(m)} ${m}`;

async function records(collector: CollectorProcess, app: string): Promise<any[]> {
  const text = await (await fetch(`${collector.url}/api/v1/logs/export?service=${app}`)).text();
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l));
}

async function syslogHealth(collector: CollectorProcess): Promise<any> {
  return ((await (await fetch(`${collector.url}/health/detailed`)).json()) as any).components.syslog;
}

/** Connects with the test CA (and the client certificate when `mutual`); resolves the server's certificate, or the error. */
function send(port: number, data: string, options: { mutual?: boolean; servername?: string } = {}): Promise<PeerCertificate | string> {
  return new Promise((resolve) => {
    const client = options.mutual ? { cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) } : {};
    const socket = connect({ port, host: '127.0.0.1', ca: certs.read(certs.ca), servername: options.servername ?? 'localhost', ...client }, () => {
      const peer = socket.getPeerCertificate();
      socket.end(data);
      socket.once('close', () => resolve(peer));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

afterAll(() => certs.remove());

describe.skipIf(opensslMissing)('syslog over TLS into the collector', () => {
  let collector: CollectorProcess;
  const certFile = join(certs.dir, 'syslog-live.pem');
  const keyFile = join(certs.dir, 'syslog-live.key');
  beforeAll(async () => {
    copyFileSync(certs.serverCert, certFile);
    copyFileSync(certs.serverKey, keyFile);
    collector = await startCollectorProcess({
      configYaml: `syslog:\n  tls:\n    addr: 127.0.0.1:0\n    certFile: ${certFile}\n    keyFile: ${keyFile}\n    clientCaFile: ${certs.ca}\n`,
    });
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it('mutual TLS: octet-counted and LF-framed RFC 5424 and RFC 3164 arrive once, with their fields', async () => {
    const app = `tls${run}`;
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const frames = [
      oc(`<165>1 ${at.toISOString()} src-host ${app} 4242 ID47 [exampleSDID@32473 iut="3"] \uFEFFüber ✓\nsecond line`),
      `<13>1 ${at.toISOString()} src-host ${app} 43 - - lf framed\n`,
      `<12>${at.toUTCString().slice(8, 11)} ${String(at.getUTCDate()).padStart(2, ' ')} ${at.toISOString().slice(11, 19)} src-host ${app}[99]: bsd over tls\n`,
    ];
    expect(typeof (await send(collector.syslogTlsPort!, frames.join(''), { mutual: true }))).toBe('object');
    const got = await waitFor(async () => {
      const r = await records(collector, app);
      return r.length >= 3 ? r : undefined;
    });
    expect(got).toHaveLength(3);
    const by = (procId: string) => got.find((r) => r.procId === procId);
    expect(by('4242')).toMatchObject({ hostname: 'src-host', appName: app, severity: 5, facility: 20, msgId: 'ID47', msg: 'über ✓\nsecond line', structuredData: { 'exampleSDID@32473': { iut: '3' } } });
    expect(by('43')).toMatchObject({ msg: 'lf framed', timestamp: `${at.toISOString().slice(0, 19)}.000000Z` });
    expect(by('99')).toMatchObject({ msg: 'bsd over tls', severity: 4, facility: 1 });
    expect(await syslogHealth(collector)).toMatchObject({ framesRejected: 0, tlsAddr: `127.0.0.1:${collector.syslogTlsPort}` });
  });

  it('a sender without a client certificate and a plain-TCP sender fail the handshake: counted, logged with peer and reason (once a minute); nothing stored, nothing left open', async () => {
    const app = `tlsrefused${run}`;
    const before = (await syslogHealth(collector)).tlsHandshakeFailures;
    const noCert = await send(collector.syslogTlsPort!, oc(`<14>1 - h ${app} - - - no cert`));
    // TLS 1.3: the client's handshake completes before the server refuses its (missing) certificate.
    expect(noCert === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || typeof noCert === 'object' || /ECONNRESET|EPIPE/.test(noCert)).toBe(true);
    const plain = () => new Promise<number>((resolve) => {
      const socket = tcpConnect(collector.syslogTlsPort!, '127.0.0.1', () => {
        const local = socket.localPort!;
        socket.write(`<14>1 - h ${app} - - - plain tcp\n`);
        socket.once('close', () => resolve(local));
      });
      socket.on('error', () => undefined);
    });
    const plainPort = await plain();
    // A sender that reconnects: each attempt counted, the reason logged once a minute.
    for (let i = 0; i < 3; i++) await plain();
    await waitFor(async () => (await syslogHealth(collector)).tlsHandshakeFailures === before + 5);
    expect(await records(collector, app)).toEqual([]);
    expect((await syslogHealth(collector)).connections).toBe(0);
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`periscope_receiver_refused_requests_total\\{receiver="syslog",reason="PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED"\\} ${before + 5}\\n`));
    const lines = () => collector.output().split('\n').filter((l) => l.includes('syslog TLS handshake failed')).map((l) => JSON.parse(l));
    const logged = await waitFor(() => lines().find((l) => l.peer === `127.0.0.1:${plainPort}`));
    expect(lines().filter((l) => l.msg.includes('wrong version number'))).toHaveLength(1);
    expect(logged).toMatchObject({ level: 40, receiver: 'syslog', code: 'PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED', msg: 'syslog TLS handshake failed: wrong version number' });
    expect(lines().some((l) => /did not return a certificate|certificate required/i.test(l.msg))).toBe(true);
    // Still serving.
    const ok = `tlsafter${run}`;
    await send(collector.syslogTlsPort!, oc(`<14>1 - h ${ok} - - - after`), { mutual: true });
    await waitFor(async () => (await records(collector, ok)).length === 1);
  });

  it('a certificate renewed in place is served from the next connection on; a half-written renewal is warned about and not used', async () => {
    // Half a renewal: the certificate for another name, its key not yet.
    copyFileSync(certs.namedCert, certFile);
    const still = await send(collector.syslogTlsPort!, '', { mutual: true });
    expect(still).toMatchObject({ subject: { CN: 'localhost' } });
    const warning = await waitFor(() => collector.output().split('\n').find((l) => l.includes('syslog.tls: the changed certificate files cannot be used')));
    expect(JSON.parse(warning)).toMatchObject({ level: 40, msg: expect.stringContaining(`syslog.tls.keyFile: the key in ${keyFile} does not belong to the certificate in ${certFile}`) });
    copyFileSync(certs.namedKey, keyFile);
    const renewed = await send(collector.syslogTlsPort!, '', { mutual: true, servername: certs.serverAltName });
    expect(renewed).toMatchObject({ subject: { CN: certs.serverAltName } });
    const info = await waitFor(() => collector.output().split('\n').find((l) => l.includes('syslog.tls: renewed certificate in use')));
    const notAfter = new Date((renewed as PeerCertificate).valid_to);
    expect(JSON.parse(info)).toMatchObject({ level: 30, listener: 'syslog', notAfter: notAfter.toISOString() });
    // The expiry gauge follows the certificate served, as http.tls's does.
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toContain(`periscope_tls_certificate_expiry_timestamp_seconds{listener="syslog"} ${notAfter.getTime() / 1000}`);
  });
});

describe.skipIf(opensslMissing)('syslog.tls at start and in check-config', () => {
  const yaml = (keyFile: string) => `syslog:\n  tls:\n    addr: 127.0.0.1:0\n    certFile: server.pem\n    keyFile: ${keyFile}\n`;

  it('check-config names the key and the path (relative paths from the config file\'s folder)', () => {
    const file = join(certs.dir, 'syslog-bad.yaml');
    copyFileSync(certs.otherKey, join(certs.dir, 'wrong.key'));
    writeFileSync(file, yaml('wrong.key'));
    const { status, stdout, stderr } = periscope(['check-config', file]);
    expect(status).toBe(2);
    expect(stdout + stderr).toContain(`syslog.tls.keyFile: the key in ${join(certs.dir, 'wrong.key')} does not belong to the certificate in ${join(certs.dir, 'server.pem')} (certFile)`);
    writeFileSync(file, yaml('server.key'));
    expect(periscope(['check-config', file]).status).toBe(0);
  });

  it('a taken syslog.tls.addr stops the start, naming that key (not syslog.addr)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const err = await startCollectorProcess({ configYaml: `syslog:\n  tls:\n    addr: 127.0.0.1:${port}\n    certFile: ${certs.serverCert}\n    keyFile: ${certs.serverKey}\n` }).catch((e: Error) => e.message);
      expect(err).toContain(`cannot listen for syslog over TLS on 127.0.0.1:${port}: the address is in use by another process (EADDRINUSE); set syslog.tls.addr in the configuration`);
    } finally {
      taken.close();
    }
  });

  it('start refuses a missing file, naming the key and the path', async () => {
    const err = await startCollectorProcess({ configYaml: `syslog:\n  tls:\n    certFile: ${certs.serverCert}\n    keyFile: ${join(certs.dir, 'absent.key')}\n` }).catch((e: Error) => e.message);
    expect(err).toContain(`syslog.tls.keyFile: cannot read ${join(certs.dir, 'absent.key')}`);
  });
});
