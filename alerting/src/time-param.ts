// Timestamps given to the APIs (query parameters and JSON bodies), read one way everywhere: the
// log API's start/end (collector/src/store/log-filter.ts), the alert history's since/until, silences'
// and pushed alerts' startsAt/endsAt.

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * An RFC 3339 timestamp with its zone (Z or ±hh:mm) → epoch milliseconds, NaN for anything else.
 * Date.parse alone takes a time without a zone (read in the collector's local time, so the same
 * request meant another instant on another host) and free text ("March 1"); Alertmanager's API
 * refuses both (its date-time format is RFC 3339).
 */
export function rfc3339Ms(text: string): number {
  return RFC3339.test(text) ? Date.parse(text) : Number.NaN;
}

/**
 * An epoch number whose unit its digits tell → epoch microseconds, or undefined when `value` is
 * no such number. As Loki reads `start`/`end` (up to 10 digits seconds, more nanoseconds) and
 * Prometheus (seconds, with a fraction): up to 10 digits (or with a fraction) seconds, 11–13
 * milliseconds, 14–16 microseconds, 17–19 nanoseconds. Every date from 2001 to 2286 has 10, 13,
 * 16 or 19 digits in these units, so the reading is never in doubt for a date a record can have;
 * read as milliseconds whatever its length, Grafana's seconds or nanoseconds meant 1970 or year
 * 50 000 and a query answered everything or nothing.
 */
export function epochDigitsToMicros(value: string): number | undefined {
  const epoch = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!epoch) return undefined;
  const [, whole, frac] = epoch;
  const digits = whole.replace(/^0+(?=\d)/, '').length;
  if (frac !== undefined || digits <= 10) return Number(whole) * 1_000_000 + Number((frac ?? '').padEnd(6, '0').slice(0, 6));
  if (digits <= 13) return Number(whole) * 1000;
  if (digits <= 16) return Number(whole);
  // Up: a bound between two microseconds keeps (start) or leaves out (end) the earlier one as in nanoseconds.
  if (digits <= 19) return Number((BigInt(whole) + 999n) / 1000n);
  return undefined;
}

/** A `+` left as it is in a URL arrives as a space (…T11:00:00+01:00 → "…T11:00:00 01:00"): read back as the `+` typed. */
export function plusFromUrl(value: string): string {
  return value.replace(/(?<=\d) (?=\d{2}:\d{2}$)/, '+');
}
