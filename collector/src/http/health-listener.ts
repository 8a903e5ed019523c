import type { FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { ERR, errorBody } from '../errors.ts';
import { guardHandshakes } from './tls-handshakes.ts';

/** What the health listener serves: the probes and the collector's own metrics, nothing else. */
const PATHS = new Set(['/health', '/health/ready', '/health/detailed', '/metrics']);

/** Requests received by a health listener: served without http.auth's credentials (auth.ts). */
const healthRequests = new WeakSet<IncomingMessage>();

export function viaHealthListener(req: IncomingMessage): boolean {
  return healthRequests.has(req);
}

/**
 * The listener of `http.healthAddr`: GET/HEAD of /health, /health/ready, /health/detailed and
 * /metrics, answered by the main app's own routes (`app.routing`, so the same hooks and answers),
 * on a server of its own that `http.maxConnections` does not count. At that bound the main
 * listener closes every new connection, kubelet's probes and Prometheus' scrapes included: a
 * busy collector was restarted for failing its liveness probe exactly when it was busiest, and
 * its metrics could not be read. The OpenTelemetry Collector's health_check extension listens on
 * a port of its own (13133) for the same reason.
 *
 * With `tls` (http.tls's certificate, without its clientCaFile) it serves https: what it serves
 * (/metrics, /health/detailed) is not sent in the clear when the operator asked for TLS, and
 * Kubernetes' probes (scheme: HTTPS, which does not verify) and Prometheus' scrapes (tls_config
 * ca_file) reach it without a client certificate, which kubelet cannot present.
 */
export function createHealthListener(app: FastifyInstance, tls?: TlsOptions): Server {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (PATHS.has(path) && (req.method === 'GET' || req.method === 'HEAD')) {
      healthRequests.add(req);
      app.routing(req, res);
      return;
    }
    const body = JSON.stringify(errorBody(ERR.NOT_FOUND, `the health listener (http.healthAddr) serves GET ${[...PATHS].join(', ')}; ${req.method} ${path} is on http.addr`));
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' });
    res.end(body);
  };
  if (!tls) return createServer(handler);
  const server = createHttpsServer(tls, handler);
  guardHandshakes(server);
  return server;
}

/**
 * Listens on host:port; rejects with listen()'s error (EADDRINUSE, …). Accept errors after it
 * listens (EMFILE at the open-file limit, which a full main listener brings near) are emitted on
 * the server: without a listener they crashed the process, as the syslog receiver's would.
 */
export function listenServer(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve();
    });
  });
}

/** Stops taking connections, closes idle ones, and cuts the rest after `drainMs`. */
export async function closeServer(server: Server, drainMs: number): Promise<void> {
  if (!server.listening) return;
  const timer = setTimeout(() => server.closeAllConnections(), drainMs);
  try {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  } finally {
    clearTimeout(timer);
  }
}
