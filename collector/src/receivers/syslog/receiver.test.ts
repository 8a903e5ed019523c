import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { Value } from '@sinclair/typebox/value';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import {
  PERISCOPE_ERR_SYSLOG_BAD_PRI,
  PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA,
  PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP,
  PERISCOPE_ERR_SYSLOG_BAD_VERSION,
  PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE,
  PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME,
} from './errors.ts';
import { configSchema, createSyslogReceiver, parseAddr } from './receiver.ts';
import type { SyslogConfig, SyslogReceiver, SyslogRejection, SyslogSink } from './receiver.ts';

const MAX = 1024;

interface TestSink extends SyslogSink {
  batches: LogRecord[][];
  records: LogRecord[];
  rejects: string[];
  /** The detail of each frame refused for what it holds. */
  details: SyslogRejection[];
  refuses: string[];
  receivers: string[];
}

function makeSink(): TestSink {
  const sink: TestSink = {
    batches: [],
    records: [],
    rejects: [],
    details: [],
    refuses: [],
    receivers: [],
    accept(records, receiver) {
      sink.batches.push(records);
      sink.records.push(...records);
      sink.receivers.push(receiver);
    },
    reject(code, receiver, count = 1, detail) {
      for (let i = 0; i < count; i++) sink.rejects.push(code);
      if (detail) sink.details.push(detail);
      sink.receivers.push(receiver);
    },
    refuse(code) {
      sink.refuses.push(code);
    },
  };
  return sink;
}

function config(overrides: Partial<SyslogConfig> = {}): SyslogConfig {
  return { enabled: true, addr: '127.0.0.1:0', maxFrameBytes: MAX, maxConnections: 100, timeZone: 'UTC', ...overrides };
}

const open: SyslogReceiver[] = [];
const clients: Socket[] = [];

function receiver(cfg: SyslogConfig, sink: SyslogSink = makeSink()): SyslogReceiver {
  const r = createSyslogReceiver(cfg, sink);
  open.push(r);
  return r;
}

/** Lets libuv release handles that were closed (their close callbacks run a loop turn later). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(open.splice(0).map((r) => r.shutdown()));
  await settle();
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A client connection; `allowHalfOpen`: it stays open for writing after the receiver's FIN, as a sender that has not noticed it yet. */
function tcpConnect(port: number, host = '127.0.0.1', allowHalfOpen = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, allowHalfOpen }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
    clients.push(socket);
  });
}

function write(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

function udpSend(port: number, datagrams: (string | Buffer)[]): Promise<void> {
  const socket = createSocket('udp4');
  return (async () => {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) => socket.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    }
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  })();
}

function oc(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}

const msg = (n: number): string => `<14>1 2026-01-02T03:04:05.000001Z host app ${n} - - message ${n}`;

