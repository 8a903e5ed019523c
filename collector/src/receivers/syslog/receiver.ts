// Syslog receiver: RFC 5424 (and RFC 3164) messages over TCP (RFC 6587 framing) and UDP (RFC 5426,
// one message per datagram), on the same host:port; and, with syslog.tls, over TLS (RFC 5425) on
// a TCP listener of its own, whose connections are read as the TCP ones once the handshake is
// done. Parsed records go to the sink in small batches (one per TCP chunk; for UDP, the
// datagrams of one event-loop turn); every dropped frame is reported to sink.reject.

import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket as TcpSocket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TlsOptions } from 'node:tls';
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE, PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED, PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS } from './errors.ts';
import { SyslogFrameSplitter, withoutTrailer } from './framing.ts';
import type { FrameEvent } from './framing.ts';
import { parseSyslog } from './parse.ts';
import { zonedTime } from './zoned-time.ts';
import { formatAddr, parseAddr } from '../../config/units.ts';
import { ERR, PeriscopeError } from '../../errors.ts';
import { loadServerTls } from '../../server-tls.ts';
import { handshakeFailure } from '../../server-tls.ts';
import { tlsConfigSchema } from './tls.ts';

/** Most datagrams committed in one batch. */
const UDP_BATCH_MAX = 1000;
/** SO_RCVBUF asked for the UDP socket (the kernel may grant less). */
const UDP_RECV_BUFFER_BYTES = 8 * 2 ** 20;
/**
 * TCP keep-alive probes start after this long without traffic, so a sender that vanished (host
 * down, network cut: no FIN) frees its connection slot. An idle but live sender is not closed:
 * syslog senders keep one connection open between bursts.
 */
const TCP_KEEPALIVE_DELAY_MS = 60_000;
/**
 * At shutdown, how long a connection may go on sending after the collector's FIN. rsyslog's
 * omfwd checks for a FIN before each send (a MSG_PEEK recv) and syslog-ng polls its socket for
 * one: a sender that is sending sees it within a round trip and a message, closes, and keeps what
 * it has not sent for its next connection. Cutting at once instead (a reset) lost what it had
 * written into the socket meanwhile: 52 of 40 000 messages from rsyslog in a restart under load.
 * An idle sender sees the FIN only when it next sends, so this bounds the wait for it.
 */
const TCP_DRAIN_MS = 1000;
/**
 * How long a TLS connection may take to complete its handshake (Node's default: 120 s). A sender's
 * takes milliseconds; one that connects and says nothing (a port scan, a stuck peer) holds a
 * connection slot until then.
 */
const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** Sink failures that are not an error code of their own. */
const SINK_FAILED = 'PERISCOPE_ERR_INTERNAL';
export const configSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Listen for syslog at all.' }),
    // format: the same check as http.addr, so that check-config refuses what start could not parse.
    addr: Type.String({
      default: '127.0.0.1:5514',
      format: 'addr',
      description: 'host:port (IPv6 as [::1]:port) for both TCP and UDP; port 0 picks a free TCP port and reuses it for UDP. Env PERISCOPE_SYSLOG_ADDR.',
    }),
    maxFrameBytes: Type.Integer({
      default: 65536,
      minimum: 480, // RFC 5424 §6.1: receivers MUST accept 480 octets
      maximum: 16 * 1024 * 1024,
      description: 'Largest accepted syslog message in bytes; larger frames/datagrams are skipped and rejected.',
    }),
    maxConnections: Type.Integer({
      default: 1000,
      minimum: 1,
      description: 'Concurrent TCP connections, those of syslog.tls included (a closed one counts while the frames it sent wait for a busy store); further connections are closed on accept.',
    }),
    // Network devices and old syslogds stamp RFC 3164 messages in local time, with no zone: read
    // as UTC, a Berlin switch's records were an hour or two off (and Loki refuses those stamped
    // more than creationGracePeriod ahead). syslog-ng's recv-time-zone(), Vector's timezone.
    timeZone: Type.String({
      default: 'UTC',
      format: 'time-zone',
      description: "Time zone of RFC 3164 (BSD) timestamps, which carry none (`Mar  1 00:01:23`): an IANA name such as `Europe/Berlin` for senders whose clock is set to local time (daylight saving time included; in the hour repeated when it ends, the first occurrence), or `UTC`. RFC 5424 and RFC 3339 timestamps carry their offset and do not use it.",
    }),
    tls: Type.Optional(tlsConfigSchema),
  },
  { additionalProperties: false, default: {} },
);

