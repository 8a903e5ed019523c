// The notify stage's memory: what it remembers per alert goes with the alert.
import { describe, expect, it } from 'vitest';
import type { Acks } from '../ack/acks.ts';
import type { Muter } from '../inhibit/muter.ts';
import type { Timeline } from '../timeline/timeline.ts';
import type { NotifyAlert } from './alert.ts';
import type { NotificationLog } from './dedup.ts';
import type { AggregationGroup } from './dispatcher.ts';
import { NotifyStage } from './notify-stage.ts';
import { Route } from './route.ts';

const T0 = Date.UTC(2026, 11, 7);

function alert(i: number, status: 'firing' | 'resolved', transitionId: number): NotifyAlert {
  return {
    fingerprint: `fp${i}`,
    labels: { alertname: 'PodCrashLooping', pod: `web-${i}` },
    annotations: {},
    status,
    state: status,
    severity: 'warning',
    value: null,
    startsAt: T0,
    endsAt: status === 'resolved' ? T0 + 1000 : null,
    transitionId,
    flapping: false,
    source: 'api',
    updatedAt: T0,
  };
}

function stage(muted: boolean) {
  const timeline: string[] = [];
  const muter: Muter = { mutes: () => (muted ? { kind: 'silence', by: 'maintenance' } : undefined) };
  const s = new NotifyStage({
    muter,
    nflog: { get: () => undefined, set: () => {} } as unknown as NotificationLog,
    acks: {} as Acks,
    timeline: { add: (fp: string, kind: string) => timeline.push(`${fp}:${kind}`) } as unknown as Timeline,
    send: () => {},
    sendResolved: () => true,
  });
  return { s, timeline };
}

describe('NotifyStage memos', () => {
  it.each([
    { name: 'unrouted alerts (no receiver configured)', muted: false, config: {}, kind: 'unrouted' },
    { name: 'alerts resolved while muted', muted: true, config: { receiver: 'team' }, kind: 'muted' },
  ])('$name: forgotten once resolved and flushed, each episode still recorded once', ({ muted, config, kind }) => {
    const { s, timeline } = stage(muted);
    const route = new Route({ ...config, groupBy: ['...'] });
    const n = 300;
    for (let i = 0; i < n; i++) {
      // One group per label set (groupBy '...'), as the dispatcher makes them; it drops the group after the resolved flush.
      const group: AggregationGroup = { key: `{}/{pod="web-${i}"}`, route, labels: {}, alerts: new Map(), hasFlushed: false };
      group.alerts.set(`fp${i}`, alert(i, 'firing', 1));
      s.flush(group, T0);
      s.flush(group, T0 + 1000);
      group.alerts.set(`fp${i}`, alert(i, 'resolved', 2));
      s.flush(group, T0 + 2000);
    }
    expect(timeline.filter((e) => e.endsWith(`:${kind}`))).toHaveLength(n);
    expect(s.memos).toBe(0);
  });
});
