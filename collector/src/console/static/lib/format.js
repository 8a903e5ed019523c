// Formatting of times, levels and numbers for display.

export const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** The level names and aliases of severityFromName (sdk/src/record.ts), which the API reads. */
const LEVEL_ALIASES = {
  emerg: 0, emergency: 0, panic: 0,
  alert: 1,
  crit: 2, critical: 2, fatal: 2,
  err: 3, error: 3,
  warning: 4, warn: 4,
  notice: 5,
  info: 6, informational: 6,
  debug: 7, trace: 7,
};

/**
 * A `severity` parameter as the search API reads it (collector/src/store/log-filter.ts): 0–7,
 * or a level name or alias in any case (`warn` → 4). undefined when the API would refuse it.
 * console-lib.test.ts checks that the two readings agree.
 */
export function severityNumber(value) {
  const text = String(value ?? '');
  if (/^\d$/.test(text)) return Number(text) <= 7 ? Number(text) : undefined;
  const key = text.toLowerCase();
  return Object.hasOwn(LEVEL_ALIASES, key) ? LEVEL_ALIASES[key] : undefined; // not "constructor"
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** RFC 3339 (microseconds) → local "YYYY-MM-DD HH:MM:SS.mmm". */
export function formatTimestamp(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function formatShortTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local "YYYY-MM-DD HH:MM". */
export function formatDateTime(ms) {
  const d = new Date(ms);
  return `${localDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function localDate(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The labels of a time axis from `fromMs` to `toMs`: times of day, or date and time when the
 * axis spans more than a day or crosses midnight (a time alone would not say which day).
 */
export function axisLabels(fromMs, toMs) {
  const withDate = toMs - fromMs > 864e5 || localDate(new Date(fromMs)) !== localDate(new Date(toMs));
  const label = withDate ? formatDateTime : formatShortTime;
  return [label(fromMs), label(toMs)];
}

const INTERVAL_UNITS = [['d', 864e5], ['h', 36e5], ['min', 6e4], ['s', 1e3]];

/** A whole interval in the largest unit it is a whole number of: 36 h, 2 d, 15 min, 30 s. */
export function formatInterval(ms) {
  for (const [unit, size] of INTERVAL_UNITS) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

/** Value for <input type="datetime-local" step="1">. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function levelName(record) {
  return record.level || LEVELS[record.severity] || String(record.severity);
}

/** CSS class by severity band. */
export function levelClass(severity) {
  if (severity <= 3) return 'sev-error';
  if (severity === 4) return 'sev-warn';
  if (severity === 7) return 'sev-debug';
  return 'sev-info';
}

export function formatNumber(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDurationMs(ms) {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function relativeTime(ms, now = Date.now()) {
  const s = Math.round((now - ms) / 1000);
  if (!Number.isFinite(s)) return '—';
  if (Math.abs(s) < 60) return `${s}s ago`;
  if (Math.abs(s) < 3600) return `${Math.round(s / 60)}m ago`;
  if (Math.abs(s) < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** Epoch ms from an ISO string, epoch ms, µs or ns (number or digit string). */
export function toMs(v) {
  if (v === undefined || v === null || v === '') return NaN;
  if (typeof v === 'string' && !/^\d+(\.\d+)?$/.test(v)) return Date.parse(v);
  const n = Number(v);
  if (n > 1e17) return n / 1e6; // nanoseconds (OTLP)
  if (n > 1e14) return n / 1e3; // microseconds
  return n;
}

/** Durations like 15m, 1h, 7d → ms. */
export function parseDuration(s) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s || '');
  if (!m) return NaN;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]];
}
