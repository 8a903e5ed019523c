import { describe, expect, it } from 'vitest';
import { rfc3339Micros } from '../src/record.ts';

/** Reference: Date's own formatting of the millisecond, then the microsecond digits. */
function reference(epochMs: number, extraMicros = 0): string {
  const ms = Math.floor(epochMs);
  const micros = Math.min(999, Math.max(0, Math.round((epochMs - ms) * 1000) + extraMicros));
  return `${new Date(ms).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

describe('rfc3339Micros', () => {
  it('formats microseconds, across second boundaries and back and forth between seconds', () => {
    const t = Date.UTC(2026, 11, 4, 23, 59, 59, 998);
    const times = [t, t + 0.001, t + 1.999, t + 2, t + 2.5, t - 1000.25, t + 2.75, t + 86_400_000, t];
    for (const x of times) expect(rfc3339Micros(x)).toBe(reference(x));
    expect(rfc3339Micros(t + 1.999)).toBe('2026-12-04T23:59:59.999999Z');
    expect(rfc3339Micros(t + 2)).toBe('2026-12-05T00:00:00.000000Z');
  });

  it('adds extra microseconds, clamped to the millisecond', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5, 123);
    expect(rfc3339Micros(t, 456)).toBe('2026-01-02T03:04:05.123456Z');
    expect(rfc3339Micros(t + 0.9, 500)).toBe('2026-01-02T03:04:05.123999Z');
    expect(rfc3339Micros(t, -5)).toBe('2026-01-02T03:04:05.123000Z');
  });

  it('matches the reference for random times, before 1970 and in the extended-year form', () => {
    for (let i = 0; i < 5000; i++) {
      const x = Math.random() * 4e12 - 1e12;
      expect(rfc3339Micros(x)).toBe(reference(x));
    }
    expect(rfc3339Micros(-1.5)).toBe('1969-12-31T23:59:59.998500Z');
    expect(rfc3339Micros(253402300800000.25)).toBe('+010000-01-01T00:00:00.000250Z');
  });
});
