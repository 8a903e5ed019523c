import Fastify, { type FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.ts';
import { defaultRulesConfig } from '../config.ts';
import { ALERT_ERR } from '../errors.ts';
import { AlertingEngine } from '../rules/engine.ts';
import { InMemoryMetricSource } from '../rules/sources.ts';
import type { AlertEvent, TimelineEntry } from '../types.ts';
import { registerRuleRoutes, type ExternalAlertView } from './rules-routes.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const rule = (extra: Record<string, unknown> = {}) => ({ id: 'cpu', name: 'HighCpu', kind: 'metric', selector: 'cpu', aggregation: 'last', window: '1m', groupBy: ['host'], threshold: 90, annotations: { summary: '{{ $labels.host }} {{ $value }}' }, ...extra });

async function setup(options: { rawBodies?: boolean; external?: ExternalAlertView[] } = {}) {
  const clock = new FakeClock(T0);
  const metrics = new InMemoryMetricSource();
  const events: AlertEvent[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'periscope-alert-api-'));
  const engine = new AlertingEngine({
    sink: { onTransition: (e) => void events.push(e) },
    dataDir,
    clock,
    metrics,
    autoEvaluate: false,
    config: defaultRulesConfig({ flapping: { enabled: false, window: 21, high: 20, low: 5 } }),
    rules: [{ ...rule(), id: 'from-file', name: 'FromFile' }],
  });
  await engine.start();
  const app: FastifyInstance = Fastify();
  if (options.rawBodies) {
    // What the collector's server does: JSON bodies reach routes as Buffers.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  }
  const timeline: Array<TimelineEntry & { fingerprint: string }> = [];
  registerRuleRoutes(app, {
    engine,
    ackInfo: (fp) => (fp === events[0]?.fingerprint ? { by: 'alice', at: new Date(T0).toISOString() } : null),
    timelineSource: (fp) => timeline.filter((t) => t.fingerprint === fp),
    ...(options.external ? { externalAlerts: () => options.external! } : {}),
  });
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }), () => engine.shutdown(), () => app.close());
  const fire = async (host: string, v: number) => {
    clock.advance(15_000);
    metrics.add('cpu', { host }, clock.now(), v);
    await engine.evaluateAll();
    await engine.flush();
  };
  return { app, engine, events, fire, clock, timeline };
}