export type SyslogConfig = Static<typeof configSchema>;

/** The sink cannot take records now (back-pressure): offer them again after `retryAfterMs`. */
export interface SinkBusy {
  retryAfterMs: number;
  /** Why (an error code): what the records are counted under when they cannot wait (UDP, shutdown). */
  code: string;
}

export interface SyslogSink {
  /**
   * Takes the records (returns nothing), or answers SinkBusy: nothing was taken, offer them again
   * later. A throw means they can never be taken (counted as rejected).
   */
  accept(records: LogRecord[], receiver: 'syslog'): void | SinkBusy;
  /**
   * `count` records were dropped, for `code`. A frame refused for what it holds (a parse or
   * framing error) comes with `detail`: why, and who sent it, since a syslog sender gets no answer.
   */
  reject(code: string, receiver: 'syslog', count?: number, detail?: SyslogRejection): void;
  /**
   * A whole TCP connection was refused (closed on accept, or its TLS handshake failed), for
   * `code`; a failed handshake comes with `detail`: why, and who.
   */
  refuse(code: string, receiver: 'syslog', detail?: SyslogRejection): void;
}

/** Why one frame or datagram was refused, and its sender (host:port). */
export interface SyslogRejection {
  message: string;
  peer: string;
}

export interface SyslogEndpoint {
  host: string;
  port: number;
}

export interface SyslogAddresses {
  tcp: SyslogEndpoint;
  udp: SyslogEndpoint;
  /** The TLS listener's, when syslog.tls is set. */
  tls?: SyslogEndpoint;
}

export interface SyslogHealth {
  status: 'up' | 'down';
  tcpAddr?: string;
  udpAddr?: string;
  /** The TLS listener's (syslog.tls). */
  tlsAddr?: string;
  /** Open TCP connections, TLS ones included (after their handshake). */
  connections: number;
  /** Records handed to sink.accept (and accepted without throwing). */
  framesAccepted: number;
  /** Frames/datagrams dropped: framing errors, parse errors, and records the sink could not take. */
  framesRejected: number;
  /** TCP connections closed on accept because `maxConnections` were open. */
  connectionsRefused: number;
  /** TLS connections whose handshake failed (no or a wrong client certificate, plain TCP on the TLS port, …); with syslog.tls only. */
  tlsHandshakeFailures?: number;
  /** TCP connections not being read while the sink is busy (TCP flow control holds the senders back). */
  pausedConnections: number;
}

export interface SyslogReceiver {
  start(): Promise<void>;
  shutdown(): Promise<void>;
  health(): SyslogHealth;
  /** Bound TCP and UDP endpoints; throws when the receiver is not listening. */
  addresses(): SyslogAddresses;
}

// The one host:port parser of the collector's config (re-exported for this receiver's callers).
export { parseAddr };

/** Attempts at finding a port free for both TCP and UDP when the configured port is 0. */
const EPHEMERAL_ATTEMPTS = 5;

export interface SyslogReceiverOptions {
  /** The folder relative syslog.tls file paths are read from (the config file's); default: the working directory. */
  baseDir?: string;
  /**
   * Called with the TLS listener (syslog.tls) once created, and the options it was made with: the
   * caller serves renewed files on it (collector/src/tls-renewal.ts, as for http.tls).
   */
  onTlsListener?(server: TlsServer, options: TlsOptions): void;
}

