// The hash parameters of the search and live-tail pages, read and checked before anything is
// fetched. A key the page does not take (`level=error`: the filter is `severity`) or a value it
// cannot read (`range=bogus`, `start=garbage`) is an error the page shows, and nothing runs:
// dropping the key, or putting a default in place of the value, would show the answer to another
// query than the link asks for, and a wider time range than it names. The search API refuses such
// parameters the same way (docs/api.md, collector/src/store/log-filter.ts). No DOM here, so
// console-lib.test.ts runs this in Node.
import { parseDuration, severityNumber } from './format.js';

/** The filters, as GET /api/v1/logs names them, plus attr.<key> and sd.<sdid>.<param>. */
const FILTER_KEYS = ['service', 'severity', 'q', 'traceId'];
const FIELD_KEYS = ['attr.<key>', 'sd.<sdid>.<param>'];

/** The search page's own keys; `cursor`, `page` and `now` are written by its pager. */
const SEARCH_KEYS = ['range', 'start', 'end', 'limit', 'cursor', 'page', 'now'];

export const RANGES = [['15m', 'last 15 minutes'], ['1h', 'last hour'], ['6h', 'last 6 hours'], ['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['all', 'all time'], ['custom', 'custom…']];
export const DEFAULT_RANGE = '1h';
export const LIMITS = ['50', '100', '200', '500'];
export const DEFAULT_LIMIT = '50';

/** Keys that other tools (or habit) use for one of ours: named in the error. */
const OTHER_NAMES = { level: 'severity', from: 'start', to: 'end', trace_id: 'traceId', app: 'service', appName: 'service' };

/**
 * The live-tail page's parameters: the filters only.
 * → { errors: string[], api: URLSearchParams for GET /api/v1/logs/tail }.
 */
export function readTailParams(params) {
  return { errors: [...keyErrors(params, []), ...filterErrors(params)], api: filterQuery(params) };
}

/**
 * The search page's parameters. nowMs ends a relative range unless the link pins `now`.
 * → { errors, range, startMs, endMs (undefined: unbounded), limit, cursor, page, api } where api
 * is the query for GET /api/v1/logs and /stats without limit and cursor. With errors, the other
 * fields are what the form can show (defaults in place of what could not be read).
 */
export function readSearchParams(params, nowMs) {
  const time = readTimeRange(params, nowMs);
  const errors = [...keyErrors(params, SEARCH_KEYS), ...filterErrors(params), ...time.errors];
  const limit = value(params, 'limit');
  if (limit !== undefined && !LIMITS.includes(limit)) errors.push(`limit=${limit}: expected ${orList(LIMITS)}`);
  const pageText = value(params, 'page');
  if (pageText !== undefined && !/^[1-9]\d{0,5}$/.test(pageText)) errors.push(`page=${pageText}: expected a page number`);
  const cursor = value(params, 'cursor') || '';
  const api = filterQuery(params);
  if (time.startMs !== undefined) api.set('start', String(Math.floor(time.startMs)));
  if (time.endMs !== undefined) api.set('end', String(Math.ceil(time.endMs)));
  return {
    errors,
    range: time.range,
    startMs: time.startMs,
    endMs: time.endMs,
    limit: LIMITS.includes(limit) ? limit : DEFAULT_LIMIT,
    cursor,
    page: cursor ? Math.max(2, Number(pageText) || 2) : 1, // without a cursor it is the first page
    api,
  };
}

/** Errors in the values of the filters of `params` (also used on what the form produces). */
export function filterErrors(params) {
  const errors = [];
  const severity = value(params, 'severity');
  if (severity !== undefined && severityNumber(severity) === undefined) errors.push(`severity=${severity}: expected 0-7 or a level name (emerg … debug)`);
  const traceId = value(params, 'traceId');
  if (traceId !== undefined && !/^[0-9a-fA-F]{32}$/.test(traceId)) errors.push(`traceId=${traceId}: expected 32 hex characters`);
  for (const key of new Set(params.keys())) {
    if (isFieldKey(key) && !isValidFieldKey(key)) errors.push(`${key}: expected ${key.startsWith('sd.') ? 'sd.<sdid>.<param>' : 'attr.<key>'}`);
  }
  return errors;
}

/**
 * An epoch-ms time from a link: RFC 3339 or an epoch number whose unit its digits tell (up to 10
 * digits or with a fraction seconds, 11–13 milliseconds, 14–16 microseconds, 17–19 nanoseconds),
 * as the API reads `start` and `end` (alerting/src/time-param.ts), to the millisecond: a Grafana
 * link's seconds read as milliseconds meant January 1970. NaN when it is neither; unlike
 * Date.parse, "2026-02-31T00:00:00Z" and "May 1" are not dates.
 */
export function parseTimeParam(text) {
  const epoch = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (epoch) {
    const [, whole, frac] = epoch;
    const digits = whole.replace(/^0+(?=\d)/, '').length;
    if (frac !== undefined || digits <= 10) return Number(whole) * 1000 + Number((frac ?? '').padEnd(3, '0').slice(0, 3));
    if (digits <= 13) return Number(whole);
    if (digits <= 16) return Math.floor(Number(whole) / 1000);
    if (digits <= 19) return Number(BigInt(whole) / 1_000_000n);
    return NaN;
  }
  const m = RFC3339.exec(text);
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return NaN;
  const offset = /^[Zz]$/.test(m[8]) ? 0 : (m[8][0] === '-' ? -1 : 1) * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6)));
  const ms = m[7] === undefined ? 0 : Number((m[7] + '00').slice(0, 3));
  return Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000 + ms;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

