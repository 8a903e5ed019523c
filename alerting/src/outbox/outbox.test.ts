// Delivery from the outbox on a fake clock: backoff with Retry-After, permanent failures, giving up,
// the circuit breaker, the per-webhook rate limit, and failures visible in API/metrics/timeline.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.ts';
import { alertEvent, FakeNotifier, receiversFor, startTestPipeline, type TestPipeline } from '../notify/testing/harness.ts';
import { CircuitBreaker } from './breaker.ts';
import { retryDelayMs } from './backoff.ts';

const S = 1000;

const config = (delivery: Record<string, unknown> = {}) => ({
  receivers: receiversFor(['team']),
  route: { receiver: 'team', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1h' },
  delivery: { maxAttempts: 4, backoffBase: '1s', backoffCap: '1m', breakerFailures: 3, breakerCooldown: '1m', ...delivery },
});

let t: TestPipeline | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function setup(n: FakeNotifier, delivery?: Record<string, unknown>) {
  t = await startTestPipeline(config(delivery), [n]);
  return t;
}

const rel = (n: FakeNotifier, t0: number) => n.attempts.map((a) => (a - t0) / S);

describe('backoff', () => {
  it.each([
    { name: 'full jitter: random 0 → 0', attempt: 3, retryAfter: undefined, random: 0, want: 0 },
    { name: 'full jitter: ceiling doubles', attempt: 3, retryAfter: undefined, random: 0.5, want: 4000 },
    { name: 'capped', attempt: 20, retryAfter: undefined, random: 0.999, want: 59_940 },
    { name: 'never before Retry-After', attempt: 0, retryAfter: 30_000, random: 0.9, want: 30_000 },
    { name: 'backoff above Retry-After wins', attempt: 5, retryAfter: 1000, random: 0.5, want: 16_000 },
  ])('$name', ({ attempt, retryAfter, random, want }) => {
    expect(retryDelayMs({ baseMs: 1000, capMs: 60_000 }, attempt, retryAfter, () => random)).toBe(want);
  });
});

describe('circuit breaker', () => {
  it('opens after N retryable failures, allows one trial after the cooldown, closes on success', () => {
    const b = new CircuitBreaker(2, 1000);
    expect(b.tryAcquire(0)).toBe(true);
    expect(b.failure(0)).toBeUndefined();
    expect(b.state(0)).toBe('closed');
    expect(b.failure(0)).toBe('opened');
    expect([b.state(500), b.tryAcquire(500)]).toEqual(['open', false]);
    expect([b.state(1000), b.tryAcquire(1000), b.tryAcquire(1000)]).toEqual(['half_open', true, false]);
    expect(b.failure(1000)).toBe('reopened'); // a failed trial: no news to log
    expect([b.state(1500), b.readyAt(1500)]).toEqual(['open', 2000]);
    expect(b.tryAcquire(2000)).toBe(true);
    expect(b.success(2500)).toBe(2500); // open since its first opening, at 0
    expect(b.state(2500)).toBe('closed');
    expect(b.success(2600)).toBeUndefined();
  });
});

describe('outbox delivery (fake clock)', () => {
  it('retries with full-jitter backoff and never before Retry-After', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = [{ status: 'retryable', retryAfterMs: 10 * S, error: 'HTTP 429' }, { status: 'retryable', error: 'HTTP 503' }];
    await setup(n);
    const t0 = t!.clock.now();
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', t0));
    await t!.advance(60 * S);
    // random = 0.5: retry 1 at max(10s, 0.5 × 1s); retry 2 at +0.5 × 2s.
    expect(rel(n, t0)).toEqual([0, 10, 11]);
    expect(n.sent).toHaveLength(1);
    const [row] = t!.pipeline.notifications();
    expect(row).toMatchObject({ status: 'sent', attempts: 3 });
    const kinds = t!.pipeline.timelineFor(row.fingerprints[0]).map((e) => e.kind);
    expect(kinds.filter((k) => k.startsWith('notification_'))).toEqual(['notification_queued', 'notification_retry', 'notification_retry', 'notification_sent']);
  });

  it.each([
    { name: 'a permanent error fails at once', script: [{ status: 'permanent' as const, error: 'HTTP 400' }], attempts: 1, reason: 'permanent', error: 'HTTP 400' },
    {
      name: 'retryable errors fail after maxAttempts',
      script: Array.from({ length: 10 }, () => ({ status: 'retryable' as const, error: 'HTTP 500' })),
      attempts: 4,
      reason: 'exhausted',
      error: 'gave up after 4 attempts: HTTP 500',
    },
  ])('$name — visible in the API, metrics and the alert timeline', async ({ script, attempts, reason, error }) => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = [...script];
    await setup(n, { breakerFailures: 100 });
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', t!.clock.now()));
    await t!.advance(10 * 60 * S);
    const failed = t!.pipeline.notifications({ status: 'failed' });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ attempts, lastError: error, channel: 'webhook', integration: 'team/webhook/0' });
    expect(await t!.registry.getSingleMetricAsString('periscope_notification_failures_total')).toContain(`periscope_notification_failures_total{channel="webhook",reason="${reason}"} 1`);
    const entry = t!.pipeline.timelineFor(failed[0].fingerprints[0]).find((e) => e.kind === 'notification_failed');
    expect(entry?.details).toMatchObject({ error, integration: 'team/webhook/0' });
    // An operator can put it back in the queue.
    n.script = [];
    t!.pipeline.retryNotification(failed[0].id);
    await t!.settle();
    expect(t!.pipeline.notifications({ status: 'sent' })).toHaveLength(1);
  });

  it('opens the circuit breaker: no attempts during the cooldown, then one trial', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = Array.from({ length: 3 }, () => ({ status: 'retryable' as const, error: 'HTTP 503' }));
    await setup(n, { maxAttempts: 100, breakerFailures: 3, breakerCooldown: '1m', backoffBase: '100ms', backoffCap: '200ms' });
    const t0 = t!.clock.now();
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', t0));
    await t!.pipeline.onTransition(alertEvent({ alertname: 'B' }, 'firing', t0));
    await t!.advance(59 * S);
    expect(n.attempts).toHaveLength(3);
    expect(await t!.registry.getSingleMetricAsString('periscope_notification_circuit_open')).toContain('{integration="team/webhook/0"} 1');
    await t!.advance(2 * S);
    expect(n.sent).toHaveLength(2);
    const afterOpen = rel(n, t0).slice(3);
    expect(afterOpen[0]).toBeGreaterThanOrEqual(60);
  });

  it('logs an outage of an integration twice, when its breaker opens and when it closes, not at each failed trial', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = Array.from({ length: 13 }, () => ({ status: 'retryable' as const, error: 'HTTP 503' })); // 3 to open, then 10 trials
    const lines: Array<{ level: string; msg: string }> = [];
    const logger = { warn: (_: unknown, msg?: string) => lines.push({ level: 'warn', msg: msg ?? '' }), error: (_: unknown, msg?: string) => lines.push({ level: 'error', msg: msg ?? '' }), info: (_: unknown, msg?: string) => lines.push({ level: 'info', msg: msg ?? '' }) };
    t = await startTestPipeline(config({ maxAttempts: 100, breakerFailures: 3, breakerCooldown: '1m', backoffBase: '100ms', backoffCap: '200ms' }), [n], { logger });
    const t0 = t.clock.now();
    await t.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', t0));
    await t.advance(12 * 60 * S);
    expect(n.attempts).toHaveLength(14); // 13 failures, then the trial that succeeds
    expect(n.sent).toHaveLength(1);
    expect(lines).toEqual([
      { level: 'warn', msg: expect.stringMatching(/^integration team\/webhook\/0 is failing \(HTTP 503\): circuit breaker opened, its notifications wait; a trial every 60 s$/) },
      { level: 'info', msg: expect.stringMatching(/^integration team\/webhook\/0 answers again after 6\d\d s: circuit breaker closed/) },
    ]);
  });

  it('a reload keeps an open circuit breaker open and a Retry-After in effect: no burst to a backend that is down or rate-limiting', async () => {
    const n = new FakeNotifier('team/slack/0', 'team', { channel: 'slack', rateLimit: { key: 'hook', minIntervalMs: 1000 } });
    n.script = Array.from({ length: 3 }, () => ({ status: 'retryable' as const, error: 'HTTP 503' }));
    await setup(n, { maxAttempts: 100, breakerFailures: 3, breakerCooldown: '1m', backoffBase: '100ms', backoffCap: '200ms' });
    const t0 = t!.clock.now();
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', t0));
    await t!.advance(10 * S);
    expect(n.attempts).toHaveLength(3); // the breaker is open until +1m
    // The routing changed (another groupInterval): the pipeline is replaced.
    t = await t!.reload({ ...config({ maxAttempts: 100, breakerFailures: 3, breakerCooldown: '1m', backoffBase: '100ms', backoffCap: '200ms' }), route: { ...config().route, groupInterval: '2h' } });
    await t.pipeline.onTransition(alertEvent({ alertname: 'B' }, 'firing', t0 + 10 * S));
    await t.advance(40 * S);
    expect(n.attempts).toHaveLength(3);
    await t.advance(15 * S); // +65s: the trial, then the rest
    expect(n.sent.map((m) => m.alerts[0].labels.alertname).sort()).toEqual(['A', 'B']);

    // A 429's Retry-After for the webhook holds the next pipeline's messages too.
    n.script = [{ status: 'retryable', retryAfterMs: 30 * S, error: 'HTTP 429' }];
    const t1 = t.clock.now();
    await t.pipeline.onTransition(alertEvent({ alertname: 'C' }, 'firing', t1));
    await t.advance(2 * S);
    t = await t.reload();
    await t.pipeline.onTransition(alertEvent({ alertname: 'D' }, 'firing', t.clock.now()));
    await t.advance(20 * S);
    expect(n.attempts.filter((a) => a > t1)).toHaveLength(0);
    expect(rel(n, t1).filter((a) => a >= 0)).toEqual([0]);
  });

  it('spaces messages to one rate key (Slack: 1 per second per webhook)', async () => {
    const n = new FakeNotifier('team/slack/0', 'team', { channel: 'slack', rateLimit: { key: 'hook', minIntervalMs: 1000 } });
    await setup(n);
    const t0 = t!.clock.now();
    for (const name of ['A', 'B', 'C']) await t!.pipeline.onTransition(alertEvent({ alertname: name }, 'firing', t0));
    await t!.advance(5 * S);
    expect(rel(n, t0)).toEqual([0, 1, 2]);
  });

  it('a 429 Retry-After holds every message to that webhook, not only the one refused', async () => {
    const n = new FakeNotifier('team/slack/0', 'team', { channel: 'slack', rateLimit: { key: 'hook', minIntervalMs: 1000 } });
    n.script = [{ status: 'retryable', retryAfterMs: 30 * S, error: 'HTTP 429' }];
    await setup(n);
    const t0 = t!.clock.now();
    // Three groups: A is refused with Retry-After 30s; B and C must wait it out as well.
    for (const name of ['A', 'B', 'C']) await t!.pipeline.onTransition(alertEvent({ alertname: name }, 'firing', t0));
    await t!.advance(60 * S);
    expect(rel(n, t0)).toEqual([0, 30, 31, 32]);
    expect(n.sent).toHaveLength(3);
  });

  it('an identical notification decided twice is stored and sent once (idempotency key)', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    await setup(n);
    const t0 = t!.clock.now();
    const ev = alertEvent({ alertname: 'A' }, 'firing', t0);
    await t!.pipeline.onTransition(ev);
    await t!.advance(S);
    // Restart, forget the notification log, and replay: the outbox key still holds.
    const t2 = await t!.restart();
    t = t2;
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(`${t2.dir}/alerting.db`);
    db.exec('DELETE FROM notify_nflog');
    db.close();
    const t3 = await t2.restart();
    t = t3;
    await t3.advance(2 * S);
    expect(n.sent).toHaveLength(1);
    expect(t3.pipeline.notifications()).toHaveLength(1);
  });
});

