import { describe, expect, it } from 'vitest';
import { timestampToMicros } from './log-filter.ts';

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
