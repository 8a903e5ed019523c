// Human units in the config file: durations like "15s", "7d" and sizes like "512MiB".

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

// One duration syntax for every config file of Periscope.
export { parseDuration } from '../../../alerting/src/dispatch/duration.ts';

/** Parses "512MiB", "10GB", "1024" (bytes). Returns NaN when malformed. */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') return value >= 0 ? value : Number.NaN;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return Number.NaN;
  const unit = m[2].toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  return factor === undefined ? Number.NaN : Math.floor(Number(m[1]) * factor);
}

/** Splits "host:port" (IPv6 as "[::1]:4318"). Throws on malformed input. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  if (!m) throw new Error(`expected host:port, got "${addr}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port out of range in "${addr}"`);
  return { host: m[1] ?? m[2], port };
}
