// A fake Periscope collector for tests: node:http on 127.0.0.1, decodes gzip NDJSON from
// POST /api/v1/logs, and answers whatever the test scripted.

import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { LogRecord } from '../../src/record.ts';

export type Reply =
  | { status: 200; reject?: number[] } // 200, optionally partial: these indexes rejected
  | { status: number; retryAfter?: string; body?: unknown }
  | { hang: true }; // never answer (until the collector stops)

export interface ReceivedRequest {
  at: number;
  headers: IncomingHttpHeaders;
  records: LogRecord[];
  status: number | 'hang';
}

export type Responder = (records: LogRecord[], requestIndex: number) => Reply;

export class FakeCollector {
  readonly requests: ReceivedRequest[] = [];
  /** Records the collector answered 200 for and did not reject. */
  readonly accepted: LogRecord[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private script: Reply[] = [];
  responder: Responder = () => ({ status: 200 });
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next requests get these replies, in order; afterwards `responder` decides. */
  reply(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req.url ?? '', req.headers, Buffer.concat(chunks), res));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Stops listening and cuts every connection (the port stays remembered for start()). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(url: string, headers: IncomingHttpHeaders, raw: Buffer, res: ServerResponse): void {
    let records: LogRecord[] = [];
    try {
      const text = headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      records = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogRecord);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"accepted":0,"rejected":[]}');
      return;
    }
    const index = this.requests.length;
    const reply = url === '/api/v1/logs' ? (this.script.shift() ?? this.responder(records, index)) : { status: 404 };
    const entry: ReceivedRequest = { at: Date.now(), headers, records, status: 'hang' in reply ? 'hang' : reply.status };
    this.requests.push(entry);
    if ('hang' in reply) {
      this.hanging.add(res);
      return;
    }
    const extra: Record<string, string> = {};
    if ('retryAfter' in reply && reply.retryAfter !== undefined) extra['retry-after'] = reply.retryAfter;
    let body: unknown;
    if (reply.status === 200) {
      const rejectSet = new Set(('reject' in reply ? reply.reject : undefined) ?? []);
      records.forEach((r, i) => {
        if (!rejectSet.has(i)) this.accepted.push(r);
      });
      body = {
        accepted: records.length - rejectSet.size,
        rejected: [...rejectSet].map((i) => ({ index: i, code: 'invalid', message: 'rejected by test' })),
      };
    } else {
      body = 'body' in reply && reply.body !== undefined ? reply.body : { accepted: 0, rejected: [] };
    }
    res.writeHead(reply.status, { 'content-type': 'application/json', ...extra }).end(JSON.stringify(body));
  }
}

/** Polls `cond` every 20 ms until true; throws after `timeoutMs` with `what` in the message. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