function daysInMonth(year, month) {
  return month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The time window: `range` (default 1h; `custom` when the link has only start/end), a custom
 * range's `start`/`end`, a relative range's `now`. A key that does not belong to the range is an
 * error, not ignored: `range=1h&start=…` would otherwise search another window than the link names.
 */
function readTimeRange(params, nowMs) {
  const start = value(params, 'start');
  const end = value(params, 'end');
  const now = value(params, 'now');
  const given = value(params, 'range');
  const range = given ?? (start !== undefined || end !== undefined ? 'custom' : DEFAULT_RANGE);
  if (!RANGES.some(([name]) => name === range)) {
    return { range: DEFAULT_RANGE, errors: [`range=${range}: expected ${orList(RANGES.map(([name]) => name))}`] };
  }
  if (range === 'custom') return customRange(start, end, now);
  const errors = [];
  for (const [key, text] of [['start', start], ['end', end]]) {
    if (text !== undefined) errors.push(`${key}=${text}: only with range=custom (range=${range} is ${range === 'all' ? 'all time' : 'relative to now'})`);
  }
  if (range === 'all') {
    if (now !== undefined) errors.push(`now=${now}: only with a relative range (range=all is all time)`);
    return { range, errors };
  }
  if (now !== undefined && !/^\d{1,15}$/.test(now)) errors.push(`now=${now}: expected epoch milliseconds`);
  const endMs = now !== undefined && /^\d{1,15}$/.test(now) ? Number(now) : nowMs;
  return { range, startMs: endMs - parseDuration(range), endMs, errors };
}

function customRange(start, end, now) {
  const errors = [];
  const startMs = start === undefined ? undefined : parseTimeParam(start);
  const endMs = end === undefined ? undefined : parseTimeParam(end);
  for (const [key, text, ms] of [['start', start, startMs], ['end', end, endMs]]) {
    if (Number.isNaN(ms)) errors.push(`${key}=${text}: expected RFC 3339 (2026-05-01T10:00:00Z) or epoch milliseconds`);
  }
  if (start === undefined && end === undefined) errors.push('range=custom: give start, end or both');
  if (startMs >= endMs) errors.push(`start=${start} is not before end=${end}`);
  if (now !== undefined) errors.push(`now=${now}: only with a relative range (range=custom has its own start and end)`);
  return { range: 'custom', startMs: Number.isNaN(startMs) ? undefined : startMs, endMs: Number.isNaN(endMs) ? undefined : endMs, errors };
}

/** Keys the page does not take, and keys given twice (which one was meant would be a guess). */
function keyErrors(params, pageKeys) {
  const errors = [];
  const seen = new Set();
  for (const key of params.keys()) {
    if (seen.has(key)) continue;
    seen.add(key);
    if (!FILTER_KEYS.includes(key) && !isFieldKey(key) && !pageKeys.includes(key)) errors.push(unknownKey(key, pageKeys));
    else if (params.getAll(key).length > 1) errors.push(`${key}: given more than once`);
  }
  return errors;
}

function unknownKey(key, pageKeys) {
  const known = [...FILTER_KEYS, ...FIELD_KEYS, ...pageKeys];
  const other = Object.hasOwn(OTHER_NAMES, key) && known.includes(OTHER_NAMES[key]) ? ` (did you mean ${OTHER_NAMES[key]}?)` : '';
  return `${key}: unknown parameter${other}; this page takes ${known.join(', ')}`;
}

function isFieldKey(key) {
  return key.startsWith('attr.') || key.startsWith('sd.');
}

/** attr.<key>, sd.<sdid>.<param>: the shapes the API takes (parseLogFilter). */
function isValidFieldKey(key) {
  if (key.startsWith('attr.')) return key.length > 5;
  const rest = key.slice(3);
  const dot = rest.lastIndexOf('.');
  return dot > 0 && dot < rest.length - 1;
}

/** The filters of `params` as an API query; an empty value is no filter. */
function filterQuery(params) {
  const out = new URLSearchParams();
  for (const [key, text] of params) {
    if (text !== '' && (FILTER_KEYS.includes(key) || isFieldKey(key))) out.append(key, text);
  }
  return out;
}

/** A parameter's value; empty or absent is undefined (as the API reads an empty filter). */
function value(params, key) {
  const text = params.get(key);
  return text === null || text === '' ? undefined : text;
}

function orList(items) {
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
