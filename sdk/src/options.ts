// SDK options: explicit options > environment > defaults. The ONLY module that reads process.env.
// Contract: resolveOptions() either returns a complete, validated ResolvedOptions or throws an
// Error whose message starts with "[periscope]" and names the offending option. It is the only
// place where init() may throw.

import { hostname as osHostname } from 'node:os';
import { parseLevelSpec, type LevelSpec } from './logs/level-spec.ts';

export type LogFormat = 'none' | 'json' | 'logfmt' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['none', 'json', 'logfmt', 'pretty'];

export interface PeriscopeOptions {
  /** Service name, sent as RFC 5424 APP-NAME. Required (or env PERISCOPE_SERVICE). */
  service?: string;
  /** Collector base URL (env PERISCOPE_ENDPOINT). Default http://127.0.0.1:4318. */
  endpoint?: string;
  /** Level spec "info,db=debug" (env PERISCOPE_LOG_LEVEL). Default "info". */
  level?: string;
  /** Local console output besides shipping (env PERISCOPE_LOG_FORMAT). Default "none". */
  format?: LogFormat;
  /** pino redact paths, e.g. ['req.headers.authorization']. */
  redact?: string[];
  /** Upper bound of the worker's buffer, in serialized NDJSON bytes. Default 8 MiB. */
  maxBufferBytes?: number;
  /** Max records per request. Default 1000. */
  batchMaxRecords?: number;
  /** Max uncompressed bytes per request. Default 1 MiB. */
  batchMaxBytes?: number;
  /** Send a partial batch after this long. Default 1000 ms. */
  flushIntervalMs?: number;
  /** shutdown() and exit flushing give up after this long. Default 5000 ms. */
  shutdownTimeoutMs?: number;
  /** Per-request timeout. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** RFC 5424 HOSTNAME. Default os.hostname(). */
  hostname?: string;
  /** RFC 5424 facility 0–23. Default 1 (user). */
  facility?: number;
}

export interface ResolvedOptions {
  service: string;
  endpoint: string;
  levels: LevelSpec;
  format: LogFormat;
  redact: string[];
  maxBufferBytes: number;
  batchMaxRecords: number;
  batchMaxBytes: number;
  flushIntervalMs: number;
  shutdownTimeoutMs: number;
  requestTimeoutMs: number;
  hostname: string;
  facility: number;
}

export const DEFAULTS = {
  endpoint: 'http://127.0.0.1:4318',
  level: 'info',
  format: 'none' as LogFormat,
  maxBufferBytes: 8 * 1024 * 1024,
  batchMaxRecords: 1000,
  batchMaxBytes: 1024 * 1024,
  flushIntervalMs: 1000,
  shutdownTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  facility: 1,
};

function fail(message: string): never {
  throw new Error(`[periscope] init: ${message}`);
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(`"${name}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function resolveOptions(options: PeriscopeOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (options === null || typeof options !== 'object') fail('options must be an object');

  const service = nonEmpty(options.service) ?? nonEmpty(env.PERISCOPE_SERVICE);
  if (service === undefined) fail('"service" is required (pass { service } or set PERISCOPE_SERVICE)');

  const endpoint = nonEmpty(options.endpoint) ?? nonEmpty(env.PERISCOPE_ENDPOINT) ?? DEFAULTS.endpoint;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    fail(`"endpoint" is not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`"endpoint" must be http(s): ${endpoint}`);

  const levelSpec = nonEmpty(options.level) ?? nonEmpty(env.PERISCOPE_LOG_LEVEL) ?? DEFAULTS.level;
  let levels: LevelSpec;
  try {
    levels = parseLevelSpec(levelSpec);
  } catch (err) {
    fail(`"level": ${(err as Error).message}`);
  }

  const format = (nonEmpty(options.format) ?? nonEmpty(env.PERISCOPE_LOG_FORMAT)?.toLowerCase() ?? DEFAULTS.format) as LogFormat;
  if (!LOG_FORMATS.includes(format)) fail(`"format" must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);

  const redact = options.redact ?? [];
  if (!Array.isArray(redact) || redact.some((p) => typeof p !== 'string')) fail('"redact" must be an array of strings');

  const facility = options.facility ?? DEFAULTS.facility;
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) fail(`"facility" must be an integer 0–23, got ${JSON.stringify(facility)}`);

  const hostname = options.hostname ?? osHostname();
  if (typeof hostname !== 'string' || hostname === '') fail('"hostname" must be a non-empty string');

  return {
    service,
    endpoint: endpoint.replace(/\/+$/, ''),
    levels,
    format,
    redact: [...redact],
    maxBufferBytes: positiveInt('maxBufferBytes', options.maxBufferBytes, DEFAULTS.maxBufferBytes),
    batchMaxRecords: positiveInt('batchMaxRecords', options.batchMaxRecords, DEFAULTS.batchMaxRecords),
    batchMaxBytes: positiveInt('batchMaxBytes', options.batchMaxBytes, DEFAULTS.batchMaxBytes),
    flushIntervalMs: positiveInt('flushIntervalMs', options.flushIntervalMs, DEFAULTS.flushIntervalMs),
    shutdownTimeoutMs: positiveInt('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULTS.shutdownTimeoutMs),
    requestTimeoutMs: positiveInt('requestTimeoutMs', options.requestTimeoutMs, DEFAULTS.requestTimeoutMs),
    hostname,
    facility,
  };
}
