// syslog.tls in process: a Node TLS client against the receiver's TLS listener (real sockets).
// The framing, parsing and bounds are the TCP listener's (receiver.test.ts); here what TLS adds:
// both framings through TLS, the shared connection bound, handshake failures counted with their
// reason and peer and leaving nothing open, the shutdown drain through TLS, and the file checks.
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { makeTestCerts, opensslMissing } from '../../../../test/helpers/tls-certs.ts';
import { PERISCOPE_ERR_SYSLOG_BAD_PRI, PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED, PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS } from './errors.ts';
import { createSyslogReceiver, type SyslogConfig, type SyslogReceiver, type SyslogRejection, type SyslogSink } from './receiver.ts';
import { tlsProblems } from './tls.ts';

const certs = makeTestCerts();
afterAll(() => certs.remove());

interface TestSink extends SyslogSink {
  records: LogRecord[];
  rejects: string[];
  refuses: { code: string; detail?: SyslogRejection }[];
}

function makeSink(): TestSink {
  const sink: TestSink = {
    records: [],
    rejects: [],
    refuses: [],
    accept(records) {
      sink.records.push(...records);
    },
    reject(code, _receiver, count = 1) {
      for (let i = 0; i < count; i++) sink.rejects.push(code);
    },
    refuse(code, _receiver, detail) {
      sink.refuses.push({ code, ...(detail && { detail }) });
    },
  };
  return sink;
}

const open: SyslogReceiver[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(open.splice(0).map((r) => r.shutdown()));
});

function config(tls: Partial<NonNullable<SyslogConfig['tls']>> = {}, overrides: Partial<SyslogConfig> = {}): SyslogConfig {
  return {
    enabled: true, addr: '127.0.0.1:0', maxFrameBytes: 1024, maxConnections: 100, timeZone: 'UTC',
    tls: { addr: '127.0.0.1:0', certFile: certs.serverCert, keyFile: certs.serverKey, minVersion: 'TLS1.2', ...tls },
    ...overrides,
  };
}

async function started(cfg: SyslogConfig, sink = makeSink()): Promise<{ receiver: SyslogReceiver; sink: TestSink; port: number }> {
  const receiver = createSyslogReceiver(cfg, sink, { baseDir: certs.dir });
  open.push(receiver);
  await receiver.start();
  return { receiver, sink, port: receiver.addresses().tls!.port };
}

/** A TLS client trusting the test CA; resolves once the handshake is done. */
function tlsClient(port: number, options: { cert?: Buffer; key?: Buffer; allowHalfOpen?: boolean } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ca: certs.read(certs.ca), servername: 'localhost', ...options }, () => resolve(socket));
    socket.once('error', reject);
    clients.push(socket);
  });
}

/** Resolves when the client's connection has closed, with the error it saw (a failed handshake), if any. */
function closed(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.once('close', () => resolve(error));
  });
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const oc = (m: string) => `${Buffer.byteLength(m)} ${m}`;
const msg = (n: number, text = `message ${n}`) => `<14>1 2026-01-02T03:04:05.000001Z host app ${n} - - ${text}`;

