// The timestamps the store can hold. It keeps them as epoch microseconds in SQLite INTEGER
// columns, which node:sqlite reads back as JavaScript numbers: exact only below 2^53 µs (year
// 2255), and a larger value makes every query that reaches the record fail. So every receiver
// refuses a record outside [1970-01-01, 2200-01-01) with its BAD_TIMESTAMP code (the rest of the
// batch is kept); OTLP and syslog cannot express earlier times anyway.

/** The first year the store cannot keep. */
const END_YEAR = 2200;
const END_MS = Date.UTC(END_YEAR, 0, 1);

export const TIMESTAMP_RANGE = `1970-01-01T00:00:00Z … ${END_YEAR - 1}-12-31T23:59:59.999999Z`;

/** Epoch milliseconds the store can hold. */
export function msInRange(ms: number): boolean {
  return ms >= 0 && ms < END_MS;
}

/** A UTC RFC 3339 timestamp (as rfc3339Micros writes it) the store can hold. */
export function timestampInRange(timestamp: string): boolean {
  return timestamp >= '1970-01-01T' && timestamp < `${END_YEAR}-01-01T`;
}

/** "timestamp: 2300-01-01T00:00:00Z is outside the range the store keeps (1970-01-01T00:00:00Z … 2199-…)". */
export function outOfRange(field: string, got: string | number): string {
  return `${field}: ${String(got).slice(0, 40)} is outside the range the store keeps (${TIMESTAMP_RANGE})`;
}
