import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { formatAddr } from '../config/units.ts';
import { ERR, PeriscopeError, errorBody } from '../errors.ts';
import { handshakeFailure } from '../server-tls.ts';
import { serverErrorLog } from './error-log.ts';
import type { InflightBytes } from './inflight-bytes.ts';
import { sameOrigin } from './origin.ts';
import { guardHandshakes } from './tls-handshakes.ts';

/** Content types whose bodies are handed to routes as raw Buffers (each route decodes its own). */
export const RAW_BODY_TYPES = ['application/json', 'application/x-ndjson', 'application/x-protobuf', 'application/protobuf'];

/**
 * Builds the Fastify instance shared by receivers and the API:
 *  - bodies up to `bodyLimit` bytes, counted AFTER decompression (a gzip bomb stops at the limit: 413);
 *  - `content-encoding: gzip|deflate` decoded in a preParsing stream; any other encoding: 415;
 *  - other content types: 415; every error in the `{ error: { code, message, details } }` shape;
 *  - a refused body the client is still sending is read to its end and discarded (lingerOnRefusal);
 *  - a request not received in `requestTimeoutMs` (a body trickled byte by byte): 408;
 *  - at most `maxConnections` connections: further ones are closed on accept;
 *  - request bodies held at once bounded by `inflight` (503 + Retry-After over it, inflight-bytes.ts);
 *  - a request whose Host is not one `allowHost` accepts: 403 (DNS rebinding, host-check.ts);
 *  - a request that changes something (any method but GET, HEAD, OPTIONS) sent by a page of another
 *    origin: 403 (refuseCrossOrigin);
 *  - a known path asked with a method it does not serve: 405 with `Allow` (RFC 9110 §15.5.6), not
 *    a 404 that reads as a wrong URL;
 *  - the error behind a 5xx logged, the same error at most once a minute (error-log.ts);
 *  - at close, requests in progress are answered (with `Connection: close`), idle connections closed;
 *  - with `tls`, https (the same bounds and answers), and a plain HTTP request answered 400 (tls-handshakes.ts);
 *    a TLS handshake that fails (a client without the certificate clientCaFile asks for, one that
 *    does not trust the collector's certificate) is reported to `onHandshakeFailed`.
 */
