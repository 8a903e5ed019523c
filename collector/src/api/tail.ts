import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { ERR, PeriscopeError, errorBody } from '../errors.ts';
import { sameOrigin } from '../http/origin.ts';
import type { IngestedBatch, Ingest } from '../ingest/ingest.ts';
import { matchesFilter, parseLogFilter, type LogFilter } from '../store/log-filter.ts';

/**
 * Live tail: GET /api/v1/logs/tail (WebSocket, RFC 6455). Query parameters are the search
 * filters (log-filter.ts); `limit` and `cursor` are ignored. Protocol (docs/console.md):
 *
 *   server → client  { type: 'ready', maxBufferedBytes }            subscribed; records follow
 *                    { type: 'records', records: LogRecord[] }       one message per ingest batch (matching records only)
 *                    { type: 'dropped', count, total, reasons: { paused, slow, too_large } }
 *                    { type: 'state', paused }                       acknowledges pause/resume
 *                    { type: 'error', error: { code, message, details } }
 *   client → server  { type: 'pause' } | { type: 'resume' }
 *
 * Memory contract: what the collector holds for one client is bounded by `maxBufferedBytes`
 * (the socket's `bufferedAmount`: bytes written but not yet taken by the kernel). Records that
 * would go over it are dropped, never queued, and reported to the client in a `dropped`
 * message and in periscope_tail_dropped_records_total{reason="slow"}. A record that could not fit
 * under the bound even with nothing in flight (its JSON alone is about the bound) is dropped with
 * reason "too_large": the client is not slow, and waiting would not help. While paused, records
 * are dropped with reason "paused". A bad filter is answered in-band with `error` and close 1008.
 */

export interface TailOptions {
  /** Bytes one client may have in flight (socket bufferedAmount). Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Concurrent tail connections; more are closed with 1013 (try again later). Default 64. */
  maxClients?: number;
  /** Period of coalesced `dropped` notices. Default 250 ms. */
  noticeIntervalMs?: number;
  /** Ping period; a client that has not answered the previous ping is terminated. Default 30 s. */
  heartbeatMs?: number;
  /** On shutdown, a client that has not completed the close handshake by then is cut. Default 1 s. */
  closeGraceMs?: number;
}

/** The part of a `ws` WebSocket a session uses (a fake in unit tests). */
export interface TailSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

const OPEN = 1;
/** Room kept below the bound for `dropped`/`state` notices, so they get through when records do not. */
const CONTROL_RESERVE = 1024;
const RECORDS_HEAD = '{"type":"records","records":[';
const RECORDS_TAIL = ']}';

export type DropReason = 'paused' | 'slow' | 'too_large';

/**
 * JSON of each record of one batch (the stored body) and its size, measured at most once however
 * many clients tail it; and what each filter selects from it, worked out once for every client with
 * that filter and bound (clients that ask for the same records get the very same frame string).
 * With 64 clients each matching and framing a batch on its own, fan-out grew as batch size ×
 * clients on the ingest thread and held the POSTs back.
 */
export class SerializedBatch {
  readonly batch: IngestedBatch;
  readonly #bytes: number[];
  readonly #selections = new Map<string, Selection>();
  /** Work done for this batch (tests check it is shared): filter passes over it, frames built. */
  readonly work = { filterPasses: 0, frames: 0 };
  constructor(batch: IngestedBatch) {
    this.batch = batch;
    this.#bytes = new Array(batch.logs.length);
  }
  json(i: number): string {
    return this.batch.logs.bodies[i];
  }
  bytes(i: number): number {
    return (this.#bytes[i] ??= Buffer.byteLength(this.json(i)));
  }
  /** The records `filter` matches, for clients whose records frames may take `most` bytes. `key` names the filter (filterKey). */
  select(filter: LogFilter, key: string, most: number): Selection {
    const id = `${most}\n${key}`;
    let selection = this.#selections.get(id);
    if (selection === undefined) {
      selection = new Selection(this, filter, most);
      this.#selections.set(id, selection);
    }
    return selection;
  }
}

/** The same filter, the same records: the key sessions are grouped by. */
function filterKey(filter: LogFilter): string {
  return JSON.stringify(filter);
}

const matchesAll = (filter: LogFilter): boolean =>
  filter.service === undefined && filter.maxSeverity === undefined && filter.startMicros === undefined && filter.endMicros === undefined &&
  filter.traceId === undefined && filter.q === undefined && filter.sd.length === 0 && filter.attrs.length === 0;

/**
 * One filter's records of one batch. What a client is sent is the longest run of the sendable
 * records (in order, those under the bound on their own) that fits in its room: the same room,
 * the same frame, built once.
 */
export class Selection {
  readonly #batch: SerializedBatch;
  readonly #most: number;
  /** Indices of the matching records, in commit order. */
  readonly matched: number[];
  #tooLarge = 0;
  /** Matched records that fit under the bound alone, and the bytes of the first k+1 of them (with a comma each). */
  #sendable: number[] | undefined;
  #ends: number[] = [];
  readonly #frames = new Map<number, string>();

