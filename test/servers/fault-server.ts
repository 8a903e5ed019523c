// An HTTP server on a loopback port with switchable faults, the base of the backend test servers
// (loki.ts, elasticsearch.ts): tests make the backend go down, answer slowly, or fail with a
// status, then come back, on the same port.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type Fault =
  /** Normal operation. */
  | { mode: 'none' }
  /** Not listening: connections are refused (the port stays reserved for `up`). */
  | { mode: 'down' }
  /** Accepts the connection, then resets it without an answer. */
  | { mode: 'reset' }
  /** Answers every request (or the next `times`) with `status`, storing nothing. */
  | { mode: 'status'; status: number; body?: string; retryAfter?: string; times?: number };

export interface FaultServerOptions {
  port?: number;
  /** Delay before each request is handled (a slow backend). */
  delayMs?: number;
  /** Delay between handling a request (data stored) and sending its answer. */
  responseDelayMs?: number;
  /** Largest accepted body (bytes, after decompression); larger: 413. */
  maxBodyBytes?: number;
  /** https with this key and certificate (PEM); with `clientCa`, a client certificate from that CA is required (mutual TLS). */
  tls?: ServerTls;
}

export interface ServerTls {
  key: Buffer | string;
  cert: Buffer | string;
  clientCa?: Buffer | string;
}

export type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>;

export class FaultServer {
  readonly #handler: Handler;
  readonly #options: FaultServerOptions;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #fault: Fault = { mode: 'none' };
  port = 0;
  delayMs: number;
  responseDelayMs: number;
  /** Answers held back by responseDelayMs right now (their data is already stored). */
  heldAnswers = 0;
  /** Ends the answers held back now, before their delay (releaseHeld). */
  readonly #held = new Set<() => void>();
  /** Every request that reached the handler or a fault, in order. */
  readonly log: Array<{ method: string; url: string; status: number; headers: IncomingMessage['headers']; at: number }> = [];

  constructor(handler: Handler, options: FaultServerOptions = {}) {
    this.#handler = handler;
    this.#options = options;
    this.delayMs = options.delayMs ?? 0;
    this.responseDelayMs = options.responseDelayMs ?? 0;
  }

  get url(): string {
    return `${this.#options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Sends the answers held back by responseDelayMs now: a test decides when, not a delay. */
  releaseHeld(): void {
    for (const answer of [...this.#held]) answer();
  }

  get fault(): Fault {
    return this.#fault;
  }

  async listen(): Promise<this> {
    const tls = this.#options.tls;
    const serve = (req: IncomingMessage, res: ServerResponse) => void this.#serve(req, res);
    const server: Server = tls
      ? createHttpsServer({ key: tls.key, cert: tls.cert, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, serve)
      : createServer(serve);
    server.keepAliveTimeout = 5000;
    server.on('connection', (socket) => {
      if (this.#fault.mode === 'reset') {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    const port = this.port || this.#options.port || 0;
    // Back up after `down` on the same port: while it was free, another process's outgoing
    // connection may have taken it as its local port (a full parallel run did: EADDRINUSE). It is
    // ours again once that connection closes.
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0 || attempt >= 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Switches the fault; `down` stops listening, leaving `down` listens again on the same port. */
  async setFault(fault: Fault): Promise<void> {
    const wasDown = this.#fault.mode === 'down';
    this.#fault = fault;
    if (fault.mode === 'down' && !wasDown) await this.#stop();
    if (fault.mode !== 'down' && wasDown) await this.listen();
  }

  async #stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.#stop();
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    const limit = this.#options.maxBodyBytes ?? 64 * 1024 * 1024;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size <= limit) chunks.push(chunk as Buffer);
      }
    } catch {
      return;
    }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const record = (status: number) => this.log.push({ method: req.method ?? '', url: req.url ?? '', status, headers: req.headers, at: Date.now() });
    const fault = this.#fault;
    if (fault.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault.mode === 'status') {
      if (fault.times !== undefined) {
        fault.times--;
        if (fault.times <= 0) this.#fault = { mode: 'none' };
      }
      record(fault.status);
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      res.writeHead(fault.status, headers).end(fault.body ?? `injected fault: HTTP ${fault.status}`);
      return;
    }
    let body = Buffer.concat(chunks);
    if (size > limit) {
      record(413);
      res.writeHead(413, { 'content-type': 'text/plain' }).end(`request body too large: ${size} bytes, limit: ${limit} bytes`);
      return;
    }
    if (String(req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
      try {
        body = gunzipSync(body, { maxOutputLength: limit });
      } catch (err) {
        record(400);
        res.writeHead(400).end(`gzip: ${(err as Error).message}`);
        return;
      }
    }
    const end = res.end.bind(res);
    res.end = ((...args: Parameters<typeof res.end>) => {
      record(res.statusCode);
      const delay = this.responseDelayMs;
      if (delay <= 0) return end(...args);
      this.heldAnswers++;
      const answer = () => {
        clearTimeout(timer);
        if (!this.#held.delete(answer)) return;
        this.heldAnswers--;
        end(...args);
      };
      const timer = setTimeout(answer, delay);
      this.#held.add(answer);
      return res;
    }) as typeof res.end;
    try {
      await this.#handler(req, body, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`test server error: ${(err as Error).stack}`);
    }
  }
}

/** Checks Basic or Bearer/ApiKey credentials; returns true when allowed (or no auth configured). */
export function authorized(
  req: IncomingMessage,
  auth: { basic?: { username: string; password: string }; bearerToken?: string; apiKey?: string } | undefined,
): boolean {
  if (!auth) return true;
  const header = String(req.headers.authorization ?? '');
  if (auth.basic) return header === `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}`;
  if (auth.bearerToken) return header === `Bearer ${auth.bearerToken}`;
  if (auth.apiKey) return header === `ApiKey ${auth.apiKey}`;
  return true;
}
