import { afterEach, describe, expect, it } from 'vitest';
import { labelsFingerprint, type NotifyAlert } from '../dispatch/alert.ts';
import { alertEvent, FakeNotifier, receiversFor, startTestPipeline, type TestPipeline } from '../notify/testing/harness.ts';
import { Inhibitor } from './inhibitor.ts';
import { MuteTimings } from './mute-timings.ts';

function alert(labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing'): NotifyAlert {
  return {
    fingerprint: labelsFingerprint(labels),
    labels,
    annotations: {},
    status,
    state: status,
    severity: labels.severity ?? 'warning',
    value: null,
    startsAt: 0,
    endsAt: null,
    transitionId: 1,
    flapping: false,
    source: 'rules',
    updatedAt: 0,
  };
}

describe('inhibition', () => {
  const rule = { sourceMatchers: ['severity="critical"'], targetMatchers: ['severity="warning"'], equal: ['cluster'] };

  it.each([
    { name: 'firing source with equal labels mutes the target', others: [alert({ severity: 'critical', cluster: 'a' })], target: { severity: 'warning', cluster: 'a' }, muted: true },
    { name: 'different value of an equal label does not', others: [alert({ severity: 'critical', cluster: 'b' })], target: { severity: 'warning', cluster: 'a' }, muted: false },
    { name: 'equal label missing on both sides counts as equal', others: [alert({ severity: 'critical' })], target: { severity: 'warning' }, muted: true },
    { name: 'equal label missing on one side does not', others: [alert({ severity: 'critical' })], target: { severity: 'warning', cluster: 'a' }, muted: false },
    { name: 'a resolved source does not', others: [alert({ severity: 'critical', cluster: 'a' }, 'resolved')], target: { severity: 'warning', cluster: 'a' }, muted: false },
    { name: 'an alert that is no target is not muted', others: [alert({ severity: 'critical', cluster: 'a' })], target: { severity: 'info', cluster: 'a' }, muted: false },
  ])('$name', ({ others, target, muted }) => {
    const a = alert(target as Record<string, string>);
    const inhibitor = new Inhibitor([rule], () => [...others, a]);
    expect(inhibitor.mutes(a, { now: 0 })?.kind ?? 'none').toBe(muted ? 'inhibition' : 'none');
  });

  it('alerts matching both sides do not mute each other (Alertmanager two-sided rule)', () => {
    const both = { sourceMatchers: ['alertname="NodeDown"'], targetMatchers: ['alertname="NodeDown"'], equal: [] };
    const a = alert({ alertname: 'NodeDown', node: '1' });
    const b = alert({ alertname: 'NodeDown', node: '2' });
    const inhibitor = new Inhibitor([both], () => [a, b]);
    expect([inhibitor.mutes(a, { now: 0 }), inhibitor.mutes(b, { now: 0 })]).toEqual([undefined, undefined]);
  });
});