export function createHttpServer(options: {
  bodyLimit: number;
  logLevel?: string;
  allowHost?: (host: string | undefined) => boolean;
  /** Longest a client may take to send one request (408 after it); 0: no bound. */
  requestTimeoutMs?: number;
  /** Concurrent connections; further ones are closed on accept and reported to `onConnectionRefused`. */
  maxConnections?: number;
  onConnectionRefused?: () => void;
  /** Bounds the body bytes held at once over all requests. */
  inflight?: InflightBytes;
  /** Serve https with these (http.tls, server-tls.ts); a plain HTTP request gets 400 (tls-handshakes.ts). */
  tls?: TlsOptions;
  /**
   * A TLS handshake failed, with OpenSSL's reason and the client's address. Node closes such a
   * connection before any HTTP is read, so without this the collector saw nothing of a client
   * that cannot connect, while the client saw only an alert.
   */
  onHandshakeFailed?: (reason: string, peer: string) => void;
}): FastifyInstance {
  const requestTimeout = options.requestTimeoutMs ?? 300_000;
  // Given to Node's server at construction: set afterwards (as Fastify does with its own
  // `requestTimeout`) Node's server does not enforce it. Node checks the open requests this
  // often (default 30 s), so that a bound of a few seconds is not overrun by up to 30 s.
  // Fastify hands `http` to http.createServer only: with TLS they go in `https`, which
  // https.createServer takes as both TLS and HTTP server options.
  const serverOptions = { requestTimeout, connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor((requestTimeout || 120_000) / 4))) };
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    // The collector's own events at info and above (an exporter's backend answering again, its
    // circuit closing), but no line per request: at thousands of requests a second those would
    // be most of the log and a measurable share of the CPU.
    logger: { level: options.logLevel ?? 'info' },
    logController: new LogController({ disableRequestLogging: true }),
    // At close, only idle keep-alive connections are closed at once: requests in progress are
    // answered (collector.ts bounds how long they may take).
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    requestTimeout,
    ...(options.tls ? { https: { ...options.tls, ...serverOptions } } : { http: serverOptions }),
  }) as unknown as FastifyInstance;
  if (options.tls) guardHandshakes(app.server as unknown as HttpsServer);
  const onHandshakeFailed = options.onHandshakeFailed;
  if (options.tls && onHandshakeFailed) {
    app.server.on('tlsClientError', (err: unknown, socket: { remoteAddress?: string; remotePort?: number }) => {
      onHandshakeFailed(handshakeFailure(err), formatAddr(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0));
    });
  }

  if (options.maxConnections !== undefined) {
    // Node closes a connection over the bound as soon as it is accepted and emits 'drop'
    // (https://nodejs.org/api/net.html#servermaxconnections).
    app.server.maxConnections = options.maxConnections;
    app.server.on('drop', () => options.onConnectionRefused?.());
  }

  // A request in progress when the server starts closing is answered with `Connection: close`:
  // a keep-alive connection would stay open, idle, until the close cuts it at its deadline.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback style, not async: it runs for every reply, ingest included, and an async hook costs a
  // promise each time for a flag that is false until shutdown.
  // nosniff on every answer, as Grafana and Prometheus send it: API answers carry log text any
  // sender wrote, and a browser that sniffed a JSON or CSV answer as HTML would run its script.
  //
  // A WebSocket upgrade (the live tail) answered with a plain reply — refused by the Host, Origin
  // or http.auth check, an unknown path — is closed once answered: @fastify/websocket hands the
  // request to Fastify on a socket the HTTP server no longer tracks, and closes it itself only when
  // its own onRequest hook ran. Left open by a client, such a socket kept the collector from
  // stopping (server.close waits for it; closeAllConnections does not see it).
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    if (closing) reply.header('connection', 'close');
    if (request.headers.upgrade !== undefined) {
      const socket = request.raw.socket;
      reply.header('connection', 'close');
      reply.raw.once('finish', () => socket.end(() => socket.destroy()));
    }
    done(null, payload);
  });

  const allowHost = options.allowHost;
  if (allowHost) {
    app.addHook('onRequest', (request, _reply, done) => {
      const host = request.headers.host;
      if (allowHost(host)) return done();
      done(new PeriscopeError(ERR.FORBIDDEN_HOST, `Host ${String(host).slice(0, 100)} is not served: only localhost, IP addresses and the names of http.allowedHosts are, so that a site re-pointing its name at this address (DNS rebinding) cannot read or change anything here. Behind a reverse proxy, add its public name to http.allowedHosts`, 403));
    });
  }
  app.addHook('onRequest', refuseCrossOrigin);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(RAW_BODY_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const inflight = options.inflight;
  app.addHook('preParsing', async (request, reply, payload) => {
    const body = decodedBody(request, payload);
    const length = request.headers['content-length'];
    const declared = length === undefined ? undefined : Number(length);
    // Without Content-Length and Transfer-Encoding a request has no body (RFC 9112 §6.3): a GET.
    // One declared over bodyLimit gets Fastify's 413 before any of it is read.
    const hasBody = request.headers['transfer-encoding'] !== undefined || (declared ?? 0) > 0;
    if (!inflight || !hasBody || (declared ?? 0) > options.bodyLimit) return body;
    return inflight.admit(body, payload, Number.isSafeInteger(declared) ? declared : undefined, reply.raw);
  });

  /** The body as the route reads it: `payload` itself, or decoded by its content-encoding. */
  function decodedBody(request: FastifyRequest, payload: Readable): Readable {
    const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity') return payload;
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      throw new PeriscopeError(ERR.UNSUPPORTED_MEDIA_TYPE, `content-encoding "${encoding}" is not supported (use gzip, deflate or none)`, 415);
    }
    const decoder = encoding === 'gzip' ? createGunzip() : createInflate();
    const decoded = payload.pipe(decoder) as Readable & { receivedEncodedLength?: number };
    // Fastify checks `receivedEncodedLength` against bodyLimit for the wire bytes, and counts the
    // decoded bytes itself, so both the compressed and the inflated size are bounded.
    decoded.receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => {
      decoded.receivedEncodedLength! += chunk.length;
    });
    decoder.on('error', () => payload.destroy());
    return decoded;
  }

  const errorLog = serverErrorLog(app);
  app.addHook('onClose', (_instance, done) => {
    errorLog.flush(); // the counts of the last minute, before the stop line
    done();
  });
  app.setErrorHandler((error: FastifyError | PeriscopeError, request, reply) => {
    const e = httpErrorOf(error, request);
    // A refusal of the in-flight bound is counted and logged where it is decided.
    if (e.statusCode >= 500 && e.code !== ERR.OVERLOADED) errorLog.log(error);
    return sendHttpError(request, reply, e);
  });
  // Once listening, net.Server emits a failed accept (EMFILE, ENFILE: the open-file limit) as
  // 'error' on the server, and with no listener the process died of an uncaught exception.
  // libuv sheds such connections itself while it can (its EMFILE trick), so this is rare: logged,
  // the connection is lost as one the kernel's backlog had no room for.
  app.server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.syscall === 'accept') errorLog.log(err);
  });

  const routes = routeMethods(app);
  app.setNotFoundHandler((request, reply) => {
    lingerOnRefusal(request, reply);
    const path = request.url.split('?')[0];
    const allowed = routes.allowedFor(path);
    if (allowed.length > 0) {
      reply.code(405).header('allow', allowed.join(', ')).send(errorBody(ERR.METHOD_NOT_ALLOWED, `${path} accepts ${allowed.join(', ')}, not ${request.method}`));
      return;
    }
    reply.code(404).send(errorBody(ERR.NOT_FOUND, `no route ${request.method} ${path}`));
  });
  return app;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery: any page the operator visits may send a "simple" POST to the
 * collector — no body (a dead-letter replay, a notification retry), or a JSON text labelled
 * `application/x-www-form-urlencoded` (an alert, a silence) — without a CORS preflight. The
 * browser names the sending page in `Origin` on every such request; one that is not this host
 * (`Host` or, behind a proxy, `X-Forwarded-Host`) is refused before its body is read. Clients that
 * send no Origin (SDKs, Prometheus, curl) are not browsers and pass. Callback style: it runs for
 * every ingest request.
 */