export function createSyslogReceiver(config: SyslogConfig, sink: SyslogSink, options: SyslogReceiverOptions = {}): SyslogReceiver {
  // parseAddr's message says what is wrong with an address; the schema's error only that it is.
  if (typeof config?.addr === 'string') parseAddr(config.addr);
  if (!Value.Check(configSchema, config)) {
    const first = Value.Errors(configSchema, config).First();
    throw new Error(`invalid syslog config: ${first ? `${first.path || '/'} ${first.message}` : 'does not match schema'}`);
  }
  const endpoint = parseAddr(config.addr);
  const maxFrameBytes = config.maxFrameBytes;
  const parseOptions = { bsdTime: zonedTime(config.timeZone) };

  let tcp: Server | null = null;
  let udp: UdpSocket | null = null;
  let tlsServer: TlsServer | null = null;
  /**
   * The TLS listener's TCP sockets (before and after their handshake) by peer address: the
   * shutdown half-closes an open TLS connection through its TCP socket and cuts those left.
   */
  const tlsRaw = new Map<string, TcpSocket>();
  const peerKey = (socket: TcpSocket) => `${socket.remoteAddress}|${socket.remotePort}`;
  let tlsHandshakeFailures = 0;
  let bound: SyslogAddresses | null = null;
  let starting: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  const sockets = new Set<TcpSocket>();
  let framesAccepted = 0;
  let framesRejected = 0;
  let connectionsRefused = 0;

  function reject(code: string, count = 1, detail?: SyslogRejection): void {
    framesRejected += count;
    try {
      sink.reject(code, 'syslog', count, detail);
    } catch {
      // A failing sink must not take the listener down; the count above still records it.
    }
  }

  /** Hands a batch to the sink: undefined when it was taken or dropped, or how long to wait before offering it again. */
  function flush(batch: LogRecord[], canWait: boolean): number | undefined {
    try {
      const busy = sink.accept(batch, 'syslog');
      if (busy) {
        if (canWait) return busy.retryAfterMs;
        reject(busy.code, batch.length);
        return undefined;
      }
      framesAccepted += batch.length;
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      reject(typeof code === 'string' && code.startsWith('PERISCOPE_ERR_') ? code : SINK_FAILED, batch.length);
    }
    return undefined;
  }

  /**
   * Parses frames in order; records are batched, but never reordered around a rejection. With
   * `canWait` (TCP), a busy sink stops the run: the answer says where to resume and when.
   */
  function handleFrames(events: FrameEvent[], canWait: boolean, peer: string): { resumeAt: number; retryAfterMs: number } | undefined {
    let batch: LogRecord[] | null = null;
    let batchStart = 0;
    const flushBatch = () => {
      const wait = batch ? flush(batch, canWait) : undefined;
      batch = null;
      return wait === undefined ? undefined : { resumeAt: batchStart, retryAfterMs: wait };
    };
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event.ok) {
        const parsed = parseSyslog(event.frame, parseOptions);
        if (parsed.ok) {
          if (!batch) {
            batch = [];
            batchStart = i;
          }
          batch.push(parsed.record);
          continue;
        }
        const stop = flushBatch();
        if (stop) return stop;
        reject(parsed.code, 1, { message: parsed.message, peer });
      } else {
        const stop = flushBatch();
        if (stop) return stop;
        reject(event.code, 1, { message: event.message, peer });
      }
    }
    return flushBatch();
  }

  function refuseConnection(): void {
    connectionsRefused++;
    try {
      sink.refuse(PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS, 'syslog');
    } catch {
      // counted above
    }
  }

  /** A TLS connection whose handshake failed: Node has destroyed it; counted and reported. */
  function handshakeFailed(err: unknown, socket: TcpSocket): void {
    if (shuttingDown) return; // cut by the shutdown mid-handshake: not the sender's failure
    tlsHandshakeFailures++;
    const peer = formatAddr(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
    try {
      sink.refuse(PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED, 'syslog', { message: handshakeFailure(err), peer });
    } catch {
      // counted above
    }
  }

  /** Set while shutting down: offers no longer wait for a busy sink. */
  let shuttingDown = false;
  /** Connections paused on a busy sink → their frames not taken yet, offered again at shutdown. */
  const held = new Map<TcpSocket, { events: FrameEvent[]; timer: NodeJS.Timeout; peer: string }>();

  /**
   * Closed connections whose frames are still held (the sink busy). They count against
   * maxConnections: senders that connect, send and close (`logger`, many agents) would otherwise
   * each leave up to a read's worth of frames in memory, however many came.
   */
  function closedButHeld(): number {
    let n = 0;
    for (const socket of held.keys()) if (!sockets.has(socket)) n++;
    return n;
  }

  function onConnection(socket: TcpSocket): void {
    if (sockets.size + closedButHeld() >= config.maxConnections) {
      // server.maxConnections counts open connections only.
      socket.destroy();
      refuseConnection();
      return;
    }
    sockets.add(socket);
    const peer = formatAddr(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
    const splitter = new SyslogFrameSplitter({ maxFrameBytes });
    let ended = false;
    // Back-pressure (TCP only): when the sink is busy, stop reading the socket — the kernel's
    // receive window fills and the sender's own queue holds the rest — and offer the frames not
    // taken again after the sink's Retry-After. Frames keep their order.
    const offer = (events: FrameEvent[]) => {
      const stop = handleFrames(events, !shuttingDown, peer);
      if (!stop) {
        held.delete(socket);
        if (!ended) socket.resume();
        return;
      }
      socket.pause();
      const rest = events.slice(stop.resumeAt);
      // Frames arriving meanwhile are appended to `rest` (receive), so the retry offers them too.
      held.set(socket, { events: rest, timer: setTimeout(() => offer(rest), stop.retryAfterMs), peer });
    };
    const receive = (events: FrameEvent[]) => {
      const waiting = held.get(socket);
      if (waiting) waiting.events.push(...events); // data already buffered when the socket paused
      else offer(events);
    };
    socket.on('data', (chunk: Buffer) => receive(splitter.push(chunk)));
    socket.on('end', () => {
      // The sender closed (FIN): its last LF frame needs no trailer.
      ended = true;
      receive(splitter.end());
    });
    socket.on('error', () => {
      // ECONNRESET, EPIPE, …: the socket closes; 'close' below reports a cut frame.
    });
    socket.on('close', () => {
      sockets.delete(socket);
      // Closed without a FIN (reset, error, shutdown): a frame in progress was cut.
      if (!ended) receive(splitter.abort());
    });
  }

  /**
   * Last offer of what paused connections hold (shutdown): taken now or counted as rejected. An
   * open one reads again, so that drainConnections sees its sender close.
   */
  function releaseHeld(): void {
    for (const [socket, { events, timer, peer }] of held) {
      clearTimeout(timer);
      held.delete(socket);
      handleFrames(events, false, peer);
      if (!socket.destroyed) socket.resume();
    }
  }

  /**
   * Shutdown of the open connections without losing what senders wrote: a FIN to each (half
   * close), then reading on — the frames go to the sink, never waiting — until each sender
   * closes its side, at most TCP_DRAIN_MS (see there); connections still open then are cut.
   *
   * A TLS connection gets the bare TCP FIN too, without the close_notify alert before it that
   * RFC 5425 §4.4 asks the receiver to initiate. rsyslog's gtls driver, like its plain TCP one,
   * looks for the FIN with a MSG_PEEK recv before each send and reads nothing else: an alert in
   * front of the FIN hid it, rsyslog went on sending until the connection was cut, and lost what
   * it had in flight (1 to 200 of 20 000 messages per restart in 7 runs, once 897; with the bare
   * FIN 0 in 5, as over plain TCP). The alert guards against the truncation of data the closing
   * side sent (RFC 8446 §6.1); the receiver sends none.
   */
  async function drainConnections(): Promise<void> {
    const open = [...sockets].filter((s) => !s.destroyed);
    if (open.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const closed = Promise.all(open.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))));
      for (const s of open) (tlsRaw.get(peerKey(s)) ?? s).end();
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, TCP_DRAIN_MS)))]);
      clearTimeout(timer);
    }
    for (const s of sockets) s.destroy();
    // TLS connections still in their handshake hold no frames (and would hold the listener's close).
    for (const s of tlsRaw.values()) s.destroy();
  }

  let udpBatch: LogRecord[] = [];

  function onDatagram(msg: Buffer, rinfo: { address: string; port: number }): void {
    // RFC 5426: the datagram is the message. Tolerate one trailing LF / CR LF / NUL that
    // many senders append.
    const message = withoutTrailer(msg);
    const end = message.length;
    if (end > maxFrameBytes) {
      reject(PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE, 1, { message: `datagram of ${end} bytes exceeds maxFrameBytes ${maxFrameBytes}`, peer: formatAddr(rinfo.address, rinfo.port) });
      return;
    }
    const parsed = parseSyslog(message, parseOptions);
    if (!parsed.ok) {
      reject(parsed.code, 1, { message: parsed.message, peer: formatAddr(rinfo.address, rinfo.port) });
      return;
    }
    // The datagrams of one event-loop turn are committed together: with one commit each, the
    // kernel dropped a third of a 20 k/s stream while the receiver caught up. UDP has no ack,
    // so holding them until the check phase changes no promise.
    if (udpBatch.length === 0) setImmediate(flushUdp);
    udpBatch.push(parsed.record);
    if (udpBatch.length >= UDP_BATCH_MAX) flushUdp();
  }

  /** Commits the datagrams read so far; UDP cannot push back, so a busy sink drops them (counted). */
  function flushUdp(): void {
    if (udpBatch.length === 0) return;
    const batch = udpBatch;
    udpBatch = [];
    flush(batch, false);
  }

  function listenTcp(server: Server, host: string, port: number): Promise<void> {
    return new Promise((resolve, rejectListen) => {
      server.once('error', rejectListen);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', rejectListen);
        resolve();
      });
    });
  }

  function bindUdp(socket: UdpSocket, address: string, port: number): Promise<void> {
    return new Promise((resolve, rejectBind) => {
      socket.once('error', rejectBind);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off('error', rejectBind);
        resolve();
      });
    });
  }

  async function closeAll(): Promise<void> {
    const server = tcp;
    const socket = udp;
    const secure = tlsServer;
    tcp = null;
    udp = null;
    tlsServer = null;
    bound = null;
    const closing: Promise<void>[] = [];
    for (const s of [server, secure]) {
      if (s) closing.push(new Promise<void>((resolve) => s.close(() => resolve())));
    }
    shuttingDown = true;
    releaseHeld();
    const draining = drainConnections();
    if (socket) {
      closing.push(
        new Promise<void>((resolve) => {
          try {
            socket.close(() => resolve());
          } catch {
            resolve(); // not bound / already closed
          }
        }),
      );
    }
    await Promise.all([...closing, draining]);
    flushUdp(); // what the socket read before it closed
    // 'close' fires before libuv has released the handles (its close callbacks run after the
    // check phase); two event-loop turns later they are gone, so shutdown() resolving means
    // the ports are really free and no handle keeps the process alive.
    if (closing.length > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async function doStart(): Promise<void> {
    shuttingDown = false;
    // Resolve once, so TCP and UDP bind the very same address (an IP literal needs no DNS).
    const { address, family } = await lookup(endpoint.host);
    const attempts = endpoint.port === 0 ? EPHEMERAL_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      const server = createServer({ keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS }, onConnection);
      server.maxConnections = config.maxConnections;
      server.on('drop', refuseConnection);
      tcp = server;
      await listenTcp(server, address, endpoint.port);
      server.on('error', () => {
        // Accept errors (EMFILE, …) after listening must not crash the process.
      });
      const tcpInfo = server.address() as AddressInfo;
      // The kernel's default receive buffer (rmem_default, 208 KiB) holds only ~256 small
      // datagrams: a burst past that is dropped before Node reads it. Linux caps this at rmem_max.
      const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', recvBufferSize: UDP_RECV_BUFFER_BYTES });
      udp = socket;
      try {
        await bindUdp(socket, address, tcpInfo.port);
      } catch (err) {
        await closeAll();
        if (attempt < attempts && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      socket.on('error', () => {
        // Per-datagram errors must not crash the process.
      });
      socket.on('message', onDatagram);
      const udpInfo = socket.address();
      const tlsInfo = config.tls ? await listenTls(config.tls) : undefined;
      bound = {
        tcp: { host: tcpInfo.address, port: tcpInfo.port },
        udp: { host: udpInfo.address, port: udpInfo.port },
        ...(tlsInfo && { tls: { host: tlsInfo.address, port: tlsInfo.port } }),
      };
      return;
    }
  }

  /**
   * The TLS listener (syslog.tls). Its files were checked when the configuration was loaded; read
   * again here, they may have changed since. A listen error is marked `listener: 'tls'`, so that
   * the caller names syslog.tls.addr.
   */
  async function listenTls(tls: NonNullable<SyslogConfig['tls']>): Promise<AddressInfo> {
    const baseDir = options.baseDir ?? process.cwd();
    const loaded = loadServerTls(tls, 'syslog.tls', baseDir);
    if (!loaded.options) throw new PeriscopeError(ERR.CONFIG_INVALID, `invalid configuration:\n  ${loaded.problems.join('\n  ')}`, 400, { problems: loaded.problems });
    const server = createTlsServer({ ...loaded.options, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS }, onConnection);
    // Node's own bound counts connections still in their handshake, which `sockets` does not yet.
    server.maxConnections = config.maxConnections;
    server.on('drop', refuseConnection);
    server.on('connection', (raw: TcpSocket) => {
      const key = peerKey(raw);
      tlsRaw.set(key, raw);
      raw.once('close', () => {
        if (tlsRaw.get(key) === raw) tlsRaw.delete(key); // not a later connection from the same port
      });
    });
    server.on('tlsClientError', handshakeFailed);
    options.onTlsListener?.(server, loaded.options);
    tlsServer = server;
    const { host, port } = parseAddr(tls.addr);
    try {
      await listenTcp(server, (await lookup(host)).address, port);
    } catch (err) {
      throw Object.assign(err as Error, { listener: 'tls' });
    }
    server.on('error', () => {
      // Accept errors (EMFILE, …) after listening must not crash the process.
    });
    return server.address() as AddressInfo;
  }

  function start(): Promise<void> {
    if (!config.enabled) return Promise.resolve();
    if (stopping) return stopping.then(start);
    if (!starting) {
      starting = doStart().catch(async (err: unknown) => {
        await closeAll();
        starting = null;
        throw err;
      });
    }
    return starting;
  }

  function shutdown(): Promise<void> {
    if (!stopping) {
      const pending = starting;
      stopping = (async () => {
        if (pending) await pending.catch(() => undefined);
        await closeAll();
        starting = null;
      })().finally(() => {
        stopping = null;
      });
    }
    return stopping;
  }

  return {
    start,
    shutdown,
    health(): SyslogHealth {
      const health: SyslogHealth = {
        status: bound ? 'up' : 'down',
        connections: sockets.size,
        pausedConnections: held.size,
        framesAccepted,
        framesRejected,
        connectionsRefused,
        ...(config.tls && { tlsHandshakeFailures }),
      };
      if (bound) {
        health.tcpAddr = formatAddr(bound.tcp.host, bound.tcp.port);
        health.udpAddr = formatAddr(bound.udp.host, bound.udp.port);
        if (bound.tls) health.tlsAddr = formatAddr(bound.tls.host, bound.tls.port);
      }
      return health;
    },
    addresses(): SyslogAddresses {
      if (!bound) throw new Error('syslog receiver is not listening');
      return { tcp: { ...bound.tcp }, udp: { ...bound.udp }, ...(bound.tls && { tls: { ...bound.tls } }) };
    },
  };
}
