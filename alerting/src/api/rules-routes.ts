import type { FastifyInstance, FastifyReply } from 'fastify';
import { ALERT_ERR, AlertError, alertErrorBody } from '../errors.ts';
import { alertQueryParams, type RawQuery } from './query-params.ts';
import { compileMatchers, matchesAll, parseMatcherList, type CompiledMatcher } from '../dispatch/matchers.ts';
import { historyEntryToTimeline, mergeTimeline, normalizeExternalEntry, parseHistoryQuery } from '../history/query.ts';
import type { AlertingEngine, AlertView } from '../rules/engine.ts';
import type { AckInfoProvider, AlertState, TimelineSource } from '../types.ts';

// Rules CRUD, active alerts, history and timelines (rules/README.md, "API"):
//   GET    /api/v1/alerts/rules            → 200 { rules: RuleStatus[] }
//   GET    /api/v1/alerts/rules/:id        → 200 { rule } | 404
//   POST   /api/v1/alerts/rules            → 201 { rule } | 400 RULE_INVALID (details.problems[].key) | 409 RULE_CONFLICT
//   PUT    /api/v1/alerts/rules/:id        → 200 { rule } | 400 | 404 | 409 RULE_READONLY (file rules)
//   DELETE /api/v1/alerts/rules/:id        → 204 | 404 | 409 RULE_READONLY
//   GET    /api/v1/alerts?state=&rule=&filter=&silenced=&inhibited=
//                                          → 200 { alerts: [...AlertView, silencedBy, inhibitedBy, ack] } (+ Alertmanager API alerts, source 'api', unless rule= is given)
//   GET    /api/v1/alerts/history?rule=&fingerprint=&state=&since=&until=&limit=&before=
//                                          → 200 { entries, nextBefore }
//   GET    /api/v1/alerts/:id/timeline     → 200 { fingerprint, alert, entries } | 404
// Errors: { error: { code, message, details } }. Request bodies may arrive parsed or as raw
// bytes (the collector's server hands JSON bodies to routes as Buffers).

export type RulesEngineApi = Pick<AlertingEngine, 'listRules' | 'getRule' | 'createRule' | 'replaceRule' | 'deleteRule' | 'alerts' | 'getAlert' | 'history'>;

export interface RuleRoutesDeps {
  engine: RulesEngineApi;
  /** Acknowledgement per fingerprint, from the notification side. */
  ackInfo?: AckInfoProvider;
  /** Notification events per fingerprint (sends, failures, acks, escalation), merged into timelines. */
  timelineSource?: TimelineSource;
  /**
   * Alerts this engine does not evaluate — those posted to POST /api/v2/alerts (e.g. by Prometheus) —
   * in the same view, so they are listed, acknowledged and traced like rule alerts.
   */
  externalAlerts?: () => ExternalAlertView[] | Promise<ExternalAlertView[]>;
  /** Silences and inhibition muting an alert now (the notification side's), as Alertmanager's alert status. */
  muteStatus?: (fingerprint: string, labels: Record<string, string>) => MuteStatus;
}

export interface MuteStatus {
  silencedBy: string[];
  inhibitedBy: string[];
}

/** `silenced=` / `inhibited=` as Alertmanager's GET /api/v2/alerts takes them: true, false, or absent (both). */
function booleanParam(key: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new AlertError(ALERT_ERR.BAD_QUERY, `${key}: expected true or false, got "${value}"`, 400, { key });
}

export type ExternalAlertView = AlertView & { source: 'api' };

const OPEN_STATES = new Set<AlertState>(['pending', 'firing', 'nodata', 'error']);

const ALL_STATES = new Set<AlertState>(['inactive', 'pending', 'firing', 'resolved', 'nodata', 'error']);

function parseBody(body: unknown): unknown {
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    if (!text.trim()) throw new AlertError(ALERT_ERR.RULE_INVALID, 'request body is empty: send a rule as JSON', 400, { problems: [{ key: '(root)', message: 'missing body' }] });
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new AlertError(ALERT_ERR.RULE_INVALID, `request body is not JSON: ${(err as Error).message}`, 400, { problems: [{ key: '(root)', message: 'invalid JSON' }] });
    }
  }
  if (body === undefined || body === null) throw new AlertError(ALERT_ERR.RULE_INVALID, 'request body is empty: send a rule as JSON', 400, { problems: [{ key: '(root)', message: 'missing body' }] });
  return body;
}

function fail(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof AlertError) return reply.code(err.statusCode).send(alertErrorBody(err.code, err.message, err.details));
  throw err;
}

