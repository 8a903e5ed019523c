/**
 * The integer a query parameter holds when it is written in decimal digits only, NaN otherwise.
 * Number() also reads `1e2`, `0x10`, ` 1` (a leading `%20`) and `1.0` as integers, where Loki's and
 * Prometheus' parameters (Go's strconv) answer 400: a typo must not pass for another value.
 */
export function decimalParam(value: string): number {
  return /^[0-9]{1,15}$/.test(value) ? Number(value) : Number.NaN;
}
