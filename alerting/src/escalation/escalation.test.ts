// Escalation chains on a fake clock: steps and waits, repeat K, acknowledgement, resolution.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.ts';
import { alertEvent, FakeNotifier, receiversFor, startTestPipeline, type TestPipeline } from '../notify/testing/harness.ts';

const M = 60_000;

const config = {
  receivers: receiversFor(['team-slack', 'oncall-email', 'oncall-sms']),
  escalations: [
    {
      name: 'oncall',
      repeat: 2,
      steps: [
        { notify: ['team-slack'], wait: '5m' },
        { notify: ['oncall-email'], wait: '10m' },
        { notify: ['oncall-sms'], wait: '15m' },
      ],
    },
  ],
  route: { escalation: 'oncall', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m', repeatInterval: '4h' },
};

let t: TestPipeline | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

interface Chans {
  slack: FakeNotifier;
  email: FakeNotifier;
  sms: FakeNotifier;
}

function channels(): Chans {
  return {
    slack: new FakeNotifier('team-slack/slack/0', 'team-slack', { channel: 'slack' }),
    email: new FakeNotifier('oncall-email/email/0', 'oncall-email', { channel: 'email' }),
    sms: new FakeNotifier('oncall-sms/sms/0', 'oncall-sms', { channel: 'sms' }),
  };
}

/** `minute:channel:status[:alerts]` of every message, in send order. */
function log(c: Chans, t0: number, withAlerts = false): string[] {
  return Object.entries(c)
    .flatMap(([name, n]) =>
      (n as FakeNotifier).sent.map((m) => ({
        at: Date.parse(m.createdAt),
        text: `${(Date.parse(m.createdAt) - t0) / M}:${name}:${m.status}${withAlerts ? `:${m.alerts.map((a) => `${a.labels.instance}${a.status === 'resolved' ? '(r)' : ''}`).join(',')}` : ''}`,
      })),
    )
    .sort((a, b) => a.at - b.at || a.text.localeCompare(b.text))
    .map((e) => e.text);
}

const labels = (instance: string) => ({ alertname: 'ApiDown', instance });
const fire = (t: TestPipeline, instance: string, startsAt: number) => t.pipeline.onTransition(alertEvent(labels(instance), 'firing', startsAt));
const resolve = (t: TestPipeline, instance: string, startsAt: number) =>
  t.pipeline.onTransition(alertEvent(labels(instance), 'resolved', startsAt, { endsAt: new Date(t.clock.now()).toISOString() }));
/**
 * Fires alert a, and at +2 minutes silences it until +11.5: the email step falls due at +5 under
 * the silence, and the clock is left at +10. Returns when a fired.
 */
async function silencedOverEmailStep(t: TestPipeline): Promise<number> {
  const t0 = t.clock.now();
  await fire(t, 'a', t0);
  await t.advance(2 * M);
  t.pipeline.silences.upsert({ matchers: ['instance="a"'], endsAt: new Date(t0 + 11.5 * M).toISOString(), createdBy: 'kim', comment: 'deploy' });
  await t.advance(8 * M);
  return t0;
}
const fp = (t: TestPipeline, instance: string) => t.pipeline.alerts().find((a) => a.labels.instance === instance)?.fingerprint as string;

interface Scenario {
  name: string;
  run(t: TestPipeline, c: Chans, t0: number): Promise<void>;
}

const scenarios: Scenario[] = [
  {
    name: 'steps run in order after their waits, the chain repeats K=2 times, then stops',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await t.settle();
      await t.advance(120 * M);
      expect(log(c, t0)).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '30:slack:firing', '35:email:firing', '45:sms:firing']);
      expect(c.email.sent[0].escalation).toEqual({ chain: 'oncall', step: 2, steps: 3, cycle: 1, repeat: 2 });
      expect(t.pipeline.escalations()[0]).toMatchObject({ status: 'exhausted' });
    },
  },
  {
    name: 'an acknowledgement stops the chain at once',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await t.advance(7 * M);
      t.pipeline.ack(fp(t, 'a'), { by: 'kim', comment: 'looking' });
      expect(t.pipeline.escalations()[0]).toMatchObject({ status: 'acknowledged', nextAt: null });
      await t.advance(60 * M);
      expect(log(c, t0)).toEqual(['0:slack:firing', '5:email:firing']);
      expect(t.pipeline.escalations()[0]).toMatchObject({ status: 'acknowledged' });
      expect(t.pipeline.timelineFor(fp(t, 'a')).map((e) => e.kind)).toContain('escalation_stopped');
    },
  },
  {
    name: 'resolved notices go to every receiver notified, and only to them',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await t.advance(16 * M);
      await resolve(t, 'a', t0);
      await t.advance(1 * M);
      await t.advance(60 * M);
      expect(log(c, t0)).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '17:email:resolved', '17:slack:resolved', '17:sms:resolved']);
    },
  },
  {
    name: 'resolution stops the chain and ends the acknowledgement; the next episode escalates again',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await t.advance(2 * M);
      t.pipeline.ack(fp(t, 'a'), { by: 'kim' });
      expect(t.pipeline.ackFor(fp(t, 'a'))).toMatchObject({ by: 'kim' });
      await t.advance(8 * M); // +10m
      await resolve(t, 'a', t0);
      expect(t.pipeline.ackFor(fp(t, 'a'))).toBeUndefined();
      await t.advance(10 * M); // +20m
      await fire(t, 'a', t0 + 20 * M);
      await t.advance(6 * M); // +26m
      expect(log(c, t0)).toEqual(['0:slack:firing', '11:slack:resolved', '20:slack:firing', '25:email:firing']);
      expect(t.pipeline.timelineFor(fp(t, 'a')).map((e) => e.kind)).toContain('ack_ended');
    },
  },
  {
    name: 'in a group, steps carry only unacknowledged alerts; acking the last one stops the chain',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await fire(t, 'b', t0);
      await t.advance(1 * M);
      t.pipeline.ack(fp(t, 'a'), { by: 'kim' });
      await t.advance(5 * M); // email at +5m with b only
      t.pipeline.ack(fp(t, 'b'), { by: 'lee' });
      await t.advance(60 * M);
      expect(log(c, t0, true)).toEqual(['0:slack:firing:a,b', '5:email:firing:b']);
    },
  },
  {
    name: 'a new unacknowledged alert restarts the chain; receivers notified before get the update',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await t.advance(6 * M); // slack 0, email 5
      t.pipeline.ack(fp(t, 'a'), { by: 'kim' });
      await t.advance(4 * M); // +10m
      await fire(t, 'b', t0 + 10 * M);
      await t.advance(1 * M); // group tick at +11m
      expect(log(c, t0, true)).toEqual(['0:slack:firing:a', '5:email:firing:a', '11:email:firing:a,b', '11:slack:firing:b']);
      await t.advance(5 * M);
      expect(log(c, t0, true).slice(4)).toEqual(['16:email:firing:b']);
    },
  },
  {
    name: 'a restart in the middle resumes the chain without repeating or skipping a step',
    async run(t, c, t0) {
      await fire(t, 'a', t0);
      await t.advance(2 * M);
      const c2 = channels();
      const t2 = await t.restart([c2.slack, c2.email, c2.sms]);
      try {
        await t2.advance(20 * M); // to +22m
        expect(log(c, t0)).toEqual(['0:slack:firing']);
        expect(log(c2, t0)).toEqual(['5:email:firing', '15:sms:firing']);
      } finally {
        await t2.pipeline.shutdown();
      }
    },
  },
];

