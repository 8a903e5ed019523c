import { FormatRegistry } from '@sinclair/typebox';
import { isIP } from 'node:net';
// Human units in the config file: durations like "15s", "7d" and sizes like "512MiB".

// KB, MB, GB, TB are powers of 1000 (SI, as Kubernetes' quantities); KiB … TiB, and Kubernetes'
// Ki … Ti, powers of 1024. Prometheus and Loki read `512MB` as 512 MiB: the reference says so, and
// a bare `G` or `M`, 1000³ to Kubernetes but 1024³ to them, is refused rather than guessed.
const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
  ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, ti: 1024 ** 4,
};

/** What a size is written as, for the reference and the error of a malformed one. */
export const SIZE_SYNTAX = 'a number and a unit: B; KiB, MiB, GiB, TiB (or Ki, Mi, Gi, Ti) for 1024, 1024², …; KB, MB, GB, TB for 1000, 1000², …';

// One duration syntax for every config file of Periscope, and one way to bound unit strings.
export { parseDuration } from '../../../alerting/src/dispatch/duration.ts';
export { addUnitKeywords } from '../../../alerting/src/unit-keywords.ts';

/** Parses "512MiB", "10Gi", "10GB" (10¹⁰), "1024" (bytes). Returns NaN when malformed. */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') return value >= 0 ? value : Number.NaN;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return Number.NaN;
  const unit = m[2].toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  return factor === undefined ? Number.NaN : Math.floor(Number(m[1]) * factor);
}

/** Splits "host:port" / "[v6]:port". Throws a descriptive Error when malformed. */
export function parseAddr(addr: string): { host: string; port: number } {
  let host: string;
  let port: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0 || addr[close + 1] !== ':') throw new Error(`addr "${addr}": expected [ipv6]:port`);
    host = addr.slice(1, close);
    port = addr.slice(close + 2);
  } else {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) throw new Error(`addr "${addr}": expected host:port`);
    host = addr.slice(0, colon);
    port = addr.slice(colon + 1);
    if (host.includes(':')) throw new Error(`addr "${addr}": write IPv6 hosts as [host]:port`);
  }
  if (host === '') throw new Error(`addr "${addr}": host is empty (use 0.0.0.0 or [::] for all interfaces)`);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
    throw new Error(`addr "${addr}": port must be 0–65535`);
  }
  return { host, port: Number(port) };
}

/** True when parseAddr accepts `addr`: the `addr` format of the config schemas. */
export function isAddr(addr: string): boolean {
  try {
    parseAddr(addr);
    return true;
  } catch {
    return false;
  }
}
// TypeBox's Value.Check (the syslog receiver checks its slice) knows only registered formats.
FormatRegistry.Set('addr', isAddr);

/** The inverse of parseAddr: "host:port", "[v6]:port". */
export function formatAddr(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