function refuseCrossOrigin(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
  const origin = request.headers.origin;
  if (origin === undefined || SAFE_METHODS.has(request.method) || sameOrigin(origin, request.headers.host, request.headers['x-forwarded-host'])) {
    done();
    return;
  }
  done(new PeriscopeError(ERR.FORBIDDEN_ORIGIN, `${request.method} refused for Origin ${origin.slice(0, 100)}: it is not this collector's host, and a page of another site must not change anything here (behind a proxy, forward Host or X-Forwarded-Host)`, 403));
}

/** Records every route's path pattern and methods as routes are added (register before any route). */
function routeMethods(app: FastifyInstance): { allowedFor(path: string): string[] } {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    // Fastify's path syntax: `:name` is one segment, `*` the rest of the path.
    const source = route.url.split(/(:[A-Za-z0-9_]+|\*)/).map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('');
    routes.push({ pattern: new RegExp(`^${source}$`), methods: [route.method].flat() });
  });
  return {
    allowedFor(path) {
      const allowed = new Set<string>();
      for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m);
      return [...allowed].sort();
    },
  };
}

/**
 * A request Node's HTTP parser refused before Fastify saw it (a request line with raw non-ASCII
 * bytes, headers too large, a timeout), answered in the collector's error shape instead of
 * Fastify's default `{ error, message, statusCode }`; statuses as Fastify's default handler's.
 * https://nodejs.org/api/http.html#event-clienterror
 */
function answerClientError(err: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'the request was not received in time']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'request headers over the size limit']
    : [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message}); characters outside ASCII in the URL must be percent-encoded (É as %C3%89)`];
  const body = JSON.stringify(errorBody(ERR.BAD_QUERY, message));
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy(err);
}

/**
 * Any error of a request as the PeriscopeError it is answered with: its own, or Fastify's and
 * Node's (body over the limit, content type, undecodable gzip, schema validation) mapped to the
 * collector's codes. OTLP routes answer the same errors as a google.rpc.Status (otlp/route.ts).
 */
export function httpErrorOf(error: FastifyError | PeriscopeError, request: FastifyRequest): PeriscopeError {
  if (error instanceof PeriscopeError) return error;
  const status = error.statusCode ?? 500;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return new PeriscopeError(ERR.BODY_TOO_LARGE, `request body over the limit of ${request.routeOptions.bodyLimit} bytes (http.bodyLimit; counted as sent and after decompression)`, 413);
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    const type = String(request.headers['content-type'] ?? '').split(';')[0] || '(none)';
    return new PeriscopeError(ERR.UNSUPPORTED_MEDIA_TYPE, `unsupported content type ${type}: the collector reads application/json, application/x-ndjson, and application/x-protobuf on the OTLP endpoints`, 415);
  }
  if ((error as NodeJS.ErrnoException).code?.startsWith('Z_') || error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return new PeriscopeError(ERR.BAD_ENCODING, `request body could not be decoded: ${error.message}`, 400);
  }
  if (error.validation) return new PeriscopeError(ERR.BAD_QUERY, error.message, 400, error.validation);
  return new PeriscopeError(status >= 500 ? ERR.INTERNAL : ERR.BAD_QUERY, error.message, status);
}

/** Sends `e` as `{ error: { code, message, details } }`, with its Retry-After, lingering on a refused body. */
function sendHttpError(request: FastifyRequest, reply: FastifyReply, e: PeriscopeError): FastifyReply {
  lingerOnRefusal(request, reply);
  if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(0, Math.ceil(e.retryAfterSeconds))));
  return reply.code(e.statusCode).send(errorBody(e.code, e.message, e.details));
}

/** Bounds of the lingering read of a refused body (nginx: lingering_time 30s). */
const LINGER_MS = 10_000;
const LINGER_BYTES = 256 * 1024 * 1024;

/**
 * Lingering close, as nginx's `lingering_close`: when a request is refused before its body was
 * read (413 on Content-Length, 415, …), Fastify answers with `connection: close` and Node closes
 * the socket as soon as the answer is written. A client still uploading then gets a reset (EPIPE)
 * instead of the answer — most HTTP clients, fetch among them, report only the broken pipe.
 * Instead the rest of the body is read and discarded, so the client finishes sending and reads
 * the answer; the connection stays open for the next request. A client that sends for longer than
 * LINGER_MS, or more than LINGER_BYTES, after the refusal is cut off.
 */
export function lingerOnRefusal(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  if (raw.complete || raw.readableEnded) return;
  reply.removeHeader('connection');
  let discarded = 0;
  const cutOff = () => raw.socket?.destroy();
  const timer = setTimeout(cutOff, LINGER_MS).unref();
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) cutOff();
  });
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}
