// HTTP API of the notification side (Fastify plugin function; register with
// `app.register(registerNotifyRoutes, { pipeline })` so its form parser stays encapsulated, or call
// it directly). Errors: { error: { code, message, details } } with PERISCOPE_ERR_ALERT_* codes.
//
//   POST   /api/v2/alerts                 Alertmanager API v2 postable alerts (Prometheus `alerting.alertmanagers`)
//   GET    /api/v1/silences[?state=]      list (pending | active | expired)
//   GET    /api/v1/silences/:id
//   POST   /api/v1/silences               create, or update with `id`
//   DELETE /api/v1/silences/:id           expire
//   POST   /api/v1/alerts/:id/ack         { by, comment? }  (:id = fingerprint)
//   GET    /ack/:token                    confirm page (HTML form)
//   POST   /ack/:token                    acknowledge (form or JSON)
//   GET    /api/v1/notifications[?status=pending|sent|failed|canceled&fingerprint=&limit=&before=]
//   POST   /api/v1/notifications/:id/retry
//   GET    /api/v1/incidents[?status=open|resolved&limit=]
//   GET    /api/v1/incidents/:id          with its timeline
//   GET    /api/v1/escalations            running/finished escalation chains
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NotifyAlert } from '../dispatch/alert.ts';
import { ACK_PAGE_HEADERS, confirmPage, donePage, errorPage } from '../ack/page.ts';
import { ALERT_ERR, AlertError, alertErrorBody } from '../errors.ts';
import { alertQueryParams, type RawQuery } from './query-params.ts';
import type { NotificationPipeline } from '../notify-pipeline.ts';
import type { SilenceState } from '../silence/silences.ts';
import { localeFromAcceptLanguage } from '../templates/messages.ts';
import { decimalParam } from '../decimal-param.ts';

export interface NotifyRouteDeps {
  pipeline: NotificationPipeline;
  /**
   * The state of a rule's alert the pipeline has not been given (pending: its `for` has not
   * passed; firing: its transition is still on its way to the pipeline, or held back while the
   * alert flaps), so acknowledging it says why it cannot be, instead of "not found".
   */
  ruleAlertState?: (fingerprint: string) => { state: string; flapping: boolean } | undefined;
}

type Params = Record<string, string>;

/**
 * Why a rule's alert the pipeline does not hold cannot be acknowledged, for the person who tried:
 * an open alert (firing, nodata, error) is there only once its transition reached the pipeline,
 * which a flapping alert's is not until it settles.
 */
const OPEN_RULE_STATES = new Set(['firing', 'nodata', 'error']);

function notAcknowledgeable(id: string, state: string, flapping: boolean): string {
  if (state === 'pending') return `alert ${id} is pending, not firing: nobody was notified of it yet, so there is nothing to acknowledge`;
  if (OPEN_RULE_STATES.has(state)) {
    if (flapping) {
      return `alert ${id} is ${state} but flapping: its notifications are held back until it stabilizes, so nobody was notified of it yet and there is nothing to acknowledge; silence it (POST /api/v1/silences) to keep it quiet meanwhile`;
    }
    return `alert ${id} is ${state} but its notification is still on its way to the notification side (delivery in progress): try again in a few seconds`;
  }
  return `alert ${id} is ${state}, not firing: there is nothing to acknowledge`;
}

/** The alert a link acknowledges, in the alerts API's shape (RFC 3339 times, no internal fields). */
function ackTargetView(a: NotifyAlert) {
  return {
    fingerprint: a.fingerprint,
    status: a.status,
    state: a.state,
    labels: a.labels,
    annotations: a.annotations,
    severity: a.severity,
    startsAt: new Date(a.startsAt).toISOString(),
    endsAt: a.status === 'resolved' && a.endsAt !== null ? new Date(a.endsAt).toISOString() : null,
  };
}

/** JSON bodies arrive as Buffers from the collector's server, as objects from a default Fastify. */
export function jsonBody(body: unknown): unknown {
  if (body === undefined || body === null) return undefined;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = body.toString();
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new AlertError(ALERT_ERR.BAD_BODY, `request body is not valid JSON: ${(err as Error).message}`, 400);
    }
  }
  return body;
}

