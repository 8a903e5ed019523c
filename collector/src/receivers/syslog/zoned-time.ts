// The instant of a wall-clock time read in an IANA time zone: what an RFC 3164 TIMESTAMP
// ("Mar  1 00:01:23", no zone, https://www.rfc-editor.org/rfc/rfc3164#section-4.1.2) means when
// its sender's clock is set to local time, as network devices' often are (syslog-ng's
// recv-time-zone(), Vector's timezone). Zone rules come from the ICU data Node ships (Intl).
//
// A local time that occurs twice (the hour repeated when daylight saving time ends) is read as
// its first occurrence; one that does not occur (the hour skipped when it starts) as the same
// reading on the clock before the change, i.e. an hour later than written on the new one.

import { FormatRegistry } from '@sinclair/typebox';

/** Wall-clock fields → epoch ms; months 0-based, as Date.UTC (which is the ZonedTime of UTC). */
export type ZonedTime = (year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number) => number;

const HOUR_MS = 3_600_000;
/** Offsets cached per hour of UTC time: zones change offset on (at least quarter) hour boundaries. */
const CACHE_HOURS = 96;

/** True when `zone` is a time zone Intl knows (an IANA name such as Europe/Berlin, or UTC). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
// TypeBox's Value.Check (the syslog receiver checks its slice) knows only registered formats.
FormatRegistry.Set('time-zone', isTimeZone);

/** The ZonedTime of `zone` (throws RangeError for a zone Intl does not know: check isTimeZone first). */
export function zonedTime(zone: string): ZonedTime {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  if (format.resolvedOptions().timeZone === 'UTC') return Date.UTC;
  const cache = new Map<number, number>();
  /** The zone's offset from UTC (ms) at instant `t`. */
  const offsetAt = (t: number): number => {
    const key = Math.floor(t / (HOUR_MS / 4));
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const whole = t - (((t % 1000) + 1000) % 1000);
    const offset = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
    if (cache.size >= CACHE_HOURS * 4) cache.clear();
    cache.set(key, offset);
    return offset;
  };
  return (year, month, day, hour, minute, second, ms) => {
    const local = Date.UTC(year, month, day, hour, minute, second, ms);
    // The offsets half a day before and after: they differ only across a change (zones change at
    // most twice a year). Each gives a candidate instant, which is one if the zone reads it as `local`.
    const before = local - offsetAt(local - 12 * HOUR_MS);
    const after = local - offsetAt(local + 12 * HOUR_MS);
    if (before === after) return before;
    const beforeReads = before + offsetAt(before) === local;
    const afterReads = after + offsetAt(after) === local;
    if (beforeReads && afterReads) return Math.min(before, after); // the repeated hour: its first occurrence
    if (afterReads) return after;
    return before; // also the skipped hour: read on the clock before the change
  };
}