/** Handles (servers, sockets, UDP) this process holds, by type. */
function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) {
    if (/TCP|UDP|Pipe/i.test(name)) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('syslog receiver over TCP', () => {
  it('accepts valid frames in order around garbage, counts rejects, keeps the connection', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });

    const stream = [
      oc(msg(1)),
      'this is not syslog\n',
      `${msg(2)}\n`,
      oc('<34>1 2026-13-01T00:00:00Z h - - - - bad month'),
      `${msg(3)}\r\n`,
      `${'G'.repeat(MAX + 10)}\n`, // oversize LF frame
      oc(`<34>1 - h - - - [unterminated a="b"`),
      oc(msg(4)),
      '<34>2 - - - - - - VERSION 2\n',
      `${msg(5)}\0`,
    ].join('');
    // Awkward chunking: 7-byte writes, so frames span many chunks.
    const bytes = Buffer.from(stream);
    for (let i = 0; i < bytes.length; i += 7) await write(socket, bytes.subarray(i, i + 7));

    await waitFor('5 records and 5 rejects', () => sink.records.length === 5 && sink.rejects.length === 5);
    expect(sink.records.map((rec) => rec.msg)).toEqual([1, 2, 3, 4, 5].map((n) => `message ${n}`));
    expect(sink.records.map((rec) => rec.procId)).toEqual(['1', '2', '3', '4', '5']);
    expect(sink.records[0].timestamp).toBe('2026-01-02T03:04:05.000001Z');
    expect(sink.rejects).toEqual([
      PERISCOPE_ERR_SYSLOG_BAD_PRI,
      PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP,
      PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE,
      PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA,
      PERISCOPE_ERR_SYSLOG_BAD_VERSION,
    ]);
    expect(new Set(sink.receivers)).toEqual(new Set(['syslog']));
    expect(r.health()).toMatchObject({ status: 'up', connections: 1, framesAccepted: 5, framesRejected: 5 });

    // Same connection still works after all that garbage.
    await write(socket, oc(msg(6)));
    await waitFor('record 6', () => sink.records.length === 6);
    expect(sink.records[5].msg).toBe('message 6');
    expect(closed).toBe(false);

    // Closing with half a frame in flight reports it as truncated, never accepts it.
    await write(socket, oc(msg(7)).slice(0, 30));
    socket.end();
    await waitFor('truncated reject', () => sink.rejects.length === 6);
    expect(sink.rejects[5]).toBe(PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME);
    expect(sink.records).toHaveLength(6);
    await waitFor('connection count back to 0', () => r.health().connections === 0);
    expect(r.health()).toMatchObject({ framesAccepted: 6, framesRejected: 6 });
  });

  it('a continuation line starting with "digits SP" is one bad frame; the LF frames after it are kept', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    const valid = Array.from({ length: 10 }, (_, n) => `<13>1 2026-12-06T19:20:00Z h a - - - valid ${n}\n`);
    await write(socket, `<13>1 2026-12-06T19:20:00Z h a - - - failed:\n404 page not found\n${valid.join('')}`);
    await waitFor('11 records', () => sink.records.length === 11);
    expect(sink.records.map((rec) => rec.msg)).toEqual(['failed:', ...valid.map((_, n) => `valid ${n}`)]);
    expect(sink.rejects).toEqual([PERISCOPE_ERR_SYSLOG_BAD_PRI]);
  });

  it('the last frame without a trailer is kept when the sender closes the connection', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    await write(socket, `${msg(1)}\n<13>1 2026-12-06T19:20:00Z h t - - - m`); // printf '…' | nc
    socket.end();
    await waitFor('2 records', () => sink.records.length === 2);
    expect(sink.records.map((rec) => rec.msg)).toEqual(['message 1', 'm']);
    expect(sink.rejects).toEqual([]);
  });

  it('batches all records of one chunk into a single accept call', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    await write(socket, `${msg(1)}\n${msg(2)}\n${msg(3)}\n`);
    await waitFor('3 records', () => sink.records.length === 3);
    expect(sink.batches.map((b) => b.length)).toEqual([3]);
  });

  it('several connections are independent (a partial frame on one does not affect another)', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const port = r.addresses().tcp.port;
    const a = await tcpConnect(port);
    const b = await tcpConnect(port);
    await write(a, msg(1).slice(0, 20));
    await write(b, `${msg(2)}\n`);
    await waitFor('record 2', () => sink.records.length === 1);
    await write(a, `${msg(1).slice(20)}\n`);
    await waitFor('record 1', () => sink.records.length === 2);
    expect(sink.records.map((rec) => rec.msg)).toEqual(['message 2', 'message 1']);
    expect(sink.rejects).toEqual([]);
    await waitFor('2 connections', () => r.health().connections === 2);
  });

  it('a client reset does not crash the receiver', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const port = r.addresses().tcp.port;
    const a = await tcpConnect(port);
    await write(a, msg(1).slice(0, 20));
    await waitFor('connection registered', () => r.health().connections === 1);
    a.resetAndDestroy();
    await waitFor('connection gone', () => r.health().connections === 0);
    expect(sink.rejects).toEqual([PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME]);
    const b = await tcpConnect(port);
    await write(b, `${msg(2)}\n`);
    await waitFor('record 2', () => sink.records.length === 1);
    expect(r.health().status).toBe('up');
  });

  it('closes connections beyond maxConnections and keeps serving the others', async () => {
    const sink = makeSink();
    const r = receiver(config({ maxConnections: 1 }), sink);
    await r.start();
    const port = r.addresses().tcp.port;
    const first = await tcpConnect(port);
    await waitFor('first connection', () => r.health().connections === 1);
    const second = await tcpConnect(port);
    await new Promise<void>((resolve) => second.on('close', () => resolve()));
    expect(r.health().connections).toBe(1);
    // counted: a sender told to go away must show somewhere an operator looks
    expect(r.health().connectionsRefused).toBe(1);
    expect(sink.refuses).toEqual(['PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS']);
    await write(first, `${msg(1)}\n`);
    await waitFor('record 1', () => sink.records.length === 1);
  });

  it('a throwing sink neither crashes the receiver nor stops the connection', async () => {
    let calls = 0;
    const accepted: string[] = [];
    const r = receiver(config(), {
      accept(records) {
        calls++;
        if (calls === 1) throw new Error('disk full');
        accepted.push(...records.map((rec) => rec.msg));
      },
      reject() {
        throw new Error('also broken');
      },
      refuse() {},
    });
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    await write(socket, `${msg(1)}\n`);
    await waitFor('first accept call', () => calls === 1);
    await write(socket, 'garbage\n');
    await waitFor('garbage counted', () => r.health().framesRejected === 2);
    await write(socket, `${msg(2)}\n`);
    await waitFor('record 2', () => accepted.length === 1);
    expect(accepted).toEqual(['message 2']);
    expect(r.health()).toMatchObject({ framesAccepted: 1, framesRejected: 2, connections: 1 });
  });
});

