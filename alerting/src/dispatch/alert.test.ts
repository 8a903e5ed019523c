import { describe, expect, it } from 'vitest';
import { fromAlertEvent, labelsFingerprint, parsePostableAlert } from './alert.ts';
import { alertEvent } from '../notify/testing/harness.ts';

const NOW = Date.UTC(2025, 0, 6, 12);
const FIVE_MIN = 300_000;

describe('normalising the two inputs', () => {
  it.each([
    { name: 'empty label set (FNV-1a 64 offset basis)', labels: {}, want: 'cbf29ce484222325' },
    // prometheus/common model TestMetricToFingerprint: 5799056148416392346
    { name: 'prometheus/common reference vector', labels: { name: 'garland, briggs', fear: 'love is not enough' }, want: '507a62d79ee76c9a' },
    { name: 'label order does not matter', labels: { fear: 'love is not enough', name: 'garland, briggs' }, want: '507a62d79ee76c9a' },
  ])('Alertmanager fingerprint: $name', ({ labels, want }) => {
    expect(labelsFingerprint(labels as Record<string, string>)).toBe(want);
  });

  it.each([
    { name: 'no times: starts now, resolves after resolveTimeout', raw: { labels: { a: '1' } }, want: { status: 'firing', startsAt: NOW, endsAt: NOW + FIVE_MIN } },
    { name: 'endsAt in the past: resolved', raw: { labels: { a: '1' }, startsAt: '2025-01-06T11:00:00Z', endsAt: '2025-01-06T11:30:00Z' }, want: { status: 'resolved', endsAt: Date.parse('2025-01-06T11:30:00Z') } },
    { name: 'only endsAt: startsAt = endsAt', raw: { labels: { a: '1' }, endsAt: '2025-01-06T13:00:00Z' }, want: { status: 'firing', startsAt: Date.parse('2025-01-06T13:00:00Z') } },
    { name: 'Go zero time means unset', raw: { labels: { a: '1' }, endsAt: '0001-01-01T00:00:00Z' }, want: { endsAt: NOW + FIVE_MIN } },
    { name: 'empty label values dropped', raw: { labels: { a: '1', b: '' } }, want: { labels: { a: '1' } } },
    { name: 'severity label and value annotation used', raw: { labels: { a: '1', severity: 'page' }, annotations: { value: '0.93' } }, want: { severity: 'page', value: 0.93 } },
  ])('postable alert: $name', ({ raw, want }) => {
    const r = parsePostableAlert(raw, NOW, FIVE_MIN);
    expect(r.errors).toEqual([]);
    expect(r.alert).toMatchObject({ source: 'api', ...want });
  });

  it.each([
    { name: 'not an object', raw: 'x', error: 'expected an object' },
    { name: 'no labels', raw: { labels: {} }, error: 'labels: at least one label pair is required' },
    { name: 'bad label name', raw: { labels: { 'a-b': '1' } }, error: 'labels.a-b: invalid label name' },
    { name: 'non-string value', raw: { labels: { a: 1 } }, error: 'labels.a: expected a string' },
    { name: 'bad time', raw: { labels: { a: '1' }, startsAt: 'noon' }, error: 'startsAt: expected an RFC 3339 timestamp' },
    { name: 'a time without a zone', raw: { labels: { a: '1' }, startsAt: '2025-01-06T12:00:00' }, error: 'startsAt: expected an RFC 3339 timestamp with its zone' },
    { name: 'ends before it starts', raw: { labels: { a: '1' }, startsAt: '2025-01-06T12:00:00Z', endsAt: '2025-01-06T11:00:00Z' }, error: 'endsAt: before startsAt' },
  ])('postable alert rejected: $name', ({ raw, error }) => {
    const r = parsePostableAlert(raw, NOW, FIVE_MIN);
    expect(r.alert).toBeUndefined();
    expect(r.errors.join('; ')).toContain(error);
  });

  it.each([
    { name: 'firing', state: 'firing' as const, want: { status: 'firing', state: 'firing', endsAt: null } },
    { name: 'nodata stays active (never resolved)', state: 'nodata' as const, want: { status: 'firing', state: 'nodata' } },
    { name: 'error stays active (never resolved)', state: 'error' as const, want: { status: 'firing', state: 'error' } },
    { name: 'resolved', state: 'resolved' as const, want: { status: 'resolved', state: 'resolved' } },
  ])('rules transition: $name', ({ state, want }) => {
    expect(fromAlertEvent(alertEvent({ alertname: 'X' }, state, NOW), NOW)).toMatchObject({ source: 'rules', ...want });
  });

  it('a pending transition is not part of the stream', () => {
    expect(fromAlertEvent(alertEvent({ alertname: 'X' }, 'pending', NOW), NOW)).toBeUndefined();
  });
});
