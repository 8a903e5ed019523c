import { describe, expect, it } from 'vitest';
import { PeriscopeError } from '../errors.ts';
import { parseLogFilter, timestampToMicros } from './log-filter.ts';

describe('parseLogFilter', () => {
  it('reads every filter key, and the endpoint\'s own keys pass', () => {
    const f = parseLogFilter({ service: 'api', severity: 'warning', start: '1000', end: '2000', traceId: 'A'.repeat(32), q: ' boom ', 'attr.user.id': 'u1', 'sd.order@1.currency': 'EUR', limit: '5', cursor: 'c' }, ['limit', 'cursor']);
    expect(f).toEqual({
      service: 'api', maxSeverity: 4, startMicros: 1_000_000, endMicros: 2_000_000, traceId: 'a'.repeat(32), q: 'boom',
      attrs: [{ key: 'user.id', value: 'u1' }], sd: [{ id: 'order@1', param: 'currency', value: 'EUR' }],
    });
  });

  it('refuses an unknown key, one given twice, and attr. without a key, naming it', () => {
    const keyOf = (query: Record<string, string | string[]>, other: string[] = []) => {
      try {
        parseLogFilter(query, other);
      } catch (err) {
        return [(err as PeriscopeError).statusCode, ((err as PeriscopeError).details as { key?: string }).key, (err as Error).message];
      }
      return 'accepted';
    };
    expect(keyOf({ level: 'error' })).toEqual([400, 'level', expect.stringContaining('level: unknown parameter (use service, severity,')]);
    expect(keyOf({ limit: '5' })).toEqual([400, 'limit', expect.stringContaining('unknown parameter')]); // not this endpoint's
    expect(keyOf({ limit: '5' }, ['limit'])).toBe('accepted');
    expect(keyOf({ service: ['a', 'b'] })).toEqual([400, 'service', 'service: given more than once']);
    expect(keyOf({ 'attr.': 'x' })).toEqual([400, 'attr.', 'attr.: expected attr.<key>']);
  });
});

describe('timestampToMicros', () => {
  it('keeps the microsecond digits of the canonical form', () => {
    expect(timestampToMicros('2026-03-04T05:06:07.123456Z')).toBe(Date.UTC(2026, 2, 4, 5, 6, 7, 123) * 1000 + 456);
  });

  it('gives the same instant for the canonical form and its equivalents', () => {
    // The canonical form takes a positional fast path; offsets and other precisions take the regex.
    for (let i = 0; i < 200; i++) {
      const ms = Date.UTC(2000, 0, 1) + Math.floor(Math.random() * 40 * 365 * 86_400_000);
      const micros = Math.floor(Math.random() * 1000);
      const iso = new Date(ms).toISOString();
      const canonical = `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
      const expected = ms * 1000 + micros;
      expect(timestampToMicros(canonical)).toBe(expected);
      expect(timestampToMicros(`${canonical.slice(0, 26)}000Z`)).toBe(expected); // nanoseconds
      const shifted = new Date(ms + 90 * 60_000).toISOString(); // the same instant at +01:30
      expect(timestampToMicros(`${shifted.slice(0, 23)}${String(micros).padStart(3, '0')}+01:30`)).toBe(expected);
    }
  });

  it('rejects impossible dates and non-digits in the canonical shape', () => {
    for (const bad of ['2026-02-30T00:00:00.000000Z', '2026-13-01T00:00:00.000000Z', '2026-01-01T24:00:00.000000Z', '2026-01-01T00:00:00.00000xZ', '2026-0a-01T00:00:00.000000Z']) {
      expect(timestampToMicros(bad), bad).toBeNaN();
    }
  });
});