describe('outbox order', () => {
  it('a group\'s later message waits for its earlier one still being retried: the resolved notice never arrives before the firing one', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = [{ status: 'retryable', retryAfterMs: 30 * S, error: 'HTTP 503' }];
    t = await startTestPipeline({ ...config(), route: { receiver: 'team', groupBy: ['alertname'], groupWait: '0s', groupInterval: '5s' } }, [n]);
    const t0 = t.clock.now();
    const firing = alertEvent({ alertname: 'A' }, 'firing', t0);
    await t.pipeline.onTransition(firing);
    await t.advance(S);
    await t.pipeline.onTransition({ ...alertEvent({ alertname: 'A' }, 'resolved', t0 + S), startsAt: firing.startsAt });
    await t.advance(60 * S);
    expect(n.summary()).toEqual(['firing:A', 'resolved:A(r)']);
    expect(rel(n, t0)).toEqual([0, 30, 30]);
  });
});

// Retries, Retry-After, cooldowns and Slack's spacing are elapsed time; the clock is the host's wall
// clock, which NTP, a resumed VM or `date -s` can step.
describe('a step of the wall clock (fake clock)', () => {
  class SteppedClock extends FakeClock {
    step = 0;
    override now() {
      return super.now() + this.step;
    }
  }
  const H = 3_600_000;
  async function stepped(n: FakeNotifier, delivery?: Record<string, unknown>) {
    const clock = new SteppedClock(Date.UTC(2025, 0, 6, 12, 0, 0));
    t = await startTestPipeline(config(delivery), [n], { clock });
    return clock;
  }

  it('an hour back does not hold the next Slack message behind the spacing of the last one for an hour', async () => {
    const n = new FakeNotifier('team/slack/0', 'team', { channel: 'slack', rateLimit: { key: 'hook', minIntervalMs: 1000 } });
    const clock = await stepped(n);
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', clock.now()));
    await t!.advance(S / 2);
    expect(n.sent).toHaveLength(1);
    clock.step = -H;
    await t!.pipeline.onTransition(alertEvent({ alertname: 'B' }, 'firing', clock.now()));
    await t!.advance(2 * S);
    expect(n.sent.map((m) => m.alerts[0].labels.alertname)).toEqual(['A', 'B']);
  });

  it('an hour back does not hold a retry, its Retry-After or an open breaker for an hour', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = [{ status: 'retryable', retryAfterMs: 30 * S, error: 'HTTP 429' }];
    const clock = await stepped(n, { breakerFailures: 1, breakerCooldown: '20s' });
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', clock.now()));
    await t!.advance(10 * S);
    expect(n.attempts).toHaveLength(1);
    clock.step = -H;
    await t!.advance(19 * S);
    expect(n.attempts).toHaveLength(1); // not before its Retry-After either
    await t!.advance(2 * S);
    expect(n.sent).toHaveLength(1);
  });

  it('two hours forward does not give up the pending notifications as older than delivery.maxAge', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    n.script = [{ status: 'retryable', retryAfterMs: 30 * S, error: 'HTTP 503' }, { status: 'retryable', retryAfterMs: 30 * S, error: 'HTTP 503' }];
    const clock = await stepped(n, { maxAge: '1h' });
    await t!.pipeline.onTransition(alertEvent({ alertname: 'A' }, 'firing', clock.now()));
    await t!.advance(10 * S);
    clock.step = 2 * H;
    await t!.advance(60 * S);
    expect(n.attempts).toHaveLength(3);
    expect(n.sent).toHaveLength(1);
  });
});
