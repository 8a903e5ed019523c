import { describe, expect, it } from 'vitest';
import { isTimeZone, zonedTime } from './zoned-time.ts';

const iso = (t: number) => new Date(t).toISOString();

describe('zonedTime: a wall-clock time read in an IANA zone', () => {
  const berlin = zonedTime('Europe/Berlin');
  const newYork = zonedTime('America/New_York');

  it('takes the zone offset in force at that date: daylight saving time or not', () => {
    expect(iso(berlin(2026, 6, 1, 12, 0, 0, 0))).toBe('2026-07-01T10:00:00.000Z'); // CEST, +2
    expect(iso(berlin(2026, 0, 1, 12, 0, 0, 0))).toBe('2026-01-01T11:00:00.000Z'); // CET, +1
    expect(iso(newYork(2026, 0, 1, 23, 30, 0, 0))).toBe('2026-01-02T04:30:00.000Z'); // EST, -5: the next UTC day
  });

  it('half-hour offsets and milliseconds', () => {
    expect(iso(zonedTime('Asia/Kolkata')(2026, 0, 1, 5, 30, 0, 123))).toBe('2026-01-01T00:00:00.123Z');
  });

  it('around the start of daylight saving time: the skipped hour is read on the clock before the change', () => {
    // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z)
    expect(iso(berlin(2026, 2, 29, 1, 59, 0, 0))).toBe('2026-03-29T00:59:00.000Z');
    expect(iso(berlin(2026, 2, 29, 2, 30, 0, 0))).toBe('2026-03-29T01:30:00.000Z'); // 02:30 CET
    expect(iso(berlin(2026, 2, 29, 3, 0, 0, 0))).toBe('2026-03-29T01:00:00.000Z');
    // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT
    expect(iso(newYork(2026, 2, 8, 2, 30, 0, 0))).toBe('2026-03-08T07:30:00.000Z'); // 02:30 EST
  });

  it('around the end of daylight saving time: the repeated hour is its first occurrence', () => {
    // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens at 00:30Z and 01:30Z
    expect(iso(berlin(2026, 9, 25, 2, 30, 0, 0))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(berlin(2026, 9, 25, 3, 30, 0, 0))).toBe('2026-10-25T02:30:00.000Z');
    // New York, 2026-11-01: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST)
    expect(iso(newYork(2026, 10, 1, 1, 30, 0, 0))).toBe('2026-11-01T05:30:00.000Z');
    expect(iso(newYork(2026, 10, 1, 2, 30, 0, 0))).toBe('2026-11-01T07:30:00.000Z');
  });

  it('UTC is Date.UTC itself; an unknown zone is told apart', () => {
    expect(zonedTime('UTC')).toBe(Date.UTC);
    expect(zonedTime('Etc/UTC')).toBe(Date.UTC);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});