function formOrJson(request: FastifyRequest): Record<string, unknown> {
  const type = String(request.headers['content-type'] ?? '');
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const raw = request.body;
    const text = Buffer.isBuffer(raw) || typeof raw === 'string' ? raw.toString() : '';
    return Object.fromEntries(new URLSearchParams(text));
  }
  const body = jsonBody(request.body);
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** A JSON body, or an Accept that names JSON and not HTML (a browser's names HTML). */
function wantsJson(request: FastifyRequest): boolean {
  if (String(request.headers['content-type'] ?? '').startsWith('application/json')) return true;
  const accept = String(request.headers.accept ?? '');
  return accept.includes('application/json') && !accept.includes('text/html');
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof AlertError) return reply.code(err.statusCode).send(alertErrorBody(err.code, err.message, err.details));
  throw err;
}

/** Runs a JSON handler, turning AlertErrors into the error body (the app's own handler sees the rest). */
function json<T>(fn: (request: FastifyRequest, reply: FastifyReply) => T) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      return await fn(request, reply);
    } catch (err) {
      return sendError(reply, err);
    }
  };
}

function limitOf(value: string | undefined, max = 1000): number {
  if (value === undefined || value === '') return 100;
  const n = decimalParam(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new AlertError(ALERT_ERR.BAD_QUERY, `limit: expected an integer 1–${max}`, 400, { key: 'limit' });
  return n;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], key: string): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new AlertError(ALERT_ERR.BAD_QUERY, `${key}: expected one of ${allowed.join(', ')}`, 400, { key });
  return value as T;
}

