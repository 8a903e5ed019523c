import { describe, expect, it } from 'vitest';
import { needsUpdate, nextEntry, type NflogEntry } from './dedup.ts';

const entry = (firing: string[], resolved: string[], timestamp = 1000): NflogEntry => ({ firing, resolved, timestamp, repeats: 0, episode: 500 });
const REPEAT = 3_600_000;

describe('dedup (Alertmanager needsUpdate)', () => {
  it.each([
    { name: 'first notification', entry: undefined, firing: ['a'], resolved: [], sendResolved: true, now: 2000, want: 'first' },
    { name: 'nothing firing, never notified', entry: undefined, firing: [], resolved: ['a'], sendResolved: true, now: 2000, want: undefined },
    { name: 'same firing set: no notification', entry: entry(['a'], []), firing: ['a'], resolved: [], sendResolved: true, now: 2000, want: undefined },
    { name: 'subset of notified firing: no notification', entry: entry(['a', 'b'], []), firing: ['a'], resolved: [], sendResolved: false, now: 2000, want: undefined },
    { name: 'new alert in group', entry: entry(['a'], []), firing: ['a', 'b'], resolved: [], sendResolved: true, now: 2000, want: 'new_alerts' },
    { name: 'after all-resolved, firing again is a first notification', entry: entry([], ['a']), firing: ['a'], resolved: [], sendResolved: true, now: 2000, want: 'first' },
    { name: 'all resolved (even without sendResolved)', entry: entry(['a'], []), firing: [], resolved: ['a'], sendResolved: false, now: 2000, want: 'all_resolved' },
    { name: 'all resolved, receiver knew nothing firing', entry: entry([], ['a']), firing: [], resolved: ['a', 'b'], sendResolved: true, now: 2000, want: undefined },
    { name: 'new resolved alert with sendResolved', entry: entry(['a', 'b'], []), firing: ['a'], resolved: ['b'], sendResolved: true, now: 2000, want: 'new_resolved' },
    { name: 'new resolved alert without sendResolved', entry: entry(['a', 'b'], []), firing: ['a'], resolved: ['b'], sendResolved: false, now: 2000, want: undefined },
    { name: 'repeat interval not yet elapsed', entry: entry(['a'], []), firing: ['a'], resolved: [], sendResolved: true, now: 1000 + REPEAT, want: undefined },
    { name: 'repeat interval elapsed', entry: entry(['a'], []), firing: ['a'], resolved: [], sendResolved: true, now: 1001 + REPEAT, want: 'repeat' },
  ])('$name', ({ entry: e, firing, resolved, sendResolved, now, want }) => {
    expect(needsUpdate(e, new Set(firing), new Set(resolved), sendResolved, REPEAT, now)).toBe(want);
  });

  it.each([
    { name: 'first starts an episode', prev: undefined, reason: 'first' as const, want: { repeats: 0, episode: 9000 } },
    { name: 'repeat counts up and keeps the episode', prev: { ...entry(['a'], []), repeats: 2 }, reason: 'repeat' as const, want: { repeats: 3, episode: 500 } },
    { name: 'a change resets the repeat count', prev: { ...entry(['a'], []), repeats: 2 }, reason: 'new_alerts' as const, want: { repeats: 0, episode: 500 } },
  ])('next entry: $name', ({ prev, reason, want }) => {
    expect(nextEntry(prev, reason, ['b', 'a'], [], 9000, 9000)).toMatchObject({ ...want, firing: ['a', 'b'], timestamp: 9000 });
  });
});
