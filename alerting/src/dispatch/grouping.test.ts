// Grouping timers and dedup through the whole pipeline on a fake clock, with a scripted notifier.
import { afterEach, describe, expect, it } from 'vitest';
import { alertEvent, FakeNotifier, receiversFor, startTestPipeline, type TestPipeline } from '../notify/testing/harness.ts';

const S = 1000;
const M = 60 * S;

const config = {
  receivers: receiversFor(['team']),
  route: { receiver: 'team', groupBy: ['alertname'], groupWait: '30s', groupInterval: '5m', repeatInterval: '1h' },
};

let t: TestPipeline | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** `status:alertname/instance,...` of every message. */
const messages = (n: FakeNotifier) => n.sent.map((m) => `${m.status}:${m.alerts.map((a) => `${a.labels.alertname}/${a.labels.instance}${a.status === 'resolved' ? '(resolved)' : ''}`).join(',')}`);

interface Scenario {
  name: string;
  run(t: TestPipeline, n: FakeNotifier, t0: number): Promise<void>;
}

const fire = (t: TestPipeline, instance: string, at: number, alertname = 'HighLatency') => t.pipeline.onTransition(alertEvent({ alertname, instance }, 'firing', at));

const scenarios: Scenario[] = [
  {
    name: 'groupWait batches alerts of one group into the first message',
    async run(t, n, t0) {
      await fire(t, 'a', t0);
      await t.advance(10 * S);
      await fire(t, 'b', t0 + 10 * S);
      await t.advance(19 * S);
      expect(messages(n)).toEqual([]);
      await t.advance(1 * S);
      expect(messages(n)).toEqual(['firing:HighLatency/a,HighLatency/b']);
    },
  },
  {
    name: 'a new alert after the first flush waits for groupInterval',
    async run(t, n, t0) {
      await fire(t, 'a', t0);
      await t.advance(30 * S);
      await fire(t, 'b', t0 + 30 * S);
      await t.advance(5 * M - 1 * S);
      expect(messages(n)).toEqual(['firing:HighLatency/a']);
      await t.advance(1 * S);
      expect(messages(n)).toEqual(['firing:HighLatency/a', 'firing:HighLatency/a,HighLatency/b']);
    },
  },
  {
    name: 'repeatInterval re-sends an unchanged group at the first group tick after it elapsed',
    async run(t, n, t0) {
      await fire(t, 'a', t0);
      await t.advance(30 * S); // first flush at +30s
      await t.advance(60 * M); // tick at +60m30s: exactly 1h since the last message, not yet "before"
      expect(messages(n)).toHaveLength(1);
      await t.advance(5 * M); // tick at +65m30s
      expect(messages(n)).toEqual(['firing:HighLatency/a', 'firing:HighLatency/a']);
      expect(n.sent[1].reason).toBe('repeat');
      expect(n.sent[1].id).not.toBe(n.sent[0].id);
    },
  },
  {
    name: 'a later repeat with the same alerts as an earlier repeat is still sent (distinct idempotency keys)',
    async run(t, n, t0) {
      await fire(t, 'a', t0);
      await t.advance(30 * S + 65 * M); // first at +30s, repeat at +65m30s
      await fire(t, 'b', t.clock.now());
      await t.advance(5 * M); // tick +70m30s: a,b
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'b' }, 'resolved', t0, { endsAt: new Date(t.clock.now()).toISOString() }));
      await t.advance(5 * M); // tick +75m30s: a, b resolved
      await t.advance(65 * M); // repeat at +140m30s: a again
      expect(messages(n)).toEqual([
        'firing:HighLatency/a',
        'firing:HighLatency/a',
        'firing:HighLatency/a,HighLatency/b',
        'firing:HighLatency/a,HighLatency/b(resolved)',
        'firing:HighLatency/a',
      ]);
    },
  },
  {
    name: 'an alert re-sent by its source, or changing to nodata, is not notified again',
    async run(t, n, t0) {
      await fire(t, 'a', t0);
      await t.advance(30 * S);
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'a' }, 'nodata', t0, { value: null }));
      await t.advance(30 * M);
      expect(messages(n)).toEqual(['firing:HighLatency/a']);
    },
  },
  {
    name: 'a resolved alert is sent at the next group tick, then leaves the group',
    async run(t, n, t0) {
      await fire(t, 'a', t0);
      await fire(t, 'b', t0);
      await t.advance(30 * S);
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'a' }, 'resolved', t0, { endsAt: new Date(t0 + 60 * S).toISOString() }));
      await t.advance(5 * M);
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'b' }, 'resolved', t0, { endsAt: new Date(t0 + 6 * M).toISOString() }));
      await t.advance(5 * M);
      await t.advance(20 * M);
      expect(messages(n)).toEqual(['firing:HighLatency/a,HighLatency/b', 'firing:HighLatency/b,HighLatency/a(resolved)', 'resolved:HighLatency/b(resolved)']);
    },
  },
  {
    name: 'different group labels make separate groups and messages',
    async run(t, n, t0) {
      await fire(t, 'a', t0, 'HighLatency');
      await fire(t, 'a', t0, 'DiskFull');
      await t.advance(30 * S);
      expect(messages(n).sort()).toEqual(['firing:DiskFull/a', 'firing:HighLatency/a']);
    },
  },
  {
    name: 'an alert that started longer than groupWait ago flushes a new group at once',
    async run(t, n, t0) {
      await fire(t, 'a', t0 - 10 * M);
      await t.settle();
      expect(messages(n)).toEqual(['firing:HighLatency/a']);
    },
  },
  {
    // The engine sends the transition that starts flapping (annotated) and holds back the next
    // ones: that one is notified — a crash-looping service must reach someone — and nothing more.
    name: 'the transition that starts flapping is notified once; the quiet after it is the engine\'s',
    async run(t, n, t0) {
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'a' }, 'firing', t0, { flapping: true }));
      await t.advance(30 * M);
      expect(messages(n)).toEqual(['firing:HighLatency/a']);
      const fp = t.pipeline.alerts()[0].fingerprint;
      expect(t.pipeline.timelineFor(fp).some((e) => e.kind === 'muted')).toBe(false);
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'a' }, 'firing', t0, { flapping: false }));
      await t.advance(5 * M);
      expect(messages(n)).toEqual(['firing:HighLatency/a']); // settled, still firing: already notified
    },
  },
  {
    name: 'pending transitions are never notified',
    async run(t, n, t0) {
      await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'a' }, 'pending', t0));
      await t.advance(10 * M);
      expect(messages(n)).toEqual([]);
    },
  },
];