  constructor(batch: SerializedBatch, filter: LogFilter, most: number) {
    this.#batch = batch;
    this.#most = most;
    const n = batch.batch.logs.length;
    batch.work.filterPasses++;
    if (matchesAll(filter)) {
      // Needs no record objects: parsing every body only to match everything is skipped.
      this.matched = Array.from({ length: n }, (_, i) => i);
    } else {
      const { records, micros } = batch.batch.logs;
      this.matched = [];
      for (let i = 0; i < n; i++) if (matchesFilter(filter, records[i], micros[i])) this.matched.push(i);
    }
  }

  /** Matched records that can never be sent under the bound (measured on first use: paused clients need only the count). */
  get tooLarge(): number {
    this.#layout();
    return this.#tooLarge;
  }
  get sendable(): number {
    return this.#layout().length;
  }

  /** How many of the sendable records fit in `room` bytes, in order. */
  fit(room: number): number {
    this.#layout();
    const ends = this.#ends;
    let lo = 0;
    let hi = ends.length; // answer in [lo, hi]
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (ends[mid - 1] <= room) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The `records` message of the first `k` sendable records. */
  frame(k: number): string {
    let text = this.#frames.get(k);
    if (text === undefined) {
      const sendable = this.#layout();
      const parts = new Array<string>(k);
      for (let j = 0; j < k; j++) parts[j] = this.#batch.json(sendable[j]);
      text = RECORDS_HEAD + parts.join(',') + RECORDS_TAIL;
      this.#frames.set(k, text);
      this.#batch.work.frames++;
    }
    return text;
  }

  #layout(): number[] {
    if (this.#sendable !== undefined) return this.#sendable;
    const sendable: number[] = [];
    let total = 0;
    for (const i of this.matched) {
      const size = this.#batch.bytes(i) + 1; // + comma
      if (size > this.#most) this.#tooLarge++; // never fits, however fast the client reads
      else {
        sendable.push(i);
        total += size;
        this.#ends.push(total);
      }
    }
    this.#sendable = sendable;
    return sendable;
  }
}

/** One tail connection: its filter, pause state and drop accounting. */
export class TailSession {
  readonly socket: TailSocket;
  readonly filter: LogFilter;
  readonly #filterKey: string;
  readonly #maxBytes: number;
  readonly #onDrop: (reason: DropReason, n: number) => void;
  readonly #onSent: (n: number) => void;
  paused = false;
  /** Dropped and not yet reported to the client, by reason. */
  readonly pending = { paused: 0, slow: 0, too_large: 0 };
  totalDropped = 0;

  constructor(
    socket: TailSocket,
    filter: LogFilter,
    maxBytes: number,
    hooks: { onDrop?: (reason: DropReason, n: number) => void; onSent?: (n: number) => void } = {},
  ) {
    this.socket = socket;
    this.filter = filter;
    this.#filterKey = filterKey(filter);
    this.#maxBytes = maxBytes;
    this.#onDrop = hooks.onDrop ?? (() => {});
    this.#onSent = hooks.onSent ?? (() => {});
  }

  /** Sends the batch's matching records that fit under the bound; drops and counts the rest. */
  offer(batch: SerializedBatch): void {
    if (this.socket.readyState !== OPEN) return;
    const most = this.#maxBytes - CONTROL_RESERVE - RECORDS_HEAD.length - RECORDS_TAIL.length;
    const selection = batch.select(this.filter, this.#filterKey, most);
    if (selection.matched.length === 0) return;
    if (this.paused) {
      this.#drop('paused', selection.matched.length);
      return;
    }
    // A pending drop notice goes first, so the client sees the gap where it happened.
    this.flushNotice();
    // The first records that fit are sent; after the first that does not, the rest are dropped
    // (a gap, then later batches may fit again), so the order is kept.
    const sent = selection.fit(most - this.socket.bufferedAmount);
    if (sent > 0) {
      this.socket.send(selection.frame(sent));
      this.#onSent(sent);
    }
    const tooLarge = selection.tooLarge;
    const slow = selection.sendable - sent;
    if (tooLarge > 0) this.#drop('too_large', tooLarge);
    if (slow > 0) this.#drop('slow', slow);
  }

  pause(paused: boolean): void {
    this.paused = paused;
    this.control({ type: 'state', paused });
  }

  /** Sends the coalesced `dropped` notice when there is room; otherwise it stays pending. */
  flushNotice(): void {
    const count = this.pending.paused + this.pending.slow + this.pending.too_large;
    if (count === 0) return;
    if (this.control({ type: 'dropped', count, total: this.totalDropped, reasons: { ...this.pending } })) {
      this.pending.paused = 0;
      this.pending.slow = 0;
      this.pending.too_large = 0;
    }
  }

  /** Small messages may use the reserve; never beyond the bound. */
  control(message: object): boolean {
    if (this.socket.readyState !== OPEN) return false;
    const text = JSON.stringify(message);
    if (this.socket.bufferedAmount + Buffer.byteLength(text) > this.#maxBytes) return false;
    this.socket.send(text);
    return true;
  }

  #drop(reason: DropReason, n: number): void {
    this.pending[reason] += n;
    this.totalDropped += n;
    this.#onDrop(reason, n);
  }
}

export interface TailHub {
  readonly sessions: ReadonlySet<TailSession>;
  /** Closes every tail connection with 1001 (going away) and stops listening to ingest. Safe twice. */
  close(): void;
}

/**
 * Registers the WebSocket plugin (once per server) and the tail route. Connections are closed
 * with 1001 before Fastify closes the server, so clients see a clean close on shutdown.
 */
export async function registerTailRoute(app: FastifyInstance, ingest: Ingest, registry: Registry, options: TailOptions = {}): Promise<TailHub> {
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const maxClients = options.maxClients ?? 64;
  const sessions = new Set<TailSession>();
  const alive = new WeakMap<TailSession, boolean>();

  const clients = new Gauge({ name: 'periscope_tail_clients', help: 'Open live-tail connections.', registers: [registry] });
  const dropped = new Counter({
    name: 'periscope_tail_dropped_records_total',
    help: 'Records not delivered to a live-tail client, by reason (paused: client paused; slow: over the per-client buffer bound; too_large: a record over the bound on its own).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const sent = new Counter({ name: 'periscope_tail_sent_records_total', help: 'Records sent to live-tail clients.', registers: [registry] });
  new Gauge({
    name: 'periscope_tail_buffered_bytes',
    help: 'Bytes written to live-tail sockets and not yet taken by the kernel, over all clients.',
    registers: [registry],
    collect() {
      let sum = 0;
      for (const s of sessions) sum += s.socket.bufferedAmount;
      this.set(sum);
    },
  });

  // Fan-out runs after the current I/O callbacks, so the receiver's acknowledgement is not
  // delayed by serializing for tail clients. At most the batches of one loop turn wait.
  const unsubscribe = ingest.subscribe((batch) => {
    if (sessions.size === 0) return;
    setImmediate(() => {
      const serialized = new SerializedBatch(batch);
      for (const session of sessions) session.offer(serialized);
    });
  });
  const noticeTimer = setInterval(() => {
    for (const session of sessions) session.flushNotice();
  }, options.noticeIntervalMs ?? 250);
  noticeTimer.unref();

  const sockets = new Map<TailSession, WebSocket>();
  const heartbeat = setInterval(() => {
    for (const [session, socket] of sockets) {
      if (alive.get(session) === false) {
        socket.terminate();
        continue;
      }
      alive.set(session, false);
      socket.ping();
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  let closed = false;
  const hub: TailHub = {
    sessions,
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(noticeTimer);
      clearInterval(heartbeat);
      for (const [session, socket] of sockets) {
        session.flushNotice();
        socket.close(1001, 'collector shutting down');
        // A client that is not reading would hold the server open until ws's 30 s close timeout.
        setTimeout(() => socket.readyState !== socket.CLOSED && socket.terminate(), options.closeGraceMs ?? 1000).unref();
      }
    },
  };
  // Registered before the plugin so it runs before the plugin's own preClose (which closes
  // sockets without a code).
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });
  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, {
      options: { maxPayload: 4096 },
      // A client's protocol error (a message over maxPayload: ws closes with 1009) is the
      // client's, not the collector's: one warn line, no stack (the plugin's default logs an error).
      errorHandler: (error, socket, request) => {
        request.log.warn({ err: error.message, client: request.ip }, 'live tail client closed for a protocol error');
        socket.terminate();
      },
    });
  }

  app.route({
    method: 'GET',
    url: '/api/v1/logs/tail',
    // Browsers let any page open a WebSocket to any host and send its Origin: without this check
    // a site the operator visits could read the live tail (cross-site WebSocket hijacking). Runs
    // before the upgrade; clients that send no Origin (ws, curl) are not browsers and pass.
    preValidation: async (request, reply) => {
      const origin = request.headers.origin;
      if (origin === undefined || sameOrigin(origin, request.headers.host, request.headers['x-forwarded-host'])) return;
      reply.code(403);
      return reply.send(errorBody(ERR.FORBIDDEN_ORIGIN, `live tail refused for Origin ${origin.slice(0, 100)}: it is not this collector's host (behind a proxy, forward Host or X-Forwarded-Host)`));
    },
    handler: async (_request, reply) => {
      reply.code(426).header('upgrade', 'websocket');
      return errorBody(ERR.BAD_QUERY, 'GET /api/v1/logs/tail is a WebSocket endpoint (send Upgrade: websocket)');
    },
    wsHandler: (socket, request) => tailConnection(socket, request.query as Record<string, string>),
  });

  function tailConnection(socket: WebSocket, query: Record<string, string>): void {
    let filter: LogFilter;
    try {
      filter = parseLogFilter(query, ['limit', 'cursor']); // accepted and ignored (docs/console.md)
    } catch (err) {
      const e = err instanceof PeriscopeError ? err : new PeriscopeError(ERR.BAD_QUERY, String(err));
      socket.send(JSON.stringify({ type: 'error', ...errorBody(e.code, e.message, e.details) }));
      socket.close(1008, e.code);
      return;
    }
    if (closed) {
      socket.close(1001, 'collector shutting down');
      return;
    }
    if (sessions.size >= maxClients) {
      socket.send(JSON.stringify({ type: 'error', ...errorBody(ERR.OVERLOADED, `too many live-tail clients (max ${maxClients})`) }));
      socket.close(1013, ERR.OVERLOADED);
      return;
    }
    const session = new TailSession(socket, filter, maxBufferedBytes, {
      onDrop: (reason, n) => dropped.inc({ reason }, n),
      onSent: (n) => sent.inc(n),
    });
    sessions.add(session);
    sockets.set(session, socket);
    clients.inc();
    socket.on('pong', () => alive.set(session, true));
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      let type: unknown;
      try {
        type = isBinary ? undefined : (JSON.parse(data.toString('utf8')) as { type?: unknown })?.type;
      } catch {
        type = undefined;
      }
      if (type === 'pause' || type === 'resume') session.pause(type === 'pause');
      else session.control({ type: 'error', ...errorBody(ERR.BAD_QUERY, 'expected {"type":"pause"} or {"type":"resume"}') });
    });
    socket.on('close', () => {
      if (sessions.delete(session)) clients.dec();
      sockets.delete(session);
    });
    session.control({ type: 'ready', maxBufferedBytes });
  }

  return hub;
}