describe.skipIf(opensslMissing)('syslog receiver over TLS (RFC 5425)', () => {
  it('octet-counted and LF-framed frames through TLS, split anywhere, are parsed as over TCP; a bad one is refused alone', async () => {
    const { receiver, sink, port } = await started(config());
    expect(receiver.health()).toMatchObject({ status: 'up', tlsAddr: `127.0.0.1:${port}`, tlsHandshakeFailures: 0 });
    const octet = await tlsClient(port);
    const stream = Buffer.from([oc(msg(1, 'multi\nline ✓')), oc('<999>1 bad'), oc(msg(2))].join(''));
    for (let i = 0; i < stream.length; i += 7) octet.write(stream.subarray(i, i + 7));
    const lf = await tlsClient(port);
    lf.end(`${msg(3)}\n${msg(4)}`); // the last LF frame ends with the sender's close
    await waitFor('4 records', () => sink.records.length === 4);
    expect(sink.records.map((r) => r.msg).sort()).toEqual(['message 2', 'message 3', 'message 4', 'multi\nline ✓']);
    expect(sink.rejects).toEqual([PERISCOPE_ERR_SYSLOG_BAD_PRI]);
    expect(receiver.health().connections).toBe(1); // the octet-counted sender's connection stays
  });

  it('TLS and plain TCP connections share syslog.maxConnections', async () => {
    const { receiver, sink, port } = await started(config({}, { maxConnections: 2 }));
    await tlsClient(port);
    const tcp = tcpConnect(receiver.addresses().tcp.port, '127.0.0.1');
    clients.push(tcp);
    await waitFor('2 connections', () => receiver.health().connections === 2);
    const third = await tlsClient(port);
    expect(await closed(third)).toBeUndefined(); // handshake done, then closed on accept
    expect(sink.refuses.map((r) => r.code)).toEqual([PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS]);
    expect(receiver.health()).toMatchObject({ connections: 2, connectionsRefused: 1 });
  });

  it.each([
    { name: 'no client certificate, with clientCaFile', tls: { clientCaFile: certs.ca }, client: 'tls', reason: /did not return a certificate|certificate required/i },
    { name: 'a plain-TCP sender on the TLS port', tls: {}, client: 'plain', reason: /wrong version number|http request|unknown protocol/i },
  ])('a failed handshake ($name) is counted with its reason and peer, and leaves no connection open', async ({ tls, client, reason }) => {
    const { receiver, sink, port } = await started(config(tls));
    let local: number | undefined;
    if (client === 'plain') {
      const socket = tcpConnect(port, '127.0.0.1', () => socket.write(`${msg(1)}\n`));
      clients.push(socket);
      socket.on('connect', () => (local = socket.localPort));
      await closed(socket);
    } else {
      const socket = connect({ port, host: '127.0.0.1', ca: certs.read(certs.ca), servername: 'localhost' }, () => socket.write(oc(msg(1))));
      clients.push(socket);
      socket.on('secureConnect', () => (local = socket.localPort));
      socket.on('connect', () => (local = socket.localPort));
      await closed(socket);
    }
    await waitFor('the refusal', () => sink.refuses.length === 1);
    expect(sink.refuses[0].code).toBe(PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED);
    expect(sink.refuses[0].detail?.message).toMatch(reason);
    expect(sink.refuses[0].detail?.peer).toBe(`127.0.0.1:${local}`);
    expect(sink.records).toEqual([]);
    expect(receiver.health()).toMatchObject({ connections: 0, tlsHandshakeFailures: 1 });
    // The listener serves the next sender.
    const good = await tlsClient(port, { cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) });
    good.end(`${msg(2)}\n`);
    await waitFor('the next sender\'s record', () => sink.records.length === 1);
  });

  it('with clientCaFile, a client certificate of that CA gets through', async () => {
    const { sink, port } = await started(config({ clientCaFile: certs.ca }));
    const socket = await tlsClient(port, { cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) });
    socket.end(oc(msg(1)));
    await waitFor('the record', () => sink.records.length === 1);
    expect(sink.refuses).toEqual([]);
  });

  it('shutdown half-closes with a bare TCP FIN (no close_notify alert, which hid it from rsyslog) and reads on until the sender closes', async () => {
    const { receiver, sink, port } = await started(config({ minVersion: 'TLS1.2' }));
    // A relay between client and receiver records what the receiver sends. TLS 1.2 (no
    // post-handshake messages), so each record's content type is in the clear: 21 is an alert.
    const fromReceiver: Buffer[] = [];
    const relay = createTcpServer({ allowHalfOpen: true }, (client) => {
      const upstream = tcpConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
      upstream.on('data', (d: Buffer) => fromReceiver.push(d));
      client.pipe(upstream);
      upstream.pipe(client);
      clients.push(client, upstream);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = connect({ port: (relay.address() as AddressInfo).port, host: '127.0.0.1', ca: certs.read(certs.ca), servername: 'localhost', maxVersion: 'TLSv1.2', allowHalfOpen: true } as ConnectionOptions, () => resolve(s));
        s.once('error', reject);
        clients.push(s);
      });
      socket.write(oc(msg(1)));
      await waitFor('the first record', () => sink.records.length === 1);
      const handshakeBytes = Buffer.concat(fromReceiver).length;
      // The sender notices the collector's close only after one more write, as rsyslog does.
      socket.once('end', () => socket.end(oc(msg(2))));
      await receiver.shutdown();
      expect(sink.records.map((r) => r.msg)).toEqual(['message 1', 'message 2']);
      expect(sink.rejects).toEqual([]);
      const records: number[] = [];
      const all = Buffer.concat(fromReceiver);
      for (let at = 0; at + 5 <= all.length; at += 5 + all.readUInt16BE(at + 3)) records.push(all[at]);
      expect(records).not.toContain(21);
      expect(all.length).toBe(handshakeBytes); // nothing at all after the handshake
    } finally {
      relay.close();
    }
  });

  it('shutdown does not wait for a connection still in its handshake, and does not count it as failed', async () => {
    const { receiver, sink, port } = await started(config());
    const idle = tcpConnect(port, '127.0.0.1'); // says nothing: no ClientHello
    clients.push(idle);
    await new Promise((resolve) => idle.once('connect', resolve));
    const done = closed(idle);
    await receiver.shutdown(); // the handshake timeout (30 s) would outlast the test's
    await done;
    expect(sink.refuses).toEqual([]);
  });

  it('start fails on files that changed since the config was checked, naming the key; nothing stays open', async () => {
    const receiver = createSyslogReceiver(config({ keyFile: certs.otherKey }), makeSink(), { baseDir: certs.dir });
    open.push(receiver);
    await expect(receiver.start()).rejects.toMatchObject({ code: 'PERISCOPE_ERR_CONFIG_INVALID', message: expect.stringContaining('syslog.tls.keyFile: the key in') });
    expect(receiver.health().status).toBe('down');
  });

  it.each([
    { name: 'unset', syslog: {}, problems: [] },
    { name: 'a missing key file, relative to the config folder', syslog: { tls: { certFile: 'server.pem', keyFile: 'nope.key' } }, problems: [expect.stringMatching(/^syslog\.tls\.keyFile: cannot read .*nope\.key/)] },
    { name: 'good files, relative to the config folder', syslog: { tls: { certFile: 'server.pem', keyFile: 'server.key', clientCaFile: 'ca.pem' } }, problems: [] },
    { name: 'the port of syslog.addr', syslog: { addr: '0.0.0.0:5514', tls: { addr: '127.0.0.1:5514', certFile: 'server.pem', keyFile: 'server.key' } }, problems: ["syslog.tls.addr: port 5514 is syslog.addr's (0.0.0.0:5514), whose plain TCP listener takes it: give TLS a port of its own (RFC 5425 assigns 6514)"] },
    { name: 'the same port on another address', syslog: { addr: '127.0.0.1:5514', tls: { addr: '127.0.0.2:5514', certFile: 'server.pem', keyFile: 'server.key' } }, problems: [] },
    { name: 'port 0 for both (tests)', syslog: { addr: '127.0.0.1:0', tls: { addr: '127.0.0.1:0', certFile: 'server.pem', keyFile: 'server.key' } }, problems: [] },
  ])('tlsProblems: $name', ({ syslog, problems }) => {
    expect(tlsProblems(syslog, certs.dir)).toEqual(problems);
  });
});