describe('grouping timers and dedup (fake clock)', () => {
  it.each(scenarios)('$name', async ({ run }) => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(config, [n]);
    await run(t, n, t.clock.now());
  });

  it('an integration without sendResolved hears nothing when only a resolution is new; its sibling that sends them does', async () => {
    const slack = new FakeNotifier('team/slack/0', 'team', { channel: 'slack', sendResolved: false });
    const hook = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(config, [slack, hook]);
    const t0 = t.clock.now();
    for (const [i, instance] of ['a', 'b', 'c'].entries()) await fire(t, instance, t0 + i);
    await t.advance(30 * S);
    await t.pipeline.onTransition(alertEvent({ alertname: 'HighLatency', instance: 'c' }, 'resolved', t0 + 2, { endsAt: new Date(t0 + M).toISOString() }));
    await t.advance(10 * M);
    expect(messages(hook)).toEqual(['firing:HighLatency/a,HighLatency/b,HighLatency/c', 'firing:HighLatency/a,HighLatency/b,HighLatency/c(resolved)']);
    expect(messages(slack)).toEqual(['firing:HighLatency/a,HighLatency/b,HighLatency/c']); // not a second "[FIRING:2]" with nothing new
  });

  it('an alert firing for days with a repeatInterval longer than the notification log\'s retention is reminded at its repeatInterval, not when the log entry ages out', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline({ ...config, route: { ...config.route, groupInterval: '1h', repeatInterval: '7d' } }, [n]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(30 * S);
    for (let day = 0; day < 6; day++) await t.advance(24 * 60 * M);
    expect(messages(n)).toEqual(['firing:HighLatency/a']);
    const n2 = new FakeNotifier('team/webhook/0', 'team');
    t = await t.restart([n2]); // a restart on day 6 keeps the entry too
    await t.advance(26 * 60 * M);
    expect(messages(n2)).toEqual(['firing:HighLatency/a']); // the 7-day reminder
    expect(n2.sent[0].reason).toBe('repeat');
  });

  it('a restart (or a reload that changed the routing) before groupWait ends keeps the first notification at groupWait, not groupWait after the restart', async () => {
    // A config pushed every few seconds must not postpone it: each restart re-armed a whole groupWait.
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(config, [n]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    for (let i = 0; i < 2; i++) {
      await t.advance(10 * S);
      t = await t.restart([n]);
    }
    await t.advance(10 * S - 1);
    expect(messages(n)).toEqual([]);
    await t.advance(1);
    expect(messages(n)).toEqual(['firing:HighLatency/a']); // at t0 + 30s, as without the restarts
  });

  it('a restart (or a reload that changed the routing) after the first notification keeps the group on its groupInterval: an alert added since is not sent at once', async () => {
    // As Alertmanager's open #2492: the rebuilt group counted as never flushed and sent at the restart.
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(config, [n]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(60 * S); // first message at +30s
    await fire(t, 'b', t0 + 60 * S);
    await t.advance(30 * S);
    t = await t.restart([n]);
    await t.advance(5 * M + 30 * S - 90 * S - 1);
    expect(messages(n)).toEqual(['firing:HighLatency/a']);
    await t.advance(1); // +5m30s, the group's tick
    expect(messages(n)).toEqual(['firing:HighLatency/a', 'firing:HighLatency/a,HighLatency/b']);
    t = await t.restart([n]);
    await t.advance(5 * M - 1);
    expect(messages(n)).toHaveLength(2);
  });

  it('a route whose receiver changed by a reload notifies the new receiver of its firing alerts at once, not at the next groupInterval tick', async () => {
    // The old receiver was told; the new one never was (a misrouted page fixed by a reload).
    const n = new FakeNotifier('team/webhook/0', 'team');
    const pager = new FakeNotifier('pager/webhook/0', 'pager');
    const both = { ...config, receivers: receiversFor(['team', 'pager']) };
    t = await startTestPipeline(both, [n, pager]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(60 * S); // first message to team at +30s
    await t.pipeline.shutdown();
    t = await startTestPipeline({ ...both, route: { ...config.route, receiver: 'pager' } }, [n, pager], { clock: t.clock, dir: t.dir });
    expect(messages(pager)).toEqual(['firing:HighLatency/a']);
    expect(messages(n)).toEqual(['firing:HighLatency/a']);
  });

  it('a duplicate transition (same transitionId) is ignored', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(config, [n]);
    const t0 = t.clock.now();
    const ev = alertEvent({ alertname: 'X', instance: 'a' }, 'firing', t0);
    await t.pipeline.onTransition(ev);
    await t.advance(30 * S);
    await t.pipeline.onTransition(alertEvent({ alertname: 'X', instance: 'a' }, 'resolved', t0, { transitionId: ev.transitionId }));
    await t.advance(10 * M);
    expect(messages(n)).toEqual(['firing:X/a']);
  });
});

describe('message locale', () => {
  it.each([
    { name: 'global default', global: undefined, receiver: undefined, route: undefined, channel: undefined, want: 'en' },
    { name: 'global ko', global: 'ko', receiver: undefined, route: undefined, channel: undefined, want: 'ko' },
    { name: 'receiver over global', global: 'en', receiver: 'ko', route: undefined, channel: undefined, want: 'ko' },
    { name: 'route over receiver', global: 'en', receiver: 'en', route: 'ko', channel: undefined, want: 'ko' },
    { name: 'channel over route', global: 'ko', receiver: 'ko', route: 'ko', channel: 'en', want: 'en' },
  ])('$name', async ({ global, receiver, route, channel, want }) => {
    const n = new FakeNotifier('team/webhook/0', 'team', channel ? { locale: channel } : {});
    t = await startTestPipeline(
      {
        ...(global ? { locale: global } : {}),
        receivers: [{ name: 'team', ...(receiver ? { locale: receiver } : {}), webhook: [{ url: 'http://127.0.0.1:9/x' }] }],
        route: { receiver: 'team', groupWait: '0s', ...(route ? { locale: route } : {}) },
      },
      [n],
    );
    await t.pipeline.onTransition(alertEvent({ alertname: 'L' }, 'firing', t.clock.now()));
    await t.settle();
    expect(n.sent[0].locale).toBe(want);
  });
});
