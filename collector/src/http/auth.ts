import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDeepStrictEqual } from 'node:util';
import { Piscina } from 'piscina';
import { Counter, type Registry } from 'prom-client';
import { ERR, PeriscopeError } from '../errors.ts';
import type { Logger } from '../exporters/sink.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import { CredentialVerifier, type HttpAuthConfig, type Verdict } from './credentials.ts';
import { viaHealthListener } from './health-listener.ts';

/** The protection space named in WWW-Authenticate (RFC 9110 §11.5): a browser keeps one login per realm. */
export const REALM = 'periscope';

/**
 * What is served without credentials:
 *  - GET/HEAD /health and /health/ready: Kubernetes' probes (and docker-compose's healthcheck)
 *    send no credentials; they say "up" or "ready" and nothing else. /health/detailed (every
 *    component's figures and last errors) is not among them.
 *  - /ack/<token>: the acknowledgement links of Slack, email and SMS notifications carry a
 *    signed, expiring token (alerting's escalation) that is the credential for that one alert;
 *    an on-call opening the link on a phone has no collector password.
 *  - any request to the http.healthAddr listener, which serves only the probes and /metrics and
 *    is meant to be reachable by kubelet and Prometheus only (docs/deploy.md).
 */
function servedOpenly(request: FastifyRequest): boolean {
  if (viaHealthListener(request.raw)) return true;
  const path = request.url.split('?')[0];
  if (path.startsWith('/ack/')) return true;
  return (request.method === 'GET' || request.method === 'HEAD') && (path === '/health' || path === '/health/ready');
}

/**
 * Requires http.auth's credentials on every request of `app` but those servedOpenly: an onRequest
 * hook, so nothing of a refused request is read or run (a body is drained, not parsed). Refused:
 * 401 PERISCOPE_ERR_UNAUTHORIZED with `WWW-Authenticate: Basic realm="periscope"` when basic users
 * are configured, so that a browser asks for them (and sends them on the console's fetches and
 * its live-tail WebSocket), and a Bearer challenge when tokens are (RFC 6750 §3). The error goes
 * through the route's error handler: the OTLP routes answer it as a google.rpc.Status.
 * Each refusal is counted by reason (periscope_http_unauthorized_requests_total) and logged at
 * most once a minute per reason, with the client's address and the path, never the credentials.
 * bcrypt runs in one worker thread (bcrypt-worker.ts), started at the first check and stopped
 * after a minute without one: checks take turns, as Prometheus' take a mutex, and never hold up
 * the event loop; the other core stays with ingest.
 * Without any credential configured nothing is checked. `update` puts another http.auth in effect
 * (a reload: a token rotated, a user added, auth turned on or off) for the requests that follow;
 * it returns whether anything changed. Register before routes; close() at shutdown writes the
 * pending log summaries and stops the worker.
 */
export function installHttpAuth(
  app: FastifyInstance,
  config: HttpAuthConfig | undefined,
  deps: { registry: Registry; logger: Logger },
): { update(next: HttpAuthConfig | undefined): boolean; enabled(): boolean; close(): Promise<void> } {
  let bcryptPool: Piscina<{ password: string; hash: string }, boolean> | undefined;
  const compare = (password: string, hash: string) => {
    bcryptPool ??= new Piscina({ filename: new URL('./bcrypt-worker.ts', import.meta.url).href, minThreads: 0, maxThreads: 1, idleTimeout: 60_000 });
    return bcryptPool.run({ password, hash });
  };
  /** What is in effect: undefined when no credential is configured. */
  let current: { config: HttpAuthConfig; verifier: CredentialVerifier; challenges: string[] } | undefined;
  let applied: HttpAuthConfig | undefined;
  const apply = (next: HttpAuthConfig | undefined): boolean => {
    const effective = next && (Object.keys(next.basicUsers).length > 0 || next.bearerTokens.length > 0) ? next : undefined;
    if (isDeepStrictEqual(effective, applied)) return false;
    applied = effective;
    if (!effective) {
      current = undefined;
      return true;
    }
    const verifier = new CredentialVerifier(effective, { compare });
    const challenges = [...(verifier.acceptsBasic ? [`Basic realm="${REALM}", charset="UTF-8"`] : []), ...(verifier.acceptsBearer ? [`Bearer realm="${REALM}"`] : [])];
    current = { config: effective, verifier, challenges };
    return true;
  };
  apply(config);

  const refused = new Counter({
    name: 'periscope_http_unauthorized_requests_total',
    help: 'HTTP requests answered 401 because they carried no credentials (reason="missing") or credentials http.auth does not accept (reason="invalid").',
    labelNames: ['reason'],
    registers: [deps.registry],
  });
  for (const reason of ['missing', 'invalid']) refused.inc({ reason }, 0);
  const log = new RateLimitedLog(deps.logger);

  const refuse = (request: FastifyRequest, reply: FastifyReply, auth: NonNullable<typeof current>, verdict: Exclude<Verdict, { ok: true }>, done: (err?: Error) => void) => {
    if (verdict.reason === 'busy') {
      done(new PeriscopeError(ERR.OVERLOADED, 'too many password checks in progress; retry later', 503, undefined, 1));
      return;
    }
    refused.inc({ reason: verdict.reason });
    const path = request.url.split('?')[0].slice(0, 200);
    const scheme = request.headers.authorization?.split(' ')[0].slice(0, 20).toLowerCase();
    log.log({
      key: `unauthorized:${verdict.reason}`,
      level: 'warn',
      fields: { reason: verdict.reason, client: request.ip, method: request.method, path, ...(scheme && { scheme }) },
      msg: () => `HTTP request refused (401): ${verdict.reason === 'missing' ? 'no credentials' : 'credentials not accepted'} (http.auth)`,
    });
    reply.header('www-authenticate', auth.challenges);
    const { verifier, challenges } = auth;
    const message =
      verdict.reason === 'missing'
        ? `authentication required: send ${verifier.acceptsBasic ? 'HTTP basic credentials' : ''}${challenges.length > 1 ? ' or ' : ''}${verifier.acceptsBearer ? 'Authorization: Bearer <token>' : ''} (http.auth)`
        : 'the credentials sent are not accepted (http.auth)';
    done(new PeriscopeError(ERR.UNAUTHORIZED, message, 401));
  };

  // Callback style: it runs for every ingest request, and most verdicts are synchronous.
  app.addHook('onRequest', (request, reply, done) => {
    const auth = current;
    if (auth === undefined || servedOpenly(request)) return done();
    const verdict = auth.verifier.verify(request.headers.authorization);
    if (!(verdict instanceof Promise)) {
      if (verdict.ok) return done();
      return refuse(request, reply, auth, verdict, done);
    }
    verdict.then((v) => (v.ok ? done() : refuse(request, reply, auth, v, done)));
  });
  return {
    update: apply,
    enabled: () => current !== undefined,
    async close() {
      log.flush();
      await bcryptPool?.close({ force: true });
    },
  };
}