describe('syslog receiver over TCP: back-pressure', () => {
  it('a busy sink pauses the connection; the frames are offered again in order and none is lost', async () => {
    let busyFor = 3; // the first three offers are refused with "try again in 30 ms"
    const offers: string[][] = [];
    const accepted: string[] = [];
    const r = receiver(config(), {
      accept(records) {
        offers.push(records.map((rec) => rec.msg));
        if (busyFor > 0) {
          busyFor--;
          return { retryAfterMs: 30, code: 'PERISCOPE_ERR_OVERLOADED' };
        }
        accepted.push(...records.map((rec) => rec.msg));
        return undefined;
      },
      reject() {},
      refuse() {},
    });
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    await write(socket, `${msg(1)}\n${msg(2)}\n`);
    await waitFor('the connection paused', () => r.health().pausedConnections === 1);
    await write(socket, `garbage\n${msg(3)}\n`); // arrives while paused: held behind 1 and 2
    await waitFor('everything taken', () => accepted.length === 3, 5000);
    expect(accepted).toEqual(['message 1', 'message 2', 'message 3']);
    expect(offers[0]).toEqual(['message 1', 'message 2']); // refused, then offered again
    expect(r.health()).toMatchObject({ framesAccepted: 3, framesRejected: 1, pausedConnections: 0, connections: 1 });
    await write(socket, `${msg(4)}\n`); // reading resumed
    await waitFor('record 4', () => accepted.length === 4);
  });

  it('what a paused connection holds at shutdown is offered once more, then counted as rejected', async () => {
    const sink = { ...makeSink(), accept: () => ({ retryAfterMs: 60_000, code: 'PERISCOPE_ERR_OVERLOADED' }) };
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    await write(socket, `${msg(1)}\n${msg(2)}\n`);
    await waitFor('the connection paused', () => r.health().pausedConnections === 1);
    await r.shutdown();
    expect(r.health()).toMatchObject({ framesAccepted: 0, framesRejected: 2, pausedConnections: 0 });
    expect(sink.rejects).toEqual(['PERISCOPE_ERR_OVERLOADED', 'PERISCOPE_ERR_OVERLOADED']); // in the metrics, by reason
  });

  it('connections that send and close while the sink is busy count against maxConnections until their frames are taken', async () => {
    let busy = true;
    const sink = makeSink();
    const r = receiver(config({ maxConnections: 3 }), { ...sink, accept: (records) => (busy ? { retryAfterMs: 50, code: 'PERISCOPE_ERR_OVERLOADED' } : sink.accept(records, 'syslog')) });
    await r.start();
    const port = r.addresses().tcp.port;
    // Like `logger` over TCP: connect, send one message, close. Each closed connection's frames wait in memory.
    for (let i = 1; i <= 3; i++) {
      const socket = await tcpConnect(port);
      await write(socket, `${msg(i)}\n`);
      await waitFor(`connection ${i} held`, () => r.health().pausedConnections === i);
      socket.end();
      await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    }
    expect(r.health().connections).toBe(0);
    // Without the bound, every such sender added up to 64 KiB held, however many came.
    const refused = await tcpConnect(port);
    let closed = false;
    refused.on('close', () => (closed = true));
    await waitFor('the fourth connection closed on accept', () => closed, 5000);
    expect(r.health()).toMatchObject({ connectionsRefused: 1, pausedConnections: 3 });
    busy = false;
    await waitFor('the held frames taken', () => sink.records.length === 3, 5000);
    const next = await tcpConnect(port);
    await write(next, `${msg(4)}\n`);
    await waitFor('record 4', () => sink.records.length === 4);
  });

  it('UDP cannot push back: a busy sink drops the datagram, counted', async () => {
    const sink = { ...makeSink(), accept: () => ({ retryAfterMs: 1000, code: 'PERISCOPE_ERR_STORE_UNAVAILABLE' }) };
    const r = receiver(config(), sink);
    await r.start();
    await udpSend(r.addresses().udp.port, [msg(1)]);
    await waitFor('counted', () => r.health().framesRejected === 1);
    expect(r.health().framesAccepted).toBe(0);
    expect(sink.rejects).toEqual(['PERISCOPE_ERR_STORE_UNAVAILABLE']);
  });
});

