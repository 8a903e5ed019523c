import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../config/units.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import { clientGone } from '../http/client-gone.ts';
import { queryParams, singleParam, type RawQuery } from '../http/query-params.ts';
import { STATUS_CODE_NAMES } from './span.ts';
import { parseTimeRange } from '../store/log-filter.ts';
import type { StoreQueries } from '../store/store-queries.ts';
import type { SlowOperations } from './slowest.ts';
import { decimalParam } from '../../../alerting/src/decimal-param.ts';

// Trace query API (docs/traces-and-metrics.md):
//   GET /api/v1/traces/:traceId      the trace as a flat span list in tree order, each span with its logs
//   GET /api/v1/traces?service=&operation=&minDuration=&maxDuration=&status=&attr.<key>=&start=&end=&limit=
//   GET /api/v1/traces/slowest?service=&window=15m&limit=

function bad(key: string, message: string): PeriscopeError {
  return new PeriscopeError(ERR.BAD_QUERY, `${key}: ${message}`, 400, { key });
}

function parseLimit(value: string | undefined, def: number, max: number): number {
  if (value === undefined || value === '') return def;
  const n = decimalParam(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw bad('limit', `expected an integer 1–${max}`);
  return n;
}

/** Nanoseconds per unit of a span duration bound: Go's time.ParseDuration units, as Jaeger and Tempo take them, and d, w as the config's. */
const DURATION_UNITS_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86_400e9, w: 604_800e9 };

/**
 * "250ms", "1.5s", "1h30m", "500us", "800ns" or a number of milliseconds → nanoseconds. Spans are
 * often shorter than a millisecond (a cache read, a DB call): Jaeger's UI suggests "500us", and
 * Jaeger and Tempo read µs and ns (Go durations).
 */
function parseDurationNs(value: string | undefined, key: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1e6);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h|d|w)/gy;
  let ns = 0;
  let end = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    ns += Number(m[1]) * DURATION_UNITS_NS[m[2]];
    end = re.lastIndex;
  }
  if (end !== value.length || !Number.isFinite(ns)) throw bad(key, 'expected a duration such as 500us, 250ms, 1.5s, 2m or a number of milliseconds');
  return Math.round(ns);
}

/** Most attr.<key> filters in one trace search (as the log API's 50 attr. and sd. filters bound its SQL). */
const MAX_ATTRIBUTE_FILTERS = 50;

/** status=error|ok|unset (or STATUS_CODE_ERROR …, any case) → the OTLP StatusCode number. */
function parseStatus(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const code = STATUS_CODE_NAMES.findIndex((name) => name === `STATUS_CODE_${value.toUpperCase().replace(/^STATUS_CODE_/, '')}`);
  if (code < 0) throw bad('status', 'expected error, ok or unset');
  return code;
}

export interface TraceRoutesOptions {
  logs: StoreQueries;
  slow: SlowOperations;
}

export function registerTraceRoutes(app: FastifyInstance, { logs, slow }: TraceRoutesOptions): void {
  app.get('/api/v1/traces/slowest', async (request) => {
    const query = queryParams(request.query as RawQuery, ['service', 'window', 'limit']);
    const window = query.window || '15m';
    const windowMs = parseDuration(window);
    if (!Number.isFinite(windowMs) || windowMs < 60_000) throw bad('window', 'expected a duration of at least 1m, e.g. 15m');
    if (windowMs > slow.maxWindowMs) throw bad('window', `at most ${slow.maxWindowMs / 60_000}m (traces.slowest.maxWindow)`);
    const limit = parseLimit(query.limit, 10, 1000);
    const operations = await slow.slowest({ service: query.service || undefined, windowMs, limit });
    return { window, operations };
  });

  app.get('/api/v1/traces', async (request, reply) => {
    const raw = request.query as RawQuery;
    const rest: RawQuery = Object.create(null); // a key __proto__ stays a key (refused as unknown)
    const attributes: Array<{ key: string; value: string }> = [];
    for (const key of Object.keys(raw)) {
      if (key.startsWith('attr.') && key.length > 5) attributes.push({ key: key.slice(5), value: singleParam(raw, key) ?? '' });
      else rest[key] = raw[key];
    }
    if (attributes.length > MAX_ATTRIBUTE_FILTERS) throw bad('attr.', `at most ${MAX_ATTRIBUTE_FILTERS} attr. filters in one search, got ${attributes.length}`);
    const query = queryParams(rest, ['service', 'operation', 'minDuration', 'maxDuration', 'status', 'start', 'end', 'limit']);
    const minDurationNs = parseDurationNs(query.minDuration, 'minDuration');
    const maxDurationNs = parseDurationNs(query.maxDuration, 'maxDuration');
    // Swapped bounds can match nothing: an empty list would read as "no such traces" (as end before start).
    if (minDurationNs !== undefined && maxDurationNs !== undefined && maxDurationNs < minDurationNs) throw bad('maxDuration', 'below minDuration');
    return logs.searchTraces({
      service: query.service || undefined,
      operation: query.operation || undefined,
      minDurationNs,
      maxDurationNs,
      statusCode: parseStatus(query.status),
      attributes,
      ...parseTimeRange(query.start, query.end),
      limit: parseLimit(query.limit, 20, 1000),
    }, clientGone(reply));
  });

  app.get('/api/v1/traces/:traceId', async (request, reply) => {
    const { traceId: raw } = request.params as { traceId: string };
    // It takes none: an unknown parameter is a 400 here as on the other endpoints, not ignored
    // (?start=… would read as a filter that was applied).
    queryParams(request.query as RawQuery, []);
    if (!/^[0-9a-fA-F]{32}$/.test(raw)) throw bad('traceId', 'expected 32 hex characters');
    const traceId = raw.toLowerCase();
    // Read, assembled and serialized by a query thread: at its bounds a trace is 64 MiB of span text (trace-answer.ts).
    const answer = await logs.trace(traceId, clientGone(reply));
    if (answer === null) throw new PeriscopeError(ERR.NOT_FOUND, `no spans of trace ${traceId}`, 404, { traceId });
    return reply.type('application/json; charset=utf-8').send(Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength));
  });
}