export function registerRuleRoutes(app: FastifyInstance, deps: RuleRoutesDeps): void {
  const { engine } = deps;

  app.get('/api/v1/alerts/rules', async () => ({ rules: engine.listRules() }));

  app.get('/api/v1/alerts/rules/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const rule = engine.getRule(id);
    if (!rule) return reply.code(404).send(alertErrorBody(ALERT_ERR.RULE_NOT_FOUND, `no rule "${id}"`));
    return { rule };
  });

  app.post('/api/v1/alerts/rules', async (request, reply) => {
    try {
      const rule = engine.createRule(parseBody(request.body));
      return reply.code(201).header('location', `/api/v1/alerts/rules/${encodeURIComponent(rule.id)}`).send({ rule });
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.put('/api/v1/alerts/rules/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    try {
      return { rule: engine.replaceRule(id, parseBody(request.body)) };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.delete('/api/v1/alerts/rules/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    try {
      engine.deleteRule(id);
      return reply.code(204).send();
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.get('/api/v1/alerts', async (request, reply) => {
    let q: { state?: string; rule?: string; silenced?: string; inhibited?: string };
    let filter: CompiledMatcher[];
    let silenced: boolean | undefined;
    let inhibited: boolean | undefined;
    try {
      // `filter=` may be given several times, as amtool and Alertmanager's API take it: all must match.
      const { filter: filters, ...rest } = request.query as RawQuery;
      q = alertQueryParams(rest, ['state', 'rule', 'silenced', 'inhibited']);
      try {
        filter = compileMatchers([filters ?? []].flat().flatMap((f) => parseMatcherList(f)));
      } catch (err) {
        throw new AlertError(ALERT_ERR.BAD_QUERY, `filter: ${(err as Error).message}`, 400, { key: 'filter' });
      }
      silenced = booleanParam('silenced', q.silenced);
      inhibited = booleanParam('inhibited', q.inhibited);
    } catch (err) {
      return fail(reply, err);
    }
    const states = (q.state ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of states) {
      if (!ALL_STATES.has(s as AlertState)) return reply.code(400).send(alertErrorBody(ALERT_ERR.BAD_QUERY, `state: unknown state "${s}"`, { key: 'state' }));
    }
    const own = engine.alerts({ states: states as AlertState[], ...(q.rule ? { rule: q.rule } : {}) });
    const wanted = states.length ? new Set(states) : OPEN_STATES;
    const external = q.rule ? [] : ((await deps.externalAlerts?.()) ?? []).filter((a) => wanted.has(a.state));
    const alerts: AlertView[] = [...own, ...external]
      .filter((a) => matchesAll(filter, a.labels))
      .sort((a, b) => (a.since < b.since ? 1 : a.since > b.since ? -1 : a.fingerprint.localeCompare(b.fingerprint)));
    const out = [];
    for (const a of alerts) {
      const mute = deps.muteStatus?.(a.fingerprint, a.labels) ?? { silencedBy: [], inhibitedBy: [] };
      if (silenced !== undefined && silenced !== mute.silencedBy.length > 0) continue;
      if (inhibited !== undefined && inhibited !== mute.inhibitedBy.length > 0) continue;
      out.push({ ...a, ...mute, ack: (await deps.ackInfo?.(a.fingerprint)) ?? null });
    }
    return { alerts: out };
  });

  app.get('/api/v1/alerts/history', async (request, reply) => {
    try {
      const query = parseHistoryQuery(alertQueryParams(request.query as RawQuery, ['rule', 'fingerprint', 'state', 'since', 'until', 'limit', 'before']));
      const entries = engine.history(query);
      const nextBefore = entries.length === query.limit ? entries[entries.length - 1].transitionId : null;
      return { entries, nextBefore };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.get('/api/v1/alerts/:id/timeline', async (request, reply) => {
    const { id } = request.params as { id: string };
    // An empty id (a client's unset variable: /api/v1/alerts//timeline) is no fingerprint filter to history().
    if (!id) return reply.code(404).send(alertErrorBody(ALERT_ERR.ALERT_NOT_FOUND, 'no alert with an empty fingerprint'));
    try {
      const rows = engine.history({ fingerprint: id, limit: 1000 });
      const alert = engine.getAlert(id) ?? (rows.length ? undefined : ((await deps.externalAlerts?.()) ?? []).find((a) => a.fingerprint === id)) ?? null;
      const others = ((await deps.timelineSource?.(id)) ?? []).map(normalizeExternalEntry);
      if (!rows.length && !alert && !others.length) return reply.code(404).send(alertErrorBody(ALERT_ERR.ALERT_NOT_FOUND, `no alert with fingerprint "${id}"`));
      const entries = mergeTimeline(rows.reverse().map(historyEntryToTimeline), others);
      const ack = alert ? ((await deps.ackInfo?.(id)) ?? null) : null;
      return { fingerprint: id, alert: alert ? { ...alert, ack } : null, entries };
    } catch (err) {
      return fail(reply, err);
    }
  });
}