describe('syslog receiver: a refused frame says why and who sent it', () => {
  it('TCP and UDP', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port);
    await write(socket, `<999>1 - - - - - - bad pri\n${'x'.repeat(MAX + 1)}\n${msg(1)}\n`);
    await waitFor('a record', () => sink.records.length === 1);
    const tcpPeer = `127.0.0.1:${socket.localPort}`;
    expect(sink.details).toEqual([
      { message: 'PRI 999 is above 191', peer: tcpPeer },
      { message: expect.stringContaining('exceeds maxFrameBytes'), peer: tcpPeer },
    ]);
    sink.details.length = 0;
    await udpSend(r.addresses().udp.port, ['<13>1 not-a-time h a - - - x']);
    await waitFor('a UDP reject', () => sink.details.length === 1);
    expect(sink.details[0]).toEqual({ message: expect.stringContaining('TIMESTAMP'), peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });
});

describe('syslog receiver over UDP', () => {
  it('parses one message per datagram and rejects bad or oversize datagrams', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const { udp, tcp } = r.addresses();
    expect(udp.port).toBe(tcp.port);
    await udpSend(udp.port, [
      msg(1),
      `${msg(2)}\n`, // trailing LF tolerated
      'garbage',
      `<14>1 - h - - - - ${'x'.repeat(MAX)}`, // over maxFrameBytes
      `${msg(3)} with\nnewline\r\n`,
      // A datagram is one message even if it looks like octet counting or has several lines.
      oc(msg(4)),
    ]);
    await waitFor('3 records and 3 rejects', () => sink.records.length === 3 && sink.rejects.length === 3);
    expect(sink.records.map((rec) => rec.msg)).toEqual(['message 1', 'message 2', 'message 3 with\nnewline']);
    expect(sink.batches.flat()).toHaveLength(3);
    expect(sink.rejects).toEqual([
      PERISCOPE_ERR_SYSLOG_BAD_PRI,
      PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE,
      PERISCOPE_ERR_SYSLOG_BAD_PRI,
    ]);
    expect(r.health()).toMatchObject({ framesAccepted: 3, framesRejected: 3, connections: 0 });
  });

  it('commits the datagrams read in one event-loop turn together, in order', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = createSocket('udp4');
    // sent without yielding: all 200 are in the kernel's buffer before the receiver reads one
    for (let i = 0; i < 200; i++) socket.send(msg(i), r.addresses().udp.port, '127.0.0.1');
    await waitFor('200 records', () => sink.records.length === 200);
    socket.close();
    expect(sink.records.map((rec) => rec.msg)).toEqual(Array.from({ length: 200 }, (_, i) => `message ${i}`));
    // one commit per datagram was the old way (200); libuv reads up to 32 datagrams per poll
    expect(sink.batches.length).toBeLessThanOrEqual(200 / 8);
  });

  it('invalid UTF-8 in a datagram is accepted and flagged', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    await udpSend(r.addresses().udp.port, [Buffer.concat([Buffer.from('<14>1 - h - - - - '), Buffer.from([0xff, 0xfe])])]);
    await waitFor('record', () => sink.records.length === 1);
    expect(sink.records[0].msg).toBe('\uFFFD\uFFFD');
    expect(sink.records[0].attributes).toEqual({ invalidUtf8: true });
  });
});