describe('escalation chains (fake clock)', () => {
  it.each(scenarios)('$name', async ({ run }) => {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    await run(t, c, t.clock.now());
  });

  // Node runs a timer on the event loop's cached, truncated time: by Date.now() it can fire a
  // millisecond before it is due, and the next step was then paged before its wait was over.
  it('a timer that fires a millisecond early does not run the next step before its wait is over', async () => {
    class EarlyClock extends FakeClock {
      override setTimeout(fn: () => void, ms: number) {
        return super.setTimeout(fn, ms > 1 ? ms - 1 : ms);
      }
    }
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms], { clock: new EarlyClock(Date.UTC(2025, 0, 6, 12, 0, 0)) });
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.settle();
    await t.advance(5 * M - 1);
    expect(log(c, t0)).toEqual(['0:slack:firing']);
    await t.advance(1);
    expect(log(c, t0)).toEqual(['0:slack:firing', '5:email:firing']);
  });

  // The timers run on elapsed time; the clock is the host's wall clock, which NTP, a resumed VM or
  // `date -s` can step back: the step's wait is over when its timer fires all the same.
  it('a step back of the wall clock during a wait does not hold the next step for the length of the step', async () => {
    class SteppedClock extends FakeClock {
      step = 0;
      override now() {
        return super.now() + this.step;
      }
    }
    const clock = new SteppedClock(Date.UTC(2025, 0, 6, 12, 0, 0));
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms], { clock });
    await fire(t, 'a', t.clock.now());
    await t.settle();
    await t.advance(2 * M);
    clock.step = -60 * M;
    await t.advance(3 * M - 1);
    expect(c.email.sent).toHaveLength(0);
    await t.advance(1);
    expect(c.email.sent).toHaveLength(1); // 5 minutes after Slack, not an hour and 5 minutes
    await t.advance(10 * M);
    expect(c.sms.sent).toHaveLength(1);
  });

  it('repeatInterval shorter than the chain: no update while the chain runs, reminders after it ends', async () => {
    const c = channels();
    const once = { ...config, escalations: [{ ...config.escalations[0], repeat: 1 }], route: { ...config.route, repeatInterval: '20m' } };
    t = await startTestPipeline(once, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.settle();
    await t.advance(70 * M);
    // The chain ends at 30. The first repeat tick (21: the group ticks each minute, the repeat is
    // due from 20) falls during the chain: it sends nothing and restarts the clock, so reminders
    // reach everyone notified at the ticks after 41 and 62.
    expect(log(c, t0)).toEqual([
      '0:slack:firing', '5:email:firing', '15:sms:firing',
      '42:email:firing', '42:slack:firing', '42:sms:firing',
      '63:email:firing', '63:slack:firing', '63:sms:firing',
    ]);
  });

  it('a silence during the chain pauses it: when the silence ends, the step that fell due meanwhile runs and the chain goes on', async () => {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = await silencedOverEmailStep(t);
    expect(log(c, t0)).toEqual(['0:slack:firing']);
    expect(t.pipeline.escalations()[0]).toMatchObject({ status: 'muted', step: 0 });
    await t.advance(7 * M); // the silence ends at +11.5, the group ticks at +12
    expect(log(c, t0)).toEqual(['0:slack:firing', '12:email:firing']);
    expect(t.pipeline.escalations()[0]).toMatchObject({ status: 'running', step: 1 });
    await t.advance(10 * M);
    expect(log(c, t0).slice(2)).toEqual(['22:sms:firing']);
  });

  it('an alert that resolved under a silence escalates from the first step when it fires again after it', async () => {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(2 * M);
    const s = t.pipeline.silences.upsert({ matchers: ['instance="a"'], endsAt: new Date(t0 + 60 * M).toISOString(), createdBy: 'kim', comment: 'deploy' });
    await t.advance(8 * M);
    await resolve(t, 'a', t0);
    await t.advance(5 * M);
    t.pipeline.silences.expire(s.id);
    await t.advance(30 * M);
    await fire(t, 'a', t.clock.now());
    const refired = t.clock.now();
    await t.advance(M);
    expect(log(c, t0)).toEqual(['0:slack:firing', `${(refired - t0) / M}:slack:firing`]);
  });

  it('a step still being retried when the alert is acknowledged is canceled, not delivered after the ack', async () => {
    const c = channels();
    // The mail server is down: the email step's message waits for its retry.
    c.email.script = [{ status: 'retryable', retryAfterMs: 10 * M, error: 'SMTP 421' }];
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(6 * M);
    expect(c.email.attempts).toHaveLength(1);
    t.pipeline.ack(fp(t, 'a'), { by: 'kim' });
    await t.advance(30 * M);
    expect(log(c, t0)).toEqual(['0:slack:firing']);
    const [mail] = t.pipeline.notifications({ status: 'canceled' });
    expect(mail).toMatchObject({ channel: 'email', attempts: 1, lastError: 'acknowledged by kim before it could be delivered' });
    expect(t.pipeline.timelineFor(fp(t, 'a')).some((e) => e.kind === 'notification_canceled')).toBe(true);
  });

  it.each([
    { name: 'the chain removed (its route given a receiver)', edit: { ...config, escalations: [], route: { receiver: 'team-slack', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m', repeatInterval: '4h' } } },
    { name: 'the step removed from the chain', edit: { ...config, escalations: [{ ...config.escalations[0], steps: [config.escalations[0].steps[0], config.escalations[0].steps[2]] }] } },
  ])('a step still being retried when a reload ends its paging ($name) is canceled, not delivered after', async ({ edit }) => {
    const c = channels();
    c.email.script = [{ status: 'retryable', retryAfterMs: 10 * M, error: 'SMTP 421' }];
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(6 * M);
    expect(c.email.attempts).toHaveLength(1);
    t = await t.reload(edit);
    await t.advance(30 * M);
    expect(log(c, t0).filter((l) => l.includes('email'))).toEqual([]);
    const [mail] = t.pipeline.notifications({ status: 'canceled' });
    expect(mail).toMatchObject({ channel: 'email', attempts: 1, lastError: expect.stringContaining('no longer pages') });
  });

  /** A pipeline whose alert `a` fired at t0 and was acknowledged a minute later. */
  /** Alert `a` fired a minute ago into a pipeline on `config` (its chain's Slack step sent). */
  async function firedAMinuteAgo() {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(M);
    return { c, t0, t }; // t is also kept outside, for afterEach to shut it down
  }

  async function firedAndAcked() {
    const { c, t0, t } = await firedAMinuteAgo();
    t.pipeline.ack(fp(t, 'a'), { by: 'kim' });
    return { c, t0, t };
  }

  it('an acknowledged alert that resolves and fires again between two group ticks escalates again', async () => {
    const { c, t0, t } = await firedAndAcked();
    await t.advance(M + 10_000);
    await resolve(t, 'a', t0);
    await t.advance(10_000);
    await fire(t, 'a', t.clock.now()); // a new episode at +2m20s: the ack of the first one has ended
    await t.advance(10 * M);
    expect(log(c, t0)).toEqual(['0:slack:firing', '3:slack:firing', '8:email:firing']);
  });

  it('the link of the Slack step acknowledges an alert that resolved and fired again unseen between two group ticks: the chain stops', async () => {
    const c = channels();
    t = await startTestPipeline({ ...config, route: { ...config.route, groupInterval: '5m' } }, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.settle();
    const link = c.slack.sent[0].alerts[0].links.ack as string;
    await t.advance(M);
    await resolve(t, 'a', t0);
    await t.advance(M);
    await fire(t, 'a', t.clock.now()); // a new episode nobody is told of: the flush at +5m sees it firing as before
    await t.advance(M);
    const token = link.slice(link.lastIndexOf('/') + 1);
    expect(t.pipeline.verifyAckToken(token).alert.labels.instance).toBe('a');
    expect(t.pipeline.ackWithToken(token, { by: 'kim' })).toMatchObject({ by: 'kim', via: 'link' });
    await t.advance(30 * M);
    expect(log(c, t0)).toEqual(['0:slack:firing']);
    // A link of an episode whose resolution was sent (a new sequence began) is still refused.
    await resolve(t, 'a', t.pipeline.alerts()[0].startsAt);
    await t.advance(5 * M);
    await fire(t, 'a', t.clock.now());
    expect(() => t!.pipeline.ackWithToken(token, { by: 'kim' })).toThrow(expect.objectContaining({ statusCode: 409 }));
  });

  it('an acknowledged alert that never resolved for the notification side keeps its ack when the engine reports a later start (flapping held the resolution back)', async () => {
    const { c, t0, t } = await firedAndAcked();
    await t.advance(2 * M);
    // Flapping stopped while firing: the engine sends its current state, whose episode started after a resolution it did not send.
    await t.pipeline.onTransition(alertEvent(labels('a'), 'firing', t0 + 2 * M, { flapping: false }));
    await t.advance(10 * M);
    expect(log(c, t0)).toEqual(['0:slack:firing']);
    expect(t.pipeline.ackFor(fp(t, 'a'))).toMatchObject({ by: 'kim' });
  });

  /** The same config with alerts grouped per instance: every group key changes. */
  const regrouped = { ...config, route: { ...config.route, groupBy: ['alertname', 'instance'] } };

  it('a running chain whose group is gone after a restart with a new grouping is dropped at the restart', async () => {
    const { c, t: started } = await firedAMinuteAgo();
    t = started;
    const old = t.pipeline.escalations()[0].groupKey;
    await t.pipeline.shutdown();
    t = await startTestPipeline(regrouped, [c.slack, c.email, c.sms], { clock: t.clock, dir: t.dir });
    expect(t.pipeline.escalations().map((e) => e.groupKey)).not.toContain(old); // not shown running until its next step
    await t.advance(5 * M); // the old chain's email step falls due: its group no longer exists
    const keys = t.pipeline.escalations().map((e) => e.groupKey);
    expect(keys).not.toContain(old);
    expect(keys).toHaveLength(1); // the alert's new group escalates on its own
  });

  it('reloads that change the routing during the chain (Slack → email → SMS) neither start it over nor skip a step', async () => {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(2 * M);
    t = await t.reload({ ...config, route: { ...config.route, groupInterval: '2m' } }); // during step 1's wait
    await t.advance(5 * M); // +7m: email at +5m
    t = await t.reload({ ...config, route: { ...config.route, groupInterval: '3m' } }); // during step 2's wait
    await t.advance(15 * M); // +22m: SMS at +15m
    expect(log(c, t0)).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing']);
    expect(t.pipeline.escalations()).toEqual([expect.objectContaining({ status: 'running', step: 2, cycle: 0 })]);
  });

  describe('the chain edited during the escalation (a reload or a restart with the new config)', () => {
    type Step = { notify: string[]; wait: string };
    const slack: Step = { notify: ['team-slack'], wait: '5m' };
    const email: Step = { notify: ['oncall-email'], wait: '10m' };
    const sms: Step = { notify: ['oncall-sms'], wait: '15m' };
    const pager: Step = { notify: ['pager'], wait: '5m' };
    const withSteps = (steps: Step[], repeat = 1) => ({
      ...config,
      receivers: receiversFor(['team-slack', 'oncall-email', 'oncall-sms', 'pager']),
      escalations: [{ name: 'oncall', repeat, steps }],
    });
    const applies: Array<{ name: string; apply: (t: TestPipeline, cfg: Record<string, unknown>, n: FakeNotifier[]) => Promise<TestPipeline> }> = [
      { name: 'reload', apply: (t, cfg) => t.reload(cfg) },
      {
        name: 'restart',
        apply: async (t, cfg, n) => {
          await t.pipeline.shutdown();
          return startTestPipeline(cfg, n, { clock: t.clock, dir: t.dir });
        },
      },
    ];

    /** Fires at t0 with slack → email → SMS (repeat 1), waits `at` minutes, applies `steps`, and runs 2h on. */
    async function edited(apply: (typeof applies)[number]['apply'], at: number, steps: Step[], repeat = 1, repeatAfter = repeat) {
      const c = { ...channels(), pager: new FakeNotifier('pager/webhook/0', 'pager', { channel: 'webhook' }) };
      const n = [c.slack, c.email, c.sms, c.pager];
      t = await startTestPipeline(withSteps([slack, email, sms], repeat), n);
      const t0 = t.clock.now();
      await fire(t, 'a', t0);
      await t.advance(at * M);
      t = await apply(t, withSteps(steps, repeatAfter), n);
      const after = t.pipeline.escalations()[0];
      await t.advance(120 * M);
      return { log: log(c as unknown as Chans, t0), after, c: c as unknown as Chans, t0 };
    }

    it.each(applies)('$name: a step inserted before the current one is skipped, the chain goes on from its step', async ({ apply }) => {
      const { log: sent, after } = await edited(apply, 2, [pager, slack, email, sms]); // during Slack's wait
      expect(after).toMatchObject({ status: 'running', step: 1 });
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing']);
    });

    it.each(applies)('$name: a step inserted after the current one runs in its turn', async ({ apply }) => {
      const { log: sent } = await edited(apply, 7, [slack, email, pager, sms]); // during email's wait
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:pager:firing', '20:sms:firing']);
    });

    it.each(applies)('$name: the current step removed, the next one is paged at once', async ({ apply }) => {
      const { log: sent, after } = await edited(apply, 2, [email, sms]); // a broken Slack step, during its wait
      expect(after).toMatchObject({ status: 'running', step: 0 });
      expect(sent).toEqual(['0:slack:firing', '2:email:firing', '12:sms:firing']);
    });

    it.each(applies)('$name: a step before the current one removed: the next step is not skipped, the next round runs the new steps', async ({ apply }) => {
      const { log: sent, after } = await edited(apply, 7, [email, sms], 2); // during email's wait
      expect(after).toMatchObject({ status: 'running', step: 0, cycle: 0 });
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '30:email:firing', '40:sms:firing']);
    });

    it.each(applies)("$name: the current step's wait changed: it counts from when the step ran", async ({ apply }) => {
      const shorter = await edited(apply, 2, [{ ...slack, wait: '3m' }, email, sms]);
      expect(shorter.log).toEqual(['0:slack:firing', '3:email:firing', '13:sms:firing']);
      await t?.close();
      const passed = await edited(apply, 2, [{ ...slack, wait: '1m' }, email, sms]); // already over: at once
      expect(passed.log).toEqual(['0:slack:firing', '2:email:firing', '12:sms:firing']);
      await t?.close();
      const longer = await edited(apply, 2, [{ ...slack, wait: '20m' }, email, sms]);
      expect(longer.log).toEqual(['0:slack:firing', '20:email:firing', '30:sms:firing']);
    });

    it.each(applies)('$name: a chain held by a silence whose current step was removed runs the next step when the silence ends', async ({ apply }) => {
      const c = { ...channels(), pager: new FakeNotifier('pager/webhook/0', 'pager', { channel: 'webhook' }) };
      const n = [c.slack, c.email, c.sms, c.pager];
      t = await startTestPipeline(withSteps([slack, email, sms]), n);
      const t0 = await silencedOverEmailStep(t);
      expect(t.pipeline.escalations()[0]).toMatchObject({ status: 'muted', step: 0 });
      t = await apply(t, withSteps([email, sms]), n);
      await t.advance(30 * M); // the silence ends at +11.5, the group ticks at +12
      expect(log(c as unknown as Chans, t0)).toEqual(['0:slack:firing', '12:email:firing', '22:sms:firing']);
    });

    it.each(applies)('$name: repeat lowered below the rounds already run: the chain ends after its current wait', async ({ apply }) => {
      const { log: sent, c, t0 } = await edited(apply, 32, [slack, email, sms], 2, 1); // round 2, during Slack's wait
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '30:slack:firing']);
      expect(t?.pipeline.escalations()).toEqual([expect.objectContaining({ status: 'exhausted' })]);
      t = await (t as TestPipeline).restart(); // and it stays ended
      await t.advance(60 * M);
      expect(log(c, t0)).toEqual(sent);
    });

    it.each(applies)('$name: a step added after the last one of a chain that ended unacknowledged is paged at once', async ({ apply }) => {
      const { log: sent, after } = await edited(apply, 40, [slack, email, sms, pager]); // ended at +30, nobody acknowledged
      expect(after).toMatchObject({ status: 'running', step: 3 });
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '40:pager:firing']);
      expect(t?.pipeline.escalations()).toEqual([expect.objectContaining({ status: 'exhausted', step: 3, cycle: 0 })]);
    });

    it.each(applies)('$name: a step added after the last one of a chain that ended and was acknowledged since: nothing goes on, nothing is recorded', async ({ apply }) => {
      const c = { ...channels(), pager: new FakeNotifier('pager/webhook/0', 'pager', { channel: 'webhook' }) };
      const n = [c.slack, c.email, c.sms, c.pager];
      t = await startTestPipeline(withSteps([slack, email, sms]), n);
      const t0 = t.clock.now();
      await fire(t, 'a', t0);
      await t.advance(35 * M); // ended at +30
      t.pipeline.ack(fp(t, 'a'), { by: 'kim' });
      const before = t.pipeline.timelineFor(fp(t, 'a')).length;
      t = await apply(t, withSteps([slack, email, sms, pager]), n);
      await t.advance(60 * M);
      expect(log(c as unknown as Chans, t0)).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing']);
      expect(t.pipeline.timelineFor(fp(t, 'a')).slice(before)).toEqual([]);
      expect(t.pipeline.escalations()).toEqual([expect.objectContaining({ status: 'exhausted', step: 2 })]);
    });

    it.each(applies)('$name: repeat raised for a chain that ended unacknowledged: the next round starts at once', async ({ apply }) => {
      const { log: sent } = await edited(apply, 40, [slack, email, sms], 1, 2);
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '40:slack:firing', '45:email:firing', '55:sms:firing']);
    });

    it.each(applies)('$name: a chain that ended stays ended when no step was added after its last one', async ({ apply }) => {
      const { log: sent } = await edited(apply, 40, [slack, email]); // a step removed: nothing after the last one
      expect(sent).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing']);
      expect(t?.pipeline.escalations()).toEqual([expect.objectContaining({ status: 'exhausted' })]);
    });

    it.each(applies)('$name: steps removed up to the end of the chain: the chain ends, nothing is paged again', async ({ apply }) => {
      const { log: sent } = await edited(apply, 7, [email]); // during email's wait: email was the last step left
      expect(sent).toEqual(['0:slack:firing', '5:email:firing']);
      expect(t?.pipeline.escalations()).toEqual([expect.objectContaining({ status: 'exhausted' })]);
    });
  });

  it('a running chain whose route no longer escalates (the config changed it to a receiver) pages no further step', async () => {
    const { c, t0, t: started } = await firedAMinuteAgo();
    t = started;
    await t.pipeline.shutdown();
    const toSlack = { ...config, route: { receiver: 'team-slack', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m', repeatInterval: '4h' } };
    t = await startTestPipeline(toSlack, [c.slack, c.email, c.sms], { clock: t.clock, dir: t.dir });
    expect(t.pipeline.escalations()).toEqual([]); // stopped at the restart, not shown running until its next step
    expect(t.pipeline.timelineFor(fp(t, 'a')).find((e) => e.kind === 'escalation_stopped')?.details).toMatchObject({ reason: 'gone', step: 1 });
    await t.advance(30 * M); // the chain's email and SMS steps would have fallen due
    expect(log(c, t0).filter((l) => !l.includes('slack'))).toEqual([]);
    expect(t.pipeline.escalations()).toEqual([]);
  });

  it('a route given a receiver and then its chain again (an edit reverted) escalates again from the first step, Slack not paged twice', async () => {
    const { c, t0, t: started } = await firedAMinuteAgo();
    t = started;
    await t.pipeline.shutdown();
    const toSms = { ...config, route: { receiver: 'oncall-sms', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m', repeatInterval: '4h' } };
    t = await startTestPipeline(toSms, [c.slack, c.email, c.sms], { clock: t.clock, dir: t.dir });
    await t.advance(M);
    t = await t.reload(config); // at +2m: the chain again
    await t.advance(20 * M);
    // The first step at +2m is the message Slack already had (same step, alert and episode: stored once), then email a wait later.
    expect(log(c, t0)).toEqual(['0:slack:firing', '1:sms:firing', '7:email:firing', '17:sms:firing']);
    expect(t.pipeline.escalations()).toEqual([expect.objectContaining({ chain: 'oncall', status: 'running', step: 2 })]);
  });

  it('a running chain whose route now escalates with another chain: the new chain starts, the old one pages no further step', async () => {
    const { c, t0, t: started } = await firedAMinuteAgo();
    t = started;
    await t.pipeline.shutdown();
    const other = {
      ...config,
      escalations: [...config.escalations, { name: 'sms-first', repeat: 1, steps: [{ notify: ['oncall-sms'], wait: '1h' }] }],
      // A groupInterval longer than the time since the last flush: the new chain starts at once
      // all the same (its first step was never sent), not at the group's next tick.
      route: { ...config.route, escalation: 'sms-first', groupInterval: '10m' },
    };
    t = await startTestPipeline(other, [c.slack, c.email, c.sms], { clock: t.clock, dir: t.dir });
    expect(log(c, t0)).toEqual(['0:slack:firing', '1:sms:firing']);
    await t.advance(30 * M);
    expect(log(c, t0)).toEqual(['0:slack:firing', '1:sms:firing']);
    expect(t.pipeline.escalations()).toEqual([expect.objectContaining({ chain: 'sms-first', status: 'running', step: 0 })]);
  });

  it('a chain held by a silence whose route now escalates with another chain: the new chain starts when the silence ends', async () => {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    const t0 = await silencedOverEmailStep(t);
    expect(t.pipeline.escalations()[0]).toMatchObject({ chain: 'oncall', status: 'muted' });
    const other = { ...config, escalations: [...config.escalations, { name: 'sms-first', repeat: 1, steps: [{ notify: ['oncall-sms'], wait: '1h' }] }], route: { ...config.route, escalation: 'sms-first' } };
    t = await t.reload(other);
    await t.advance(10 * M); // the silence ends at +11.5, the group ticks at +12
    expect(log(c, t0)).toEqual(['0:slack:firing', '12:sms:firing']);
    expect(t.pipeline.escalations()).toEqual([expect.objectContaining({ chain: 'sms-first', status: 'running', step: 0 })]);
  });

  it('a chain that ended unacknowledged whose route now escalates with another chain: the new chain starts', async () => {
    const c = channels();
    const once = { ...config, escalations: [{ ...config.escalations[0], repeat: 1 }] };
    t = await startTestPipeline(once, [c.slack, c.email, c.sms]);
    const t0 = t.clock.now();
    await fire(t, 'a', t0);
    await t.advance(40 * M); // Slack, email, SMS; ended at +30, nobody acknowledged
    expect(t.pipeline.escalations()[0]).toMatchObject({ chain: 'oncall', status: 'exhausted' });
    const managers = { ...once, escalations: [...once.escalations, { name: 'managers', repeat: 1, steps: [{ notify: ['oncall-email', 'oncall-sms'], wait: '1h' }] }], route: { ...once.route, escalation: 'managers' } };
    t = await t.reload(managers);
    await t.advance(M);
    expect(log(c, t0)).toEqual(['0:slack:firing', '5:email:firing', '15:sms:firing', '40:email:firing', '40:sms:firing']);
    expect(t.pipeline.escalations()).toEqual([expect.objectContaining({ chain: 'managers', status: 'running', step: 0 })]);
  });

  it('an acknowledged chain whose group is gone is forgotten with its notification log entry, not kept forever', async () => {
    const { c, t } = await firedAndAcked();
    const old = t.pipeline.escalations()[0];
    expect(old.status).toBe('acknowledged');
    await t.pipeline.shutdown();
    const next = await startTestPipeline(regrouped, [c.slack, c.email, c.sms], { clock: t.clock, dir: t.dir });
    try {
      await next.advance(119 * 60 * M);
      expect(next.pipeline.escalations().map((e) => e.groupKey)).toContain(old.groupKey); // within the retention
      await next.advance(3 * 60 * M);
      expect(next.pipeline.escalations().map((e) => e.groupKey)).not.toContain(old.groupKey);
    } finally {
      await next.close();
    }
  });

  it('acks count in metrics and the timeline says who acknowledged', async () => {
    const c = channels();
    t = await startTestPipeline(config, [c.slack, c.email, c.sms]);
    await fire(t, 'a', t.clock.now());
    await t.settle();
    t.pipeline.ack(fp(t, 'a'), { by: 'kim', comment: 'on it' });
    t.pipeline.ack(fp(t, 'a'), { by: 'lee' }); // second ack: returns the first
    expect(t.pipeline.ackFor(fp(t, 'a'))).toMatchObject({ by: 'kim', comment: 'on it', via: 'api' });
    const metrics = await t.registry.getSingleMetricAsString('periscope_alert_acks_total');
    expect(metrics).toContain('periscope_alert_acks_total{via="api"} 1');
    const ackEntry = t.pipeline.timelineFor(fp(t, 'a')).find((e) => e.kind === 'acknowledged');
    expect(ackEntry?.details).toMatchObject({ by: 'kim', comment: 'on it' });
  });
});
