// The HTTP API on the collector's own Fastify setup (JSON bodies as Buffers, strict content types),
// with the pipeline on a fake clock.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../../collector/src/http/server.ts';
import { ALERT_ERR } from '../errors.ts';
import { alertEvent, FakeNotifier, receiversFor, startTestPipeline, type TestPipeline } from '../notify/testing/harness.ts';
import { registerNotifyRoutes } from './notify-routes.ts';

const M = 60_000;
let t: TestPipeline;
let app: FastifyInstance;
let slack: FakeNotifier;
let email: FakeNotifier;

beforeEach(async () => {
  slack = new FakeNotifier('team/slack/0', 'team', { channel: 'slack' });
  email = new FakeNotifier('oncall/email/0', 'oncall', { channel: 'email' });
  t = await startTestPipeline(
    {
      receivers: receiversFor(['team', 'oncall']),
      escalations: [{ name: 'chain', steps: [{ notify: ['team'], wait: '5m' }, { notify: ['oncall'], wait: '5m' }] }],
      route: { escalation: 'chain', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m' },
      ack: { baseUrl: 'https://periscope.example', linkTtl: '1h' },
    },
    [slack, email],
  );
  app = createHttpServer({ bodyLimit: 1_000_000 });
  // The rule engine holds a pending alert (its `for` not passed) the pipeline has not been given.
  await app.register(registerNotifyRoutes, { pipeline: t.pipeline, ruleAlertState: (fp) =>
      ({ aaaa: { state: 'pending', flapping: false }, bbbb: { state: 'resolved', flapping: false }, cccc: { state: 'firing', flapping: false }, dddd: { state: 'firing', flapping: true }, ...ruleStates })[fp],
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await t.close();
});

const json = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({ method, url, ...(payload !== undefined ? { payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } } : {}) });

describe('POST /api/v2/alerts (Alertmanager API v2)', () => {
  it.each([
    { name: 'a firing alert', body: [{ labels: { alertname: 'Up', job: 'api' }, annotations: { summary: 's' } }], status: 200, accepted: 1 },
    {
      name: 'partial success: valid alerts kept, invalid ones reported by index',
      body: [{ labels: { alertname: 'Up' } }, { labels: {} }, { labels: { 'bad-name': 'x' } }, { labels: { a: 'b' }, startsAt: 'yesterday' }],
      status: 400,
      accepted: 1,
    },
    { name: 'not an array', body: { labels: { a: 'b' } }, status: 400, accepted: 0 },
  ])('$name', async ({ body, status, accepted }) => {
    const res = await json('POST', '/api/v2/alerts', body);
    expect(res.statusCode).toBe(status);
    if (status === 200) expect(res.json()).toEqual({ accepted });
    else expect(res.json().error.code).toBe(accepted > 0 ? ALERT_ERR.BAD_ALERT : ALERT_ERR.BAD_BODY);
    if (accepted > 0 && status === 400) expect(res.json().error.details.errors.map((e: { index: number }) => e.index)).toEqual([1, 2, 3]);
    expect(t.pipeline.alerts()).toHaveLength(accepted);
  });

  it('an API alert resolves by itself after endsAt unless re-sent, and the resolution is notified', async () => {
    const endsAt = new Date(t.clock.now() + 3 * M).toISOString();
    await json('POST', '/api/v2/alerts', [{ labels: { alertname: 'Up' }, endsAt }]);
    await t.advance(2 * M);
    await json('POST', '/api/v2/alerts', [{ labels: { alertname: 'Up' }, endsAt: new Date(t.clock.now() + 3 * M).toISOString() }]);
    await t.advance(2 * M);
    expect(t.pipeline.alerts()[0].status).toBe('firing');
    await t.advance(2 * M);
    expect(t.pipeline.alerts()[0].status).toBe('resolved');
    await t.advance(M);
    expect(slack.sent.map((n) => n.status)).toEqual(['firing', 'resolved']);
  });
});

describe('silences API', () => {
  it('create, list, get, expire', async () => {
    const endsAt = new Date(t.clock.now() + 60 * M).toISOString();
    const created = await json('POST', '/api/v1/silences', { matchers: [{ name: 'alertname', value: 'Up', isRegex: false }], endsAt, createdBy: 'kim', comment: 'deploy' });
    expect(created.statusCode).toBe(200);
    const id = created.json().silenceID;
    expect((await json('GET', '/api/v1/silences?state=active')).json().silences.map((s: { id: string }) => s.id)).toEqual([id]);
    expect((await json('GET', `/api/v1/silences/${id}`)).json()).toMatchObject({ id, createdBy: 'kim', status: { state: 'active' } });
    expect((await json('DELETE', `/api/v1/silences/${id}`)).json().silence.status.state).toBe('expired');
  });

  it.each([
    { name: 'invalid silence → 400 naming the key', req: () => json('POST', '/api/v1/silences', { matchers: [], createdBy: 'x', comment: 'y' }), status: 400, code: ALERT_ERR.SILENCE_INVALID },
    { name: 'unknown silence → 404', req: () => json('DELETE', '/api/v1/silences/nope'), status: 404, code: ALERT_ERR.SILENCE_NOT_FOUND },
    { name: 'bad state filter → 400', req: () => json('GET', '/api/v1/silences?state=later'), status: 400, code: ALERT_ERR.BAD_QUERY },
    // a fingerprint given twice was bound to SQL as an array: 500 "Unknown named parameter '0'"
    { name: 'notifications fingerprint given twice → 400', req: () => json('GET', '/api/v1/notifications?fingerprint=a&fingerprint=b'), status: 400, code: ALERT_ERR.BAD_QUERY },
    { name: 'unknown notifications filter → 400', req: () => json('GET', '/api/v1/notifications?receiver=x'), status: 400, code: ALERT_ERR.BAD_QUERY },
    { name: 'unknown silences filter → 400', req: () => json('GET', '/api/v1/silences?matcher=x'), status: 400, code: ALERT_ERR.BAD_QUERY },
    { name: 'unknown incidents filter → 400', req: () => json('GET', '/api/v1/incidents?state=open'), status: 400, code: ALERT_ERR.BAD_QUERY },
    { name: 'malformed JSON → 400', req: () => app.inject({ method: 'POST', url: '/api/v1/silences', payload: '{', headers: { 'content-type': 'application/json' } }), status: 400, code: ALERT_ERR.BAD_BODY },
  ])('$name', async ({ req, status, code }) => {
    const res = await req();
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
  });
});

/** Rule alert states a test adds (by fingerprint) to those above. */
let ruleStates: Record<string, { state: string; flapping: boolean }> = {};

describe('acknowledgement', () => {
  async function firing() {
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiDown' }, 'firing', t.clock.now()));
    await t.settle();
    return t.pipeline.alerts()[0];
  }

  it.each([
    { name: 'no by → 400', body: { comment: 'x' }, status: 400, code: ALERT_ERR.ACK_INVALID },
    { name: 'unknown alert → 404', body: { by: 'kim' }, status: 404, code: ALERT_ERR.ALERT_NOT_FOUND, fp: 'ffff' },
    { name: 'a rule\'s pending alert → 409 not active, saying so', body: { by: 'kim' }, status: 409, code: ALERT_ERR.ALERT_NOT_ACTIVE, fp: 'aaaa' },
  ])('POST /api/v1/alerts/:id/ack: $name', async ({ body, status, code, fp }) => {
    const a = await firing();
    const res = await json('POST', `/api/v1/alerts/${fp ?? a.fingerprint}/ack`, body);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
  });

  it('the 409 for a rule alert the pipeline was not given says "not notified yet" only when it is pending', async () => {
    const pending = (await json('POST', '/api/v1/alerts/aaaa/ack', { by: 'kim' })).json().error;
    const resolved = (await json('POST', '/api/v1/alerts/bbbb/ack', { by: 'kim' })).json().error;
    expect([pending.code, resolved.code]).toEqual([ALERT_ERR.ALERT_NOT_ACTIVE, ALERT_ERR.ALERT_NOT_ACTIVE]);
    expect(pending.message).toMatch(/is pending, not firing: nobody was notified of it yet/);
    expect(resolved.message).toBe('alert bbbb is resolved, not firing: there is nothing to acknowledge');
  });

  it('the 409 for a firing rule alert the pipeline does not have yet says why and what to do, not "is firing, not firing"', async () => {
    const inFlight = (await json('POST', '/api/v1/alerts/cccc/ack', { by: 'kim' })).json().error;
    const flapping = (await json('POST', '/api/v1/alerts/dddd/ack', { by: 'kim' })).json().error;
    expect([inFlight.code, flapping.code]).toEqual([ALERT_ERR.ALERT_NOT_ACTIVE, ALERT_ERR.ALERT_NOT_ACTIVE]);
    expect(inFlight.message).not.toMatch(/not firing/);
    expect(inFlight.message).toBe('alert cccc is firing but its notification is still on its way to the notification side (delivery in progress): try again in a few seconds');
    expect(flapping.message).toMatch(/^alert dddd is firing but flapping: its notifications are held back until it stabilizes.*silence it/);
    expect(flapping.details).toMatchObject({ state: 'firing', flapping: true });
  });

  it('the 409 for a rule alert firing again that the pipeline still has resolved says so too', async () => {
    const a = await firing();
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiDown' }, 'resolved', a.startsAt, { endsAt: new Date(t.clock.now()).toISOString() }));
    await t.settle();
    ruleStates = { [a.fingerprint]: { state: 'firing', flapping: true } };
    try {
      const error = (await json('POST', `/api/v1/alerts/${a.fingerprint}/ack`, { by: 'kim' })).json().error;
      expect(error.code).toBe(ALERT_ERR.ALERT_NOT_ACTIVE);
      expect(error.message).toMatch(/is firing but flapping: its notifications are held back/);
    } finally {
      ruleStates = {};
    }
  });

  it('POST /api/v1/alerts/:id/ack acknowledges and stops the escalation', async () => {
    const a = await firing();
    const res = await json('POST', `/api/v1/alerts/${a.fingerprint}/ack`, { by: 'kim', comment: 'mine' });
    expect(res.statusCode).toBe(200);
    expect(res.json().ack).toMatchObject({ by: 'kim', comment: 'mine', via: 'api' });
    await t.advance(20 * M);
    expect(email.sent).toHaveLength(0);
  });

  it('the link in the message: GET shows a confirm form (no ack), POST (form) acknowledges', async () => {
    await firing();
    const link = slack.sent[0].alerts[0].links.ack as string;
    expect(link.startsWith('https://periscope.example/ack/')).toBe(true);
    const path = new URL(link).pathname;
    const page = await app.inject({ method: 'GET', url: path, headers: { 'accept-language': 'ko-KR,ko;q=0.9,en;q=0.5' } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('<form method="post">');
    expect(page.body).toContain('알림 확인');
    expect(t.pipeline.ackFor(t.pipeline.alerts()[0].fingerprint)).toBeUndefined();
    const done = await app.inject({ method: 'POST', url: path, payload: 'by=Kim+%3Cscript%3E&comment=on+it', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Kim &lt;script&gt;');
    expect(t.pipeline.ackFor(t.pipeline.alerts()[0].fingerprint)).toMatchObject({ by: 'Kim <script>', via: 'link' });
    await t.advance(20 * M);
    expect(email.sent).toHaveLength(0);
  });

  it('the link with JSON (a script or bot): the API\'s answers, errors included', async () => {
    await firing();
    const path = new URL(slack.sent[0].alerts[0].links.ack as string).pathname;
    const post = (body: unknown, url = path) => app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const empty = await post({});
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error).toMatchObject({ code: 'PERISCOPE_ERR_ALERT_ACK_INVALID' });
    const tampered = await app.inject({ method: 'GET', url: `${path.slice(0, -3)}AAA`, headers: { accept: 'application/json' } });
    expect(tampered.statusCode).toBe(400);
    expect(tampered.headers['content-type']).toContain('application/json');
    expect(tampered.json().error.code).toMatch(/^PERISCOPE_ERR_ALERT_/);
    const target = await app.inject({ method: 'GET', url: path, headers: { accept: 'application/json' } });
    expect(target.statusCode).toBe(200);
    const { alert } = target.json();
    expect(alert).toMatchObject({ status: 'firing', fingerprint: t.pipeline.alerts()[0].fingerprint, startsAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), endsAt: null });
    expect(alert.updatedAt).toBeUndefined(); // the API's shape, not the pipeline's row
    const done = await post({ by: 'bot', comment: 'paged' });
    expect(done.statusCode).toBe(200);
    expect(done.json().ack).toMatchObject({ by: 'bot', comment: 'paged', via: 'link' });
    expect(t.pipeline.ackFor(t.pipeline.alerts()[0].fingerprint)).toMatchObject({ by: 'bot' });
  });

  it.each([
    { name: 'tampered token → 400', mutate: (p: string) => `${p.slice(0, -3)}AAA`, advance: 0, status: 400, text: 'not valid' },
    { name: 'expired token → 410', mutate: (p: string) => p, advance: 61 * M, status: 410, text: 'expired' },
  ])('ack link: $name', async ({ mutate, advance, status, text }) => {
    await firing();
    const path = mutate(new URL(slack.sent[0].alerts[0].links.ack as string).pathname);
    await t.advance(advance);
    const res = await app.inject({ method: 'POST', url: path, payload: 'by=kim', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode).toBe(status);
    expect(res.body).toContain(text);
  });

  it('ack link opened while the pipeline restarts (a reload) → 503 saying to try again, not that the link is invalid', async () => {
    await firing();
    const path = new URL(slack.sent[0].alerts[0].links.ack as string).pathname;
    await t.pipeline.shutdown(); // as between the old pipeline's stop and the new one's start
    for (const method of ['GET', 'POST'] as const) {
      const res = await app.inject({ method, url: path, ...(method === 'POST' ? { payload: 'by=kim', headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}) });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('nothing was acknowledged. Open the link again in a moment');
      expect(res.body).not.toContain('not valid');
    }
  });

  it('ack link of a resolved alert → 409', async () => {
    const a = await firing();
    const path = new URL(slack.sent[0].alerts[0].links.ack as string).pathname;
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiDown' }, 'resolved', a.startsAt, { endsAt: new Date(t.clock.now()).toISOString() }));
    const res = await app.inject({ method: 'GET', url: path });
    expect(res.statusCode).toBe(409);
  });
});

describe('notifications and incidents', () => {
  it('GET /api/v1/notifications?status=failed lists what finally failed', async () => {
    slack.script = [{ status: 'permanent', error: 'HTTP 404 (no_service)' }];
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiDown' }, 'firing', t.clock.now()));
    await t.settle();
    const res = await json('GET', '/api/v1/notifications?status=failed');
    expect(res.json().notifications).toHaveLength(1);
    expect(res.json().notifications[0]).toMatchObject({ status: 'failed', lastError: 'HTTP 404 (no_service)', channel: 'slack', receiver: 'team' });
    expect((await json('GET', '/api/v1/notifications?status=bogus')).statusCode).toBe(400);
  });

  it('POST /api/v1/notifications/:id/retry sends a failed one again; a sent one is 409, not a duplicate', async () => {
    slack.script = [{ status: 'permanent', error: 'HTTP 404 (no_service)' }];
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiDown' }, 'firing', t.clock.now()));
    await t.settle();
    const failed = (await json('GET', '/api/v1/notifications?status=failed')).json().notifications[0];
    const retried = await json('POST', `/api/v1/notifications/${failed.id}/retry`);
    expect(retried.statusCode).toBe(200);
    await t.settle();
    expect((await json('GET', '/api/v1/notifications?status=sent')).json().notifications.map((n: { id: number }) => n.id)).toEqual([failed.id]);
    const sentCount = slack.sent.length;
    const again = await json('POST', `/api/v1/notifications/${failed.id}/retry`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'PERISCOPE_ERR_ALERT_NOTIFICATION_NOT_FAILED', details: { status: 'sent' } });
    await t.settle();
    expect(slack.sent.length).toBe(sentCount);
    expect((await json('POST', '/api/v1/notifications/999999/retry')).statusCode).toBe(404);
  });

  it('GET /api/v1/notifications pages past its limit with before= and nextBefore, as the history does', async () => {
    for (const name of ['A', 'B', 'C']) await t.pipeline.onTransition(alertEvent({ alertname: name }, 'firing', t.clock.now()));
    await t.settle();
    const all = (await json('GET', '/api/v1/notifications')).json();
    expect(all.notifications.length).toBeGreaterThanOrEqual(3);
    expect(all.nextBefore).toBeNull();
    const ids: number[] = [];
    let url = '/api/v1/notifications?limit=2';
    for (let page = 0; page < 10; page++) {
      const body = (await json('GET', url)).json();
      ids.push(...body.notifications.map((n: { id: number }) => n.id));
      if (body.nextBefore === null) break;
      url = `/api/v1/notifications?limit=2&before=${body.nextBefore}`;
    }
    expect(ids).toEqual(all.notifications.map((n: { id: number }) => n.id));
    const bad = await json('GET', '/api/v1/notifications?before=x');
    expect([bad.statusCode, bad.json().error.details]).toEqual([400, { key: 'before' }]);
  });

  it('alerts that fire together form an incident with its own timeline', async () => {
    const t0 = t.clock.now();
    await t.pipeline.onTransition(alertEvent({ alertname: 'DbDown' }, 'firing', t0));
    await t.advance(2 * M);
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiErrors' }, 'firing', t0 + 2 * M));
    await t.advance(30 * M);
    await t.pipeline.onTransition(alertEvent({ alertname: 'DiskFull' }, 'firing', t.clock.now())); // 30 min later: a new incident
    await t.settle();
    const list = (await json('GET', '/api/v1/incidents')).json().incidents as { id: string; alerts: { alertname: string }[]; status: string }[];
    expect(list.map((i) => i.alerts.map((a) => a.alertname))).toEqual([['DiskFull'], ['DbDown', 'ApiErrors']]);
    const inc = (await json('GET', `/api/v1/incidents/${list[1].id}`)).json();
    expect(inc.status).toBe('open');
    const kinds = new Set(inc.timeline.map((e: { kind: string }) => e.kind));
    for (const k of ['incident_opened', 'incident_joined', 'notification_queued', 'notification_sent', 'escalation_step']) expect(kinds.has(k)).toBe(true);
    expect((await json('GET', '/api/v1/incidents/nope')).statusCode).toBe(404);
  });

  it('incidents come in pages, newest first, each page naming where the next starts', async () => {
    for (let i = 0; i < 5; i++) {
      await t.pipeline.onTransition(alertEvent({ alertname: `Inc${i}` }, 'firing', t.clock.now()));
      await t.settle();
      await t.advance(30 * M); // past incidentWindow: each alert opens its own incident
    }
    const names: string[] = [];
    let url = '/api/v1/incidents?limit=2';
    for (let page = 0; page < 10; page++) {
      const body = (await json('GET', url)).json();
      names.push(...body.incidents.map((i: { alerts: { alertname: string }[] }) => i.alerts[0].alertname));
      if (body.nextBefore === null) break;
      url = `/api/v1/incidents?limit=2&before=${body.nextBefore}`;
    }
    expect(names).toEqual(['Inc4', 'Inc3', 'Inc2', 'Inc1', 'Inc0']);
    const gone = await json('GET', '/api/v1/incidents?before=inc-nope');
    expect([gone.statusCode, gone.json().error.details]).toEqual([400, { key: 'before' }]);
  });
});
