// Real local backends for notifier tests: an HTTP server standing in for Slack, the SMS API and
// webhook receivers (scripted statuses, Retry-After), and a real SMTP server (npm smtp-server).
// Loopback only; every test closes what it starts.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface HttpBehavior {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RecordedRequest {
  at: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpBackend {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Default answer. */
  respond(behavior: HttpBehavior): void;
  /** Answers for the next requests, in order, before the default. */
  script(behaviors: HttpBehavior[]): void;
  received(): number;
  /** Resolves when `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpBackend(): Promise<HttpBackend> {
  let fallback: HttpBehavior = { status: 200, body: 'ok' };
  const queue: HttpBehavior[] = [];
  const requests: RecordedRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const b = queue.shift() ?? fallback;
      res.writeHead(b.status, { 'content-type': 'text/plain', ...(b.headers ?? {}) });
      res.end(b.body ?? '');
      for (const w of waiters.splice(0)) {
        if (requests.length >= w.n) w.resolve();
        else waiters.push(w);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    respond(b) {
      fallback = b;
    },
    script(list) {
      queue.push(...list);
    },
    received: () => requests.length,
    waitFor(n, timeoutMs = 15_000) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} requests (got ${requests.length})`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SmtpBehavior {
  /** SMTP reply code for DATA (250 accepts). */
  dataCode: number;
  message?: string;
  /** Reject AUTH with 535 and this message. */
  authFailMessage?: string;
  /** Refuse RCPT TO of these addresses with 550 (the others are accepted). */
  refuseRecipients?: string[];
}

export interface ReceivedMail {
  at: number;
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpBackend {
  port: number;
  mails: ReceivedMail[];
  respond(behavior: SmtpBehavior): void;
  received(): number;
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 (no TLS; AUTH PLAIN/LOGIN allowed in clear for the test), or with
 * `tls` SMTP over TLS from the first byte (port 465's way) with that key and certificate.
 */
export async function startSmtpBackend(credentials?: { user: string; pass: string }, tls?: { key: Buffer; cert: Buffer }): Promise<SmtpBackend> {
  let behavior: SmtpBehavior = { dataCode: 250 };
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: tls !== undefined,
    ...(tls ?? {}),
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: credentials === undefined,
    logger: false,
    onAuth(auth, _session, callback) {
      if (behavior.authFailMessage !== undefined || !credentials || auth.username !== credentials.user || auth.password !== credentials.pass) {
        const err = Object.assign(new Error(behavior.authFailMessage ?? 'Invalid username or password'), { responseCode: 535 });
        callback(err);
        return;
      }
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      if (behavior.refuseRecipients?.includes(address.address)) {
        callback(Object.assign(new Error(`5.1.1 <${address.address}>: mailbox unavailable`), { responseCode: 550 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (behavior.dataCode !== 250) {
          callback(Object.assign(new Error(behavior.message ?? 'rejected'), { responseCode: behavior.dataCode }));
          return;
        }
        mails.push({
          at: Date.now(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  // A client that refuses the certificate closes the socket during the handshake: the server emits
  // 'error' for it, which would otherwise be unhandled.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    respond(b) {
      behavior = b;
    },
    received: () => mails.length,
    async waitFor(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (mails.length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} mails (got ${mails.length})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