describe('syslog receiver lifecycle', () => {
  it('reports health and addresses only while listening', async () => {
    const r = receiver(config());
    expect(r.health()).toEqual({ status: 'down', connections: 0, pausedConnections: 0, framesAccepted: 0, framesRejected: 0, connectionsRefused: 0 });
    expect(() => r.addresses()).toThrow(/not listening/);
    await r.start();
    const { tcp, udp } = r.addresses();
    expect(tcp.host).toBe('127.0.0.1');
    expect(udp.host).toBe('127.0.0.1');
    expect(tcp.port).toBeGreaterThan(0);
    expect(udp.port).toBe(tcp.port);
    expect(r.health()).toEqual({
      status: 'up',
      tcpAddr: `127.0.0.1:${tcp.port}`,
      udpAddr: `127.0.0.1:${tcp.port}`,
      connections: 0,
      pausedConnections: 0,
      framesAccepted: 0,
      framesRejected: 0,
      connectionsRefused: 0,
    });
    await r.shutdown();
    expect(r.health().status).toBe('down');
    expect(r.health().tcpAddr).toBeUndefined();
    expect(() => r.addresses()).toThrow(/not listening/);
  });

  it('shutdown before start, twice, and concurrently is safe', async () => {
    const r = receiver(config());
    await r.shutdown();
    await r.shutdown();
    await r.start();
    await Promise.all([r.shutdown(), r.shutdown()]);
    await r.shutdown();
    expect(r.health().status).toBe('down');
  });

  it('start twice is idempotent', async () => {
    const r = receiver(config());
    await Promise.all([r.start(), r.start()]);
    const port = r.addresses().tcp.port;
    await r.start();
    expect(r.addresses().tcp.port).toBe(port);
    expect(handleCounts()).toMatchObject({ TCPServerWrap: 1, UDPWrap: 1 });
  });

  it('shutdown closes open client connections and frees the port', async () => {
    const r = receiver(config());
    await r.start();
    const port = r.addresses().tcp.port;
    const socket = await tcpConnect(port);
    await waitFor('connection', () => r.health().connections === 1);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await r.shutdown();
    await closed;
    expect(r.health().connections).toBe(0);
    await expect(tcpConnect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('shutdown reads on until the sender closes: what it wrote before it saw the FIN is taken', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    // As rsyslog's omfwd and syslog-ng do: a sender notices the receiver's FIN when it next
    // sends (the message in hand may still go out), then closes and keeps the rest for later.
    const socket = await tcpConnect(r.addresses().tcp.port, '127.0.0.1', true);
    await waitFor('connection', () => r.health().connections === 1);
    socket.once('end', () => socket.end(oc(msg(3))));
    socket.write(oc(msg(1)) + oc(msg(2))); // not read by the receiver yet when shutdown starts
    await r.shutdown();
    expect(sink.records.map((rec) => rec.msg)).toEqual(['message 1', 'message 2', 'message 3']);
    expect(sink.rejects).toEqual([]);
    expect(r.health().connections).toBe(0);
  });

  it('shutdown cuts a connection whose sender does not close within the drain time', async () => {
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const socket = await tcpConnect(r.addresses().tcp.port, '127.0.0.1', true);
    await write(socket, `${oc(msg(1))}${oc(msg(2)).slice(0, 10)}`); // a frame left half-sent
    await waitFor('the first frame', () => sink.records.length === 1);
    await r.shutdown(); // the sender never closes: cut after the drain time
    expect(sink.rejects).toEqual([PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME]);
    expect(r.health().connections).toBe(0);
  });

  it('start/shutdown/start does not leak handles and reuses nothing stale', async () => {
    const baseline = handleCounts();
    const sink = makeSink();
    const r = receiver(config(), sink);
    await r.start();
    const firstPort = r.addresses().tcp.port;
    await r.shutdown();
    expect(handleCounts()).toEqual(baseline);
    await r.start();
    const secondPort = r.addresses().tcp.port;
    expect(handleCounts()).toMatchObject({ TCPServerWrap: (baseline.TCPServerWrap ?? 0) + 1, UDPWrap: (baseline.UDPWrap ?? 0) + 1 });
    // The restarted receiver really works, on both transports.
    const socket = await tcpConnect(secondPort);
    await write(socket, `${msg(1)}\n`);
    await udpSend(r.addresses().udp.port, [msg(2)]);
    await waitFor('2 records', () => sink.records.length === 2);
    socket.destroy();
    await r.shutdown();
    expect(handleCounts()).toEqual(baseline);

    // The port of a stopped receiver is free again for both TCP and UDP.
    const again = receiver(config({ addr: `127.0.0.1:${firstPort}` }));
    await again.start();
    expect(again.addresses()).toEqual({ tcp: { host: '127.0.0.1', port: firstPort }, udp: { host: '127.0.0.1', port: firstPort } });
    await again.shutdown();
    expect(handleCounts()).toEqual(baseline);
  });

  it('start fails with EADDRINUSE on a taken port and leaves nothing open', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    const baseline = handleCounts();
    try {
      const r = receiver(config({ addr: `127.0.0.1:${port}` }));
      await expect(r.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      await r.shutdown();
      expect(r.health().status).toBe('down');
      expect(handleCounts()).toEqual(baseline);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('enabled: false starts nothing', async () => {
    const baseline = handleCounts();
    const r = receiver(config({ enabled: false }));
    await r.start();
    expect(r.health().status).toBe('down');
    expect(handleCounts()).toEqual(baseline);
  });

  it('listens on IPv6 loopback when given [::1]:0', async (ctx) => {
    const probe = createServer();
    const ipv6 = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!ipv6) ctx.skip();
    const sink = makeSink();
    const r = receiver(config({ addr: '[::1]:0' }), sink);
    await r.start();
    const { port } = r.addresses().tcp;
    expect(r.health().tcpAddr).toBe(`[::1]:${port}`);
    const socket = await tcpConnect(port, '::1');
    await write(socket, `${msg(1)}\n`);
    const udp = createSocket('udp6');
    await new Promise<void>((resolve, reject) => udp.send(msg(2), port, '::1', (err) => (err ? reject(err) : resolve())));
    udp.close();
    await waitFor('2 records', () => sink.records.length === 2);
  });
});

describe('syslog receiver config', () => {
  it('schema defaults', () => {
    expect(Value.Default(configSchema, {})).toEqual({
      enabled: true,
      addr: '127.0.0.1:5514',
      maxFrameBytes: 65536,
      maxConnections: 1000,
      timeZone: 'UTC',
    });
    expect(Value.Check(configSchema, Value.Default(configSchema, {}))).toBe(true);
  });

  const invalid: { name: string; value: unknown }[] = [
    { name: 'unknown property', value: { ...config(), extra: 1 } },
    { name: 'maxFrameBytes below the RFC 5424 minimum of 480', value: config({ maxFrameBytes: 100 }) },
    { name: 'fractional maxConnections', value: config({ maxConnections: 1.5 }) },
    { name: 'zero maxConnections', value: config({ maxConnections: 0 }) },
    { name: 'addr not a string', value: { ...config(), addr: 5514 } },
  ];

  it.each(invalid)('schema rejects $name, and so does createSyslogReceiver', ({ value }) => {
    expect(Value.Check(configSchema, value)).toBe(false);
    expect(() => createSyslogReceiver(value as SyslogConfig, makeSink())).toThrow(/invalid syslog config/);
  });

  const addrs: { name: string; addr: string; expected: { host: string; port: number } | RegExp }[] = [
    { name: 'IPv4', addr: '127.0.0.1:5514', expected: { host: '127.0.0.1', port: 5514 } },
    { name: 'port 0', addr: '0.0.0.0:0', expected: { host: '0.0.0.0', port: 0 } },
    { name: 'hostname', addr: 'localhost:65535', expected: { host: 'localhost', port: 65535 } },
    { name: 'IPv6 in brackets', addr: '[::1]:514', expected: { host: '::1', port: 514 } },
    { name: 'bare IPv6', addr: '::1:514', expected: /\[host\]:port/ },
    { name: 'no port', addr: '127.0.0.1', expected: /host:port/ },
    { name: 'empty host', addr: ':514', expected: /host is empty/ },
    { name: 'port too large', addr: '127.0.0.1:65536', expected: /port must be/ },
    { name: 'non-numeric port', addr: '127.0.0.1:syslog', expected: /port must be/ },
    { name: 'unclosed bracket', addr: '[::1:514', expected: /\[ipv6\]:port/ },
  ];

  it.each(addrs)('parseAddr: $name', ({ addr, expected }) => {
    if (expected instanceof RegExp) {
      expect(() => parseAddr(addr)).toThrow(expected);
      expect(() => createSyslogReceiver(config({ addr }), makeSink())).toThrow(expected);
    } else {
      expect(parseAddr(addr)).toEqual(expected);
    }
  });
});