describe('mute timings (cron + time zone, node-cron)', () => {
  const timings = new MuteTimings([
    { name: 'seoul-nights', cron: '* 0-7 * * 1-5', timezone: 'Asia/Seoul' },
    { name: 'ny-office', cron: '* 9-16 * * 1-5', timezone: 'America/New_York' },
    { name: 'weekend', cron: '0 0 * * 6', durationMs: 48 * 3_600_000, timezone: 'Europe/Berlin' },
  ]);

  it.each([
    { name: 'Seoul Mon 07:59 (Sun 22:59Z) is in the night window', timing: 'seoul-nights', at: '2025-01-05T22:59:00Z', on: true },
    { name: 'Seoul Mon 08:00 is not', timing: 'seoul-nights', at: '2025-01-05T23:00:00Z', on: false },
    { name: 'Seoul Sat 03:00 is not a weekday', timing: 'seoul-nights', at: '2025-01-10T18:00:00Z', on: false },
    { name: 'New York 09:30 EST (14:30Z) is office time', timing: 'ny-office', at: '2025-03-07T14:30:00Z', on: true },
    { name: 'New York 08:30 EST (13:30Z) is not', timing: 'ny-office', at: '2025-03-07T13:30:00Z', on: false },
    { name: 'after DST, 13:30Z is 09:30 EDT and is office time', timing: 'ny-office', at: '2025-03-10T13:30:00Z', on: true },
    { name: 'duration: Berlin Sat 00:00 + 48h covers Sunday 23:59', timing: 'weekend', at: '2025-01-12T22:59:00Z', on: true },
    { name: 'duration: ends at Berlin Mon 00:00', timing: 'weekend', at: '2025-01-12T23:00:00Z', on: false },
    { name: 'duration: Friday evening is not yet', timing: 'weekend', at: '2025-01-10T22:00:00Z', on: false },
    { name: 'unknown timing is never on', timing: 'nope', at: '2025-01-10T22:00:00Z', on: false },
  ])('$name', ({ timing, at, on }) => {
    expect(timings.isActive(timing, Date.parse(at))).toBe(on);
  });

  it.each([
    { name: 'muteTimings on → muted', scope: { muteTimings: ['seoul-nights'] }, at: '2025-01-05T22:00:00Z', want: 'seoul-nights' },
    { name: 'muteTimings off → open', scope: { muteTimings: ['seoul-nights'] }, at: '2025-01-06T03:00:00Z', want: undefined },
    { name: 'activeTimings off → muted', scope: { activeTimings: ['ny-office'] }, at: '2025-03-07T13:30:00Z', want: 'outside active timings ny-office' },
    { name: 'activeTimings on → open', scope: { activeTimings: ['ny-office'] }, at: '2025-03-07T14:30:00Z', want: undefined },
  ])('route scope: $name', ({ scope, at, want }) => {
    expect(timings.mutes(alert({ a: '1' }), { now: Date.parse(at), ...scope })?.by).toBe(want);
  });
});

describe('inhibition and mute timings in the pipeline', () => {
  let t: TestPipeline | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('an inhibited alert is not notified while its source fires, and is once the source resolves', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(
      {
        receivers: receiversFor(['team']),
        route: { receiver: 'team', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m' },
        inhibitRules: [{ sourceMatchers: ['alertname="ClusterDown"'], targetMatchers: ['alertname="ApiSlow"'], equal: ['cluster'] }],
      },
      [n],
    );
    const t0 = t.clock.now();
    await t.pipeline.onTransition(alertEvent({ alertname: 'ClusterDown', cluster: 'c1' }, 'firing', t0));
    await t.pipeline.onTransition(alertEvent({ alertname: 'ApiSlow', cluster: 'c1' }, 'firing', t0));
    await t.advance(5 * 60_000);
    expect(n.sent.map((m) => m.commonLabels.alertname)).toEqual(['ClusterDown']);
    await t.pipeline.onTransition(alertEvent({ alertname: 'ClusterDown', cluster: 'c1' }, 'resolved', t0, { endsAt: new Date(t.clock.now()).toISOString() }));
    await t.advance(60_000);
    expect(n.sent.map((m) => `${m.commonLabels.alertname}:${m.status}`)).toEqual(['ClusterDown:firing', 'ClusterDown:resolved', 'ApiSlow:firing']);
  });

  it('a route muted by a timing in its time zone sends once the timing is over', async () => {
    const n = new FakeNotifier('team/webhook/0', 'team');
    t = await startTestPipeline(
      {
        receivers: receiversFor(['team']),
        muteTimings: [{ name: 'seoul-nights', cron: '* 0-7 * * *', timezone: 'Asia/Seoul' }],
        route: { receiver: 'team', groupWait: '0s', groupInterval: '5m', muteTimings: ['seoul-nights'] },
      },
      [n],
    );
    // The harness clock starts at 2025-01-06T12:00Z = 21:00 Seoul; move to 22:30Z = 07:30 Seoul.
    await t.advance(10.5 * 3_600_000);
    await t.pipeline.onTransition(alertEvent({ alertname: 'Night' }, 'firing', t.clock.now()));
    await t.advance(25 * 60_000); // 07:55 Seoul: still muted
    expect(n.sent).toHaveLength(0);
    await t.advance(10 * 60_000); // 08:05 Seoul
    expect(n.sent).toHaveLength(1);
  });
});
