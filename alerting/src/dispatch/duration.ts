// Durations in the config files (collector and alerting share this one parser): "30s", "5m", "1h30m", "250ms", "2w", "1y"
// (Prometheus/Alertmanager style, https://prometheus.io/docs/prometheus/latest/configuration/configuration/#duration:
// a year is 365 days, as there).
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** Milliseconds, or NaN when malformed. A number is taken as milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value >= 0 ? value : Number.NaN;
  if (value === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    total += Number(m[1]) * UNITS[m[2]];
    end = re.lastIndex;
  }
  return end === value.length && value.length > 0 ? total : Number.NaN;
}

/** Like parseDuration, but throws naming the key. */
export function durationMs(value: string | number, key: string): number {
  const ms = parseDuration(value);
  if (!Number.isFinite(ms)) throw new Error(`${key}: invalid duration ${JSON.stringify(value)} (e.g. 30s, 5m, 4h)`);
  return ms;
}