export async function registerNotifyRoutes(app: FastifyInstance, deps: NotifyRouteDeps): Promise<void> {
  const { pipeline } = deps;
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_req, body, done) => done(null, body));
  }

  app.post(
    '/api/v2/alerts',
    json((request, reply) => {
      const result = pipeline.postAlerts(jsonBody(request.body));
      if (result.errors.length > 0) {
        const message = `${result.errors.length} invalid alert(s): ${result.errors.map((e) => `[${e.index}] ${e.reason}`).join('; ')}`;
        return reply.code(400).send(alertErrorBody(ALERT_ERR.BAD_ALERT, message, result));
      }
      return reply.code(200).send({ accepted: result.accepted });
    }),
  );

  app.get(
    '/api/v1/silences',
    json((request) => {
      const state = oneOf<SilenceState>(alertQueryParams(request.query as RawQuery, ['state']).state, ['pending', 'active', 'expired'], 'state');
      return { silences: pipeline.silences.list(state) };
    }),
  );
  app.get(
    '/api/v1/silences/:id',
    json((request) => pipeline.silences.get((request.params as Params).id)),
  );
  app.post(
    '/api/v1/silences',
    json((request) => {
      const silence = pipeline.silences.upsert(jsonBody(request.body));
      return { silenceID: silence.id, silence };
    }),
  );
  app.delete(
    '/api/v1/silences/:id',
    json((request) => ({ silence: pipeline.silences.expire((request.params as Params).id) })),
  );

  app.post(
    '/api/v1/alerts/:id/ack',
    json((request) => {
      const body = jsonBody(request.body);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AlertError(ALERT_ERR.ACK_INVALID, 'expected a JSON object { by, comment? }', 400);
      const id = (request.params as Params).id;
      try {
        return { ack: pipeline.ack(id, body as { by?: unknown; comment?: unknown }, 'api') };
      } catch (err) {
        // Not found, or still as the pipeline last had it (a resolved episode): the rule may know
        // better, and the person acknowledging should learn what it says.
        const unknownHere = err instanceof AlertError && (err.code === ALERT_ERR.ALERT_NOT_FOUND || err.code === ALERT_ERR.ALERT_NOT_ACTIVE);
        const rule = unknownHere ? deps.ruleAlertState?.(id) : undefined;
        if (rule === undefined || ((err as AlertError).code === ALERT_ERR.ALERT_NOT_ACTIVE && !OPEN_RULE_STATES.has(rule.state))) throw err;
        throw new AlertError(ALERT_ERR.ALERT_NOT_ACTIVE, notAcknowledgeable(id, rule.state, rule.flapping), 409, { fingerprint: id, state: rule.state, flapping: rule.flapping });
      }
    }),
  );

  const ackPage = async (request: FastifyRequest, reply: FastifyReply, post: boolean) => {
    const locale = localeFromAcceptLanguage(request.headers['accept-language']);
    // A wildcard, not `:token`: Fastify caps parametric segments at maxParamLength (100) by default.
    const token = (request.params as Params)['*'];
    if (wantsJson(request)) {
      // A script or chat bot following the link: the API's answers ({ ack } or the error body).
      reply.header('cache-control', 'no-store');
      try {
        if (!post) return { alert: ackTargetView(pipeline.verifyAckToken(token).alert) };
        return { ack: pipeline.ackWithToken(token, formOrJson(request)) };
      } catch (err) {
        return sendError(reply, err);
      }
    }
    reply.headers(ACK_PAGE_HEADERS);
    try {
      if (!post) return reply.code(200).send(confirmPage(pipeline.verifyAckToken(token).alert, locale));
      const ack = pipeline.ackWithToken(token, formOrJson(request));
      return reply.code(200).send(donePage(ack.by, locale));
    } catch (err) {
      if (!(err instanceof AlertError)) throw err;
      // A link opened while the pipeline restarts (a reload) is valid: saying otherwise made the
      // on-call give up on acknowledging while the chain went on paging.
      const kind =
        err.code === ALERT_ERR.ACK_TOKEN_EXPIRED ? 'expired' : err.code === ALERT_ERR.ALERT_NOT_ACTIVE ? 'notActive' : err.code === ALERT_ERR.PIPELINE_STOPPED ? 'unavailable' : 'invalid';
      const detail = err.code === ALERT_ERR.ACK_INVALID ? err.message : undefined;
      return reply.code(err.statusCode).send(errorPage(kind, locale, detail));
    }
  };
  app.get('/ack/*', (request, reply) => ackPage(request, reply, false));
  app.post('/ack/*', (request, reply) => ackPage(request, reply, true));

  app.get(
    '/api/v1/notifications',
    json((request) => {
      const q = alertQueryParams(request.query as RawQuery, ['status', 'fingerprint', 'limit', 'before']);
      const status = oneOf(q.status, ['pending', 'sent', 'failed', 'canceled'] as const, 'status');
      const limit = limitOf(q.limit);
      const before = q.before === undefined || q.before === '' ? undefined : Number(q.before);
      if (before !== undefined && (!Number.isInteger(before) || before < 1)) throw new AlertError(ALERT_ERR.BAD_QUERY, 'before: expected a notification id (positive integer), the nextBefore of the previous page', 400, { key: 'before' });
      // Newest first; a full page names the id to continue before, so every row can be reached
      // (the failed ones of a long outage are more than one page).
      const notifications = pipeline.notifications({ status, fingerprint: q.fingerprint || undefined, limit, before });
      return { notifications, nextBefore: notifications.length === limit ? notifications[notifications.length - 1].id : null };
    }),
  );
  app.post(
    '/api/v1/notifications/:id/retry',
    json((request) => {
      const id = Number((request.params as Params).id);
      const before = Number.isInteger(id) ? pipeline.notification(id) : undefined;
      if (!before) throw new AlertError(ALERT_ERR.NOTIFICATION_NOT_FOUND, `notification ${(request.params as Params).id} not found`, 404);
      // Only a notification that finally failed is sent again: a sent one would be a duplicate,
      // a pending one is being retried already.
      if (before.status !== 'failed') throw new AlertError(ALERT_ERR.NOTIFICATION_NOT_FAILED, `notification ${id} is ${before.status}, not failed: nothing to retry`, 409, { status: before.status });
      return { notification: pipeline.retryNotification(id) };
    }),
  );

  app.get(
    '/api/v1/incidents',
    json((request) => {
      const q = alertQueryParams(request.query as RawQuery, ['status', 'limit', 'before']);
      const status = oneOf(q.status, ['open', 'resolved'] as const, 'status');
      const limit = limitOf(q.limit);
      const before = q.before || undefined;
      // An incident deleted meanwhile (resolved longer ago than the timeline is kept) cannot say
      // where the next page starts: said, rather than an empty page that reads as "no more".
      if (before !== undefined && !pipeline.incident(before)) throw new AlertError(ALERT_ERR.BAD_QUERY, `before: no incident ${before}; expected the nextBefore of the previous page`, 400, { key: 'before' });
      // Newest first; a full page names the incident to continue before.
      const incidents = pipeline.incidents({ status, limit, before });
      return { incidents, nextBefore: incidents.length === limit ? incidents[incidents.length - 1].id : null };
    }),
  );
  app.get(
    '/api/v1/incidents/:id',
    json((request) => {
      const inc = pipeline.incident((request.params as Params).id);
      if (!inc) throw new AlertError(ALERT_ERR.INCIDENT_NOT_FOUND, `incident ${(request.params as Params).id} not found`, 404);
      return inc;
    }),
  );
  app.get(
    '/api/v1/escalations',
    json(() => ({ escalations: pipeline.escalations() })),
  );
}
