// A real HTTP proxy for tests: the npm package `proxy` (TooTallNate's, CONNECT tunnels and
// forwarded requests, as Squid), listening on loopback. It records what went through it: the
// CONNECT targets (host:port) and the forwarded request URLs, each with the Proxy-Authorization
// it carried. With `credentials` it answers 407 to any other.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy } from 'proxy';

export interface ProxySeen {
  /** `127.0.0.1:3100` for a CONNECT, the absolute URL for a forwarded request. */
  target: string;
  proxyAuthorization: string | undefined;
}

export interface TestProxy {
  /** `http://127.0.0.1:<port>`, without credentials. */
  url: string;
  port: number;
  connects: ProxySeen[];
  requests: ProxySeen[];
  /** The CONNECT targets and forwarded URLs, in order. */
  targets(): string[];
  /**
   * Resolves once no client is connected: a tunnel closes when its target does. Before close(),
   * which would leave a tunnel's target connection open (the server on the other side then waits
   * for it to end).
   */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the proxy on `port` (0: a free one); `credentials` makes it require Basic auth. */
export async function startTestProxy(options: { port?: number; credentials?: { user: string; password: string } } = {}): Promise<TestProxy> {
  const connects: ProxySeen[] = [];
  const requests: ProxySeen[] = [];
  const server: Server = createServer();
  const proxy = createProxy(server);
  const expected = options.credentials && `Basic ${Buffer.from(`${options.credentials.user}:${options.credentials.password}`).toString('base64')}`;
  if (expected) proxy.authenticate = (req) => req.headers['proxy-authorization'] === expected;
  const seen = (req: IncomingMessage): ProxySeen => ({ target: req.url ?? '', proxyAuthorization: req.headers['proxy-authorization'] });
  // Tunnels are detached from the HTTP server: closeAllConnections would leave them open.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // After the package's own listeners: these only record.
  server.on('connect', (req: IncomingMessage) => connects.push(seen(req)));
  server.on('request', (req: IncomingMessage) => requests.push(seen(req)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    requests,
    targets: () => [...connects, ...requests].map((s) => s.target),
    idle: async () => {
      while (sockets.size > 0) await new Promise((resolve) => [...sockets][0].once('close', resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