describe('rules API', () => {
  it.each([{ name: 'parsed JSON bodies', rawBodies: false }, { name: 'raw Buffer bodies (collector server)', rawBodies: true }])('CRUD with $name', async ({ rawBodies }) => {
    const { app } = await setup({ rawBodies });
    const created = await app.inject({ method: 'POST', url: '/api/v1/alerts/rules', payload: rule() });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe('/api/v1/alerts/rules/cpu');
    expect(created.json().rule).toMatchObject({ id: 'cpu', source: 'api', readonly: false, health: 'unknown' });

    const list = await app.inject({ method: 'GET', url: '/api/v1/alerts/rules' });
    expect(list.json().rules.map((r: { id: string }) => r.id).sort()).toEqual(['cpu', 'from-file']);

    const put = await app.inject({ method: 'PUT', url: '/api/v1/alerts/rules/cpu', payload: rule({ id: undefined, threshold: 50 }) });
    expect(put.statusCode).toBe(200);
    expect(put.json().rule.spec.threshold).toBe(50);
    expect((await app.inject({ method: 'GET', url: '/api/v1/alerts/rules/cpu' })).json().rule.spec.threshold).toBe(50);

    expect((await app.inject({ method: 'DELETE', url: '/api/v1/alerts/rules/cpu' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/v1/alerts/rules/cpu' })).json().error.code).toBe(ALERT_ERR.RULE_NOT_FOUND);
  });

  it.each([
    { name: 'invalid rule names the key', method: 'POST' as const, url: '/api/v1/alerts/rules', payload: rule({ id: 'x', threshold: 'high' }), status: 400, code: ALERT_ERR.RULE_INVALID, key: 'threshold' },
    { name: 'unknown key', method: 'POST' as const, url: '/api/v1/alerts/rules', payload: rule({ id: 'x', windw: '1m' }), status: 400, code: ALERT_ERR.RULE_INVALID, key: 'windw' },
    { name: 'duplicate id', method: 'POST' as const, url: '/api/v1/alerts/rules', payload: rule({ id: 'from-file' }), status: 409, code: ALERT_ERR.RULE_CONFLICT },
    { name: 'alerts with the labels of another rule\'s', method: 'POST' as const, url: '/api/v1/alerts/rules', payload: rule({ id: 'x', name: 'FromFile', selector: 'mem' }), status: 409, code: ALERT_ERR.RULE_CONFLICT, key: 'name' },
    { name: 'not JSON', method: 'POST' as const, url: '/api/v1/alerts/rules', payload: '{nope', status: 400, code: ALERT_ERR.RULE_INVALID },
    { name: 'PUT of a file rule', method: 'PUT' as const, url: '/api/v1/alerts/rules/from-file', payload: rule({ id: 'from-file' }), status: 409, code: ALERT_ERR.RULE_READONLY },
    { name: 'PUT with a different id', method: 'PUT' as const, url: '/api/v1/alerts/rules/cpu', payload: rule({ id: 'other' }), status: 400, code: ALERT_ERR.RULE_INVALID, key: 'id', precreate: true },
    { name: 'PUT of a missing rule', method: 'PUT' as const, url: '/api/v1/alerts/rules/nope', payload: rule({ id: 'nope' }), status: 404, code: ALERT_ERR.RULE_NOT_FOUND },
    { name: 'DELETE of a file rule', method: 'DELETE' as const, url: '/api/v1/alerts/rules/from-file', status: 409, code: ALERT_ERR.RULE_READONLY },
    { name: 'bad history limit', method: 'GET' as const, url: '/api/v1/alerts/history?limit=0', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'limit' },
    { name: 'history limit in exponent form (Number() reads 100)', method: 'GET' as const, url: '/api/v1/alerts/history?limit=1e2', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'limit' },
    { name: 'bad history state', method: 'GET' as const, url: '/api/v1/alerts/history?state=burning', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'state' },
    { name: 'bad history since', method: 'GET' as const, url: '/api/v1/alerts/history?since=yesterday', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'since' },
    { name: 'bad alerts state', method: 'GET' as const, url: '/api/v1/alerts?state=hot', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'state' },
    // a state given twice reached .split(): 500; an unknown filter was left out: every alert listed
    { name: 'alerts state given twice', method: 'GET' as const, url: '/api/v1/alerts?state=firing&state=nodata', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'state' },
    { name: 'unknown alerts filter', method: 'GET' as const, url: '/api/v1/alerts?severity=critical', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'severity' },
    { name: 'history state given twice', method: 'GET' as const, url: '/api/v1/alerts/history?state=firing&state=resolved', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'state' },
    { name: 'unknown history filter', method: 'GET' as const, url: '/api/v1/alerts/history?alertname=X', status: 400, code: ALERT_ERR.BAD_QUERY, key: 'alertname' },
    { name: 'unknown timeline', method: 'GET' as const, url: '/api/v1/alerts/0123456789abcdef/timeline', status: 404, code: ALERT_ERR.ALERT_NOT_FOUND },
  ])('$name → $status $code', async ({ method, url, payload, status, code, key, precreate }) => {
    const { app } = await setup({ rawBodies: true });
    if (precreate) await app.inject({ method: 'POST', url: '/api/v1/alerts/rules', payload: rule() });
    const res = await app.inject({ method, url, ...(payload !== undefined ? { payload, headers: { 'content-type': 'application/json' } } : {}) });
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error.code).toBe(code);
    if (key) {
      const keys = [...(body.error.details?.problems ?? []).map((p: { key: string }) => p.key), body.error.details?.key];
      expect(keys).toContain(key);
    }
  });
});

describe('alerts, history and timeline API', () => {
  it('an empty alert id is 404, not every alert\'s history as one timeline', async () => {
    const { app, fire } = await setup();
    await fire('web-1', 95);
    const res = await app.inject({ url: '/api/v1/alerts//timeline' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe(ALERT_ERR.ALERT_NOT_FOUND);
  });

  it('lists active alerts with ack info, filters history, merges the timeline', async () => {
    const { app, events, fire, timeline } = await setup();
    await fire('web-1', 95);
    await fire('web-2', 95);
    await fire('web-1', 10);
    const fp1 = events.find((e) => e.labels.host === 'web-1')!.fingerprint;

    const active = (await app.inject({ url: '/api/v1/alerts' })).json().alerts;
    // web-1 resolved (not active); web-2 firing from the file rule; the first-fired web-1 carries the ack
    expect(active.map((a: { labels: { host: string }; state: string }) => `${a.labels.host}:${a.state}`)).toEqual(['web-2:firing']);
    const resolved = (await app.inject({ url: '/api/v1/alerts?state=resolved' })).json().alerts;
    expect(resolved).toMatchObject([{ fingerprint: fp1, state: 'resolved', ack: { by: 'alice' }, annotations: { summary: 'web-1 10' } }]);

    const all = (await app.inject({ url: '/api/v1/alerts/history' })).json();
    expect(all.entries.map((e: { to: string }) => e.to)).toEqual(['resolved', 'firing', 'firing']);
    const byFp = (await app.inject({ url: `/api/v1/alerts/history?fingerprint=${fp1}&state=firing` })).json();
    expect(byFp.entries).toMatchObject([{ fingerprint: fp1, to: 'firing', from: 'inactive', delivery: 'delivered' }]);
    const paged = (await app.inject({ url: '/api/v1/alerts/history?limit=2' })).json();
    expect(paged.entries).toHaveLength(2);
    const next = (await app.inject({ url: `/api/v1/alerts/history?limit=2&before=${paged.nextBefore}` })).json();
    expect(next.entries).toHaveLength(1);
    const window = (await app.inject({ url: `/api/v1/alerts/history?since=${T0 + 40_000}&until=${new Date(T0 + 60_000).toISOString()}` })).json();
    expect(window.entries.map((e: { to: string }) => e.to)).toEqual(['resolved']);

    const firingEvent = events.find((e) => e.fingerprint === fp1 && e.state === 'firing')!;
    // Entries in the notification side's shape (timeline/timeline.ts): no `source`, transitionId in details.
    timeline.push(
      { at: new Date(T0 + 15_000).toISOString(), kind: 'sent', details: { channel: 'slack', transitionId: firingEvent.transitionId }, fingerprint: fp1 },
      { at: new Date(T0 + 20_000).toISOString(), kind: 'acked', details: { by: 'alice' }, fingerprint: fp1 },
    );
    const tl = (await app.inject({ url: `/api/v1/alerts/${fp1}/timeline` })).json();
    expect(tl.entries.map((e: { source: string; kind: string; details: { to?: string } }) => `${e.source}:${e.kind}${e.details.to ? `:${e.details.to}` : ''}`)).toEqual([
      'rules:state:firing',
      'notify:sent',
      'notify:acked',
      'rules:state:resolved',
    ]);
    expect(tl.alert).toMatchObject({ fingerprint: fp1, state: 'resolved', ack: { by: 'alice' } });
  });

  it('lists, filters and traces alerts from POST /api/v2/alerts next to the rule alerts', async () => {
    const view = (fp: string, state: 'firing' | 'resolved', since: number): ExternalAlertView => ({
      id: fp, fingerprint: fp, ruleId: '', ruleName: 'FromPrometheus', state, value: null, labels: { alertname: 'FromPrometheus' }, annotations: {}, severity: 'critical',
      since: new Date(since).toISOString(), startsAt: new Date(since).toISOString(), endsAt: null, flapping: false, flapPercent: 0, lastEvaluation: null, error: null, source: 'api',
    });
    const external = [view('aaaa000000000001', 'firing', T0 + 60_000), view('aaaa000000000002', 'resolved', T0 + 1)];
    const { app, fire, timeline } = await setup({ external });
    await fire('web-2', 95);
    const active = (await app.inject({ url: '/api/v1/alerts' })).json().alerts;
    expect(active.map((a: { fingerprint: string; source?: string }) => `${a.source ?? 'rules'}:${a.fingerprint === 'aaaa000000000001' ? 'ext' : 'own'}`)).toEqual(['api:ext', 'rules:own']); // newest first
    expect((await app.inject({ url: '/api/v1/alerts?state=resolved' })).json().alerts.map((a: { fingerprint: string }) => a.fingerprint)).toEqual(['aaaa000000000002']);
    expect((await app.inject({ url: '/api/v1/alerts?rule=from-file' })).json().alerts.every((a: { source?: string }) => a.source === undefined)).toBe(true);

    timeline.push({ at: new Date(T0 + 61_000).toISOString(), kind: 'received', details: { source: 'api' }, fingerprint: 'aaaa000000000001' });
    const tl = await app.inject({ url: '/api/v1/alerts/aaaa000000000001/timeline' });
    expect(tl.statusCode).toBe(200);
    expect(tl.json()).toMatchObject({ fingerprint: 'aaaa000000000001', alert: { source: 'api', state: 'firing' }, entries: [{ kind: 'received', source: 'notify' }] });
    expect((await app.inject({ url: '/api/v1/alerts/ffff000000000000/timeline' })).statusCode).toBe(404);
  });
});
