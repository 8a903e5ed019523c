// SDK options: explicit options > environment > defaults. The ONLY module that reads process.env.
// Contract: resolveOptions() either returns a complete, validated ResolvedOptions or throws an
// Error whose message starts with "[periscope]" and names the offending option. It is the only
// place where init() may throw, and it throws for options passed in code only: the developer sees
// that at once. A value read from the environment (PERISCOPE_*, OTEL_*), often set by a platform
// (the OpenTelemetry Operator, a Helm chart, a shared .env) and not by the app's developer, never
// throws: a bad one is ignored with a warning naming the variable, its value and what is used
// instead, as the OTel spec asks for a value that cannot be parsed
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#type-specific-guidance):
// with `node --import @periscope/sdk/register` a throw here would stop the app before its first line.

import { hostname as osHostname } from 'node:os';
import { basename } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import type { Attributes, DiagLogLevel } from '@opentelemetry/api';
import {
  checkOtlpProtocol,
  checkTemporalityPreference,
  envAttribute,
  envHeaders,
  envResourceAttributes,
  MAX_TIMER_MS,
  otelExporterOff,
  otelExponentialHistograms,
  otelBatchLogProcessor,
  otelBatchSpanProcessor,
  otelMetricExportInterval,
  otelMetricExportTimeout,
  otelLogLevel,
  otelPropagators,
  otelSamplerRatio,
  otelSpanLimits,
  otlpBaseEndpoint,
  otlpGzip,
  otlpTls,
  type OtlpSignal,
  type TlsFiles,
  type PropagatorName,
  type SpanLimitsEnv,
  sdkDisabled,
  otlpTimeout,
  signalEndpoint,
} from './otel-env.ts';
import { parseLevelSpec, type LevelSpec } from './logs/level-spec.ts';
import { FIELD_LIMITS } from './record.ts';
import { withoutUserinfo } from './url-credentials.ts';

export type LogFormat = 'none' | 'json' | 'logfmt' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['none', 'json', 'logfmt', 'pretty'];

export interface PeriscopeOptions {
  /**
   * Service name, sent as RFC 5424 APP-NAME, so at most 48 characters. Else env PERISCOPE_SERVICE,
   * OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES (a longer name from there is cut
   * to its first 48, with a warning); else OpenTelemetry's "unknown_service:node", with a warning.
   */
  service?: string;
  /** Collector base URL (env PERISCOPE_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT). Default http://127.0.0.1:4318. */
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
  /** shutdown() and exit flushing give up after this long (env PERISCOPE_SHUTDOWN_TIMEOUT_MS). Default 5000 ms. */
  shutdownTimeoutMs?: number;
  /** Per-request timeout. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** RFC 5424 HOSTNAME. Default host.name of OTEL_RESOURCE_ATTRIBUTES, else os.hostname(). */
  hostname?: string;
  /** RFC 5424 facility 0–23. Default 1 (user). */
  facility?: number;
  /** OTel resource `service.instance.id` (env PERISCOPE_SERVICE_INSTANCE_ID, or service.instance.id in OTEL_RESOURCE_ATTRIBUTES). Default "<hostname>:<pid>" ("<hostname>:<pid>:<threadId>" in a worker thread, where the environment's also gets ":<threadId>"). */
  serviceInstanceId?: string;
  /** Tracing (OTLP/HTTP protobuf to {endpoint}/v1/traces). */
  traces?: {
    /** Env PERISCOPE_TRACES_ENABLED. Default true. */
    enabled?: boolean;
    /** Head sampling ratio 0..1 for new traces; a remote parent's decision is kept (env PERISCOPE_TRACES_SAMPLE_RATIO, else OTEL_TRACES_SAMPLER + OTEL_TRACES_SAMPLER_ARG). Default 1. */
    sampleRatio?: number;
  };
  /** Metrics (OTLP/HTTP protobuf to {endpoint}/v1/metrics). */
  metrics?: {
    /** Env PERISCOPE_METRICS_ENABLED. Default true. */
    enabled?: boolean;
    /** Env PERISCOPE_METRICS_EXPORT_INTERVAL_MS, else OTEL_METRIC_EXPORT_INTERVAL. Default 10000. */
    exportIntervalMs?: number;
    /** Runtime metrics: event loop, heap, GC, RSS, handles (env PERISCOPE_RUNTIME_METRICS). Default true. */
    runtime?: boolean;
    /** Heap-growth (leak) detection over heap used after major GCs; false disables it. */
    leak?: false | {
      /** Least-squares slope that counts as a leak, bytes per minute (env PERISCOPE_LEAK_SLOPE_BYTES_PER_MIN). Default 1 MiB/min. */
      slopeBytesPerMin?: number;
      /** Window of post-GC samples the trend is fitted over (env PERISCOPE_LEAK_WINDOW_MS). Default 15 min. */
      windowMs?: number;
      /** Samples needed in the window before any verdict. Default 6. */
      minSamples?: number;
    };
  };
  /** OpenTelemetry instrumentations to load, by name (env PERISCOPE_INSTRUMENTATIONS="http"). Default none. */
  instrumentations?: InstrumentationName[];
  /** Also serve the app's own metrics for direct scraping (env PERISCOPE_PROMETHEUS_PORT). Default off. */
  prometheus?: { port: number; host?: string };
  /** Log sampling, consistent with the trace decision. */
  logSampling?: {
    /** Share 0..1 of logs kept outside sampled traces (env PERISCOPE_LOG_SAMPLE_RATE). Default 1 (keep all). */
    rate?: number;
    /** This level and worse are never sampled away; at most "error" (env PERISCOPE_LOG_SAMPLE_KEEP_LEVEL). Default "error". */
    keepLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  };
}

export type InstrumentationName = 'http';
export const INSTRUMENTATIONS: readonly InstrumentationName[] = ['http'];

/** pino numeric levels, for the sampling threshold. */
const PINO_LEVEL_VALUES = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface ResolvedOptions {
  /**
   * OTEL_SDK_DISABLED=true: nothing is sent (no log shipping, traces, metrics, instrumentations or
   * Prometheus endpoint); the logger still writes the local console `format`.
   */
  disabled: boolean;
  /** Logs are sent to the collector: false when disabled or OTEL_LOGS_EXPORTER=none (the console `format` stays). */
  shipLogs: boolean;
  service: string;
  endpoint: string;
  /** Headers of the log requests: OTEL_EXPORTER_OTLP_HEADERS, then OTEL_EXPORTER_OTLP_LOGS_HEADERS. */
  headers: Record<string, string>;
  /** TLS of the log requests: OTEL_EXPORTER_OTLP_CERTIFICATE / _CLIENT_*, then the _LOGS_ ones (the same for traces and metrics). */
  tls: TlsFiles;
  /** Requests gzip-compressed: true unless OTEL_EXPORTER_OTLP_LOGS_COMPRESSION (else OTEL_EXPORTER_OTLP_COMPRESSION) is none; the same for traces and metrics. */
  gzip: boolean;
  levels: LevelSpec;
  format: LogFormat;
  redact: string[];
  maxBufferBytes: number;
  /** The option, else OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, else 1000. */
  batchMaxRecords: number;
  batchMaxBytes: number;
  /** The logs' batch delay: the option, else OTEL_BLRP_SCHEDULE_DELAY, else 1000 ms (spans: traces.batch). */
  flushIntervalMs: number;
  shutdownTimeoutMs: number;
  /** One log request (requestTimeoutMs, else OTEL_EXPORTER_OTLP_LOGS_TIMEOUT / OTEL_EXPORTER_OTLP_TIMEOUT / 10 s, cut to OTEL_BLRP_EXPORT_TIMEOUT). */
  requestTimeoutMs: number;
  hostname: string;
  facility: number;
  serviceInstanceId: string;
  /**
   * Resource attributes of OTEL_RESOURCE_ATTRIBUTES (service.version, deployment.environment.name, …),
   * under the ones above: service, hostname and serviceInstanceId are the resource's service.name,
   * host.name and service.instance.id whatever this says.
   */
  resourceAttributes: Attributes;
  /** What the SDK logs as warnings once its logger runs (config it ignored, with the reason). */
  warnings: string[];
  /** OTEL_LOG_LEVEL: OpenTelemetry's diagnostic messages at this level and worse are logged (module "opentelemetry"); undefined: none. */
  diagLevel: DiagLogLevel | undefined;
  /**
   * url: {endpoint}/v1/traces, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as-is; headers:
   * OTEL_EXPORTER_OTLP_HEADERS, then OTEL_EXPORTER_OTLP_TRACES_HEADERS (the same for metrics).
   */
  traces: { enabled: boolean; sampleRatio: number; url: string; headers: Record<string, string>; timeoutMs: number; batch: SpanBatching; propagators: PropagatorName[]; limits: SpanLimitsEnv; tls: TlsFiles; gzip: boolean };
  metrics: {
    enabled: boolean;
    url: string;
    headers: Record<string, string>;
    tls: TlsFiles;
    gzip: boolean;
    /** One export, its retries included (requestTimeoutMs, else OTEL_EXPORTER_OTLP_METRICS_TIMEOUT / _TIMEOUT); the same for traces. */
    timeoutMs: number;
    /** How long the periodic reader waits for one export (OTEL_METRIC_EXPORT_TIMEOUT, else timeoutMs); at most exportIntervalMs, which the reader requires. */
    exportTimeoutMs: number;
    exportIntervalMs: number;
    /** OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram: histograms go out as exponential histograms. */
    exponentialHistograms: boolean;
    runtime: boolean;
    leak: { slopeBytesPerMin: number; windowMs: number; minSamples: number } | undefined;
  };
  instrumentations: InstrumentationName[];
  prometheus: { port: number; host: string } | undefined;
  /** keepLevel is a pino level number: records at or above it are never sampled away. */
  logSampling: { rate: number; keepLevel: number };
}

/**
 * The span BatchSpanProcessor's settings: scheduledDelayMillis is flushIntervalMs when given, else
 * OTEL_BSP_SCHEDULE_DELAY, else flushIntervalMs' default; exportTimeoutMillis OTEL_BSP_EXPORT_TIMEOUT,
 * else traces.timeoutMs; maxQueueSize (the bound on spans waiting, held for a retry included) and
 * maxExportBatchSize (at most maxQueueSize) OTEL_BSP_MAX_QUEUE_SIZE and _MAX_EXPORT_BATCH_SIZE, else
 * OpenTelemetry's 2048 and 512.
 */
export interface SpanBatching {
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
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
  tracesSampleRatio: 1,
  metricsExportIntervalMs: 10_000,
  spanMaxQueueSize: 2048,
  spanMaxExportBatchSize: 512,
  leakSlopeBytesPerMin: 1024 * 1024,
  leakWindowMs: 15 * 60_000,
  leakMinSamples: 6,
  logSampleRate: 1,
  logSampleKeepLevel: 'error' as const,
  prometheusHost: '0.0.0.0',
};

/**
 * The service when neither the code nor the environment names one: OTel's default service.name
 * (https://opentelemetry.io/docs/specs/semconv/resource/#service), "unknown_service:" and
 * process.executable.name, the base name of the executable ("unknown_service:node"), within an
 * APP-NAME.
 */
function unknownService(): string {
  return `unknown_service:${basename(process.execPath)}`.slice(0, FIELD_LIMITS.appName);
}

function fail(message: string): never {
  throw new Error(`[periscope] init: ${message}`);
}

function positiveInt(name: string, value: number | undefined, fallback: number, check = POSITIVE_INT): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !check.ok(value)) fail(`"${name}" must be ${check.what}, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * The warning for an environment variable's bad value, which is ignored: the variable, its value,
 * what it must be, and `outcome`, what the SDK does instead ("5000 is used").
 */
function envIgnored(envName: string, raw: string, what: string, outcome: string): string {
  return `${envName} ignored: ${JSON.stringify(raw)} is not ${what}: ${outcome}`;
}

/**
 * A boolean option: explicit value, else env ("true/false/1/0/yes/no/on/off"), else the fallback.
 * A bad option throws; a bad env value is ignored with a warning (the fallback is used).
 */
function bool(name: string, value: unknown, envName: string, env: NodeJS.ProcessEnv, fallback: boolean, warnings: string[]): boolean {
  if (value !== undefined) {
    if (typeof value !== 'boolean') fail(`"${name}" must be a boolean, got ${JSON.stringify(value)}`);
    return value;
  }
  const raw = nonEmpty(env[envName]);
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no', 'off'].includes(raw.toLowerCase())) return false;
  warnings.push(envIgnored(envName, raw, 'true or false', `${fallback} is used`));
  return fallback;
}

/**
 * A number option: explicit value, else env, else the fallback; `check` tells what is valid. A bad
 * option throws; a bad env value is ignored with a warning (the fallback is used).
 */
function num(
  name: string,
  value: unknown,
  envName: string | undefined,
  env: NodeJS.ProcessEnv,
  fallback: number,
  check: { what: string; ok: (n: number) => boolean },
  warnings: string[],
): number {
  if (value !== undefined) {
    if (typeof value !== 'number' || !Number.isFinite(value) || !check.ok(value)) fail(`"${name}" must be ${check.what}, got ${JSON.stringify(value)}`);
    return value;
  }
  const raw = envName === undefined ? undefined : nonEmpty(env[envName]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (Number.isFinite(n) && check.ok(n)) return n;
  warnings.push(envIgnored(envName!, raw, check.what, `${fallback} is used`));
  return fallback;
}

const RATIO = { what: 'a number from 0 to 1', ok: (n: number) => n >= 0 && n <= 1 };
const POSITIVE_INT = { what: 'a positive integer', ok: (n: number) => Number.isInteger(n) && n > 0 };
/**
 * A time the SDK sets a timer for: Node fires a timer of more than 2^31-1 ms (about 24.8 days) at
 * once, so a value meant as "wait very long" made every request time out, or a flush loop spin.
 */
const TIMER_MS = { what: 'a whole number of milliseconds from 1 to 2147483647 (about 24.8 days; Node fires a longer timer at once)', ok: (n: number) => Number.isInteger(n) && n > 0 && n <= MAX_TIMER_MS };
const PORT = { what: 'a port 0–65535', ok: (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535 };

function section<T extends object>(name: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`"${name}" must be an object`);
  return value;
}

/** A value the logs carry as an RFC 5424 header field (§6, record.ts FIELD_LIMITS) must fit it whole. */
function headerLimit(name: string, value: string, limit: number, field: string): void {
  if (value.length > limit) {
    fail(`"${name}" must be at most ${limit} characters (the logs' RFC 5424 ${field}), got ${value.length}: ${JSON.stringify(value)}`);
  }
}

/**
 * A header field's value from the environment (`source` names it), cut to `limit` with a warning
 * when longer: an operator's variable must not stop a preloaded SDK's app (headerLimit throws).
 * Cut where the collector's receivers would cut the logs' copy (its first `limit` UTF-16 units,
 * record.ts applyFieldLimits), less a lone high surrogate, so spans and metrics carry the same name.
 */
function fitEnvHeader(source: string, value: string | undefined, limit: number, field: string, warnings: string[]): string | undefined {
  if (value === undefined || value.length <= limit) return value;
  let cut = value.slice(0, limit);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  warnings.push(`${source} is ${value.length} characters, over the ${limit} of the logs' RFC 5424 ${field}: ${JSON.stringify(cut)} (its first ${cut.length}) is used for logs, spans and metrics alike`);
  return cut;
}

/** Why `endpoint` cannot be the collector's base URL, or undefined when it can. */
function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http(s)';
  // The signal paths (/api/v1/logs, /v1/traces, /v1/metrics) are appended to it: after a query or
  // fragment they would land inside it, and every request would go to the base path and fail.
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(endpoint)) return "must be the collector's base URL without a query string or fragment";
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** A string option as given (plain JS callers can pass anything): a clear error, not `.trim is not a function`. */
function stringOption(name: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') fail(`"${name}" must be a string, got ${value === null ? 'null' : typeof value}`);
  return nonEmpty(value);
}

export function resolveOptions(options: PeriscopeOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (options === null || typeof options !== 'object') fail('options must be an object');
  const warnings: string[] = [];
  // The operator's off switch: it wins over the options, as in the OTel SDKs (their start() does nothing).
  const disabled = sdkDisabled(env, warnings);
  const resource = envResourceAttributes(env);
  if (resource.warning !== undefined) warnings.push(resource.warning);
  checkOtlpProtocol(env, warnings);
  checkTemporalityPreference(env, warnings);

  // As in the OTel SDKs: explicit option, then env, OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES.
  // Every log record carries it as its RFC 5424 APP-NAME, which is cut at the limit: the logs would
  // name another service than the spans and metrics (service.name), and no query would find both.
  // An option too long stops init() (the developer sees it at once); a name from the environment
  // (the OTel Operator sets OTEL_SERVICE_NAME from the Deployment's name) is cut to the limit for
  // all three signals, with a warning: a preloaded SDK must not stop the app for it.
  const explicitService = stringOption('service', options.service);
  if (explicitService !== undefined) headerLimit('service', explicitService, FIELD_LIMITS.appName, 'APP-NAME');
  let service =
    explicitService ??
    fitEnvHeader('PERISCOPE_SERVICE', nonEmpty(env.PERISCOPE_SERVICE), FIELD_LIMITS.appName, 'APP-NAME', warnings) ??
    fitEnvHeader('OTEL_SERVICE_NAME', nonEmpty(env.OTEL_SERVICE_NAME), FIELD_LIMITS.appName, 'APP-NAME', warnings) ??
    fitEnvHeader('service.name of OTEL_RESOURCE_ATTRIBUTES', envAttribute(resource.attributes, 'service.name'), FIELD_LIMITS.appName, 'APP-NAME', warnings);
  // A blank option is taken as unset (the environment names the service, as it always did), but
  // with nothing else to go by it is a mistake in code (`service: process.env.X ?? ''`), not a
  // wish for the default name: the developer sees it at once.
  if (service === undefined && options.service !== undefined) fail('"service" must not be blank (or name the service in PERISCOPE_SERVICE or OTEL_SERVICE_NAME)');
  if (service === undefined) {
    // Named nowhere, as the OTel SDKs do: OpenTelemetry's default name and a warning, not a throw. A
    // preloaded SDK (--import @periscope/sdk/register) is configured by the environment alone, and
    // would stop the app before its first line when the platform set no name. Turned off, the SDK
    // sends nothing a name is needed for: no warning then.
    service = unknownService();
    if (!disabled) {
      warnings.push(`no service name is set (the service option, PERISCOPE_SERVICE, OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES): logs, spans and metrics are sent as ${JSON.stringify(service)}, OpenTelemetry's default`);
    }
  }

  // OTEL_EXPORTER_OTLP_ENDPOINT is the same kind of URL: a base the signal paths are appended to.
  // A bad PERISCOPE_ENDPOINT is ignored with a warning, as a bad OTEL_EXPORTER_OTLP_ENDPOINT is.
  const explicitEndpoint = stringOption('endpoint', options.endpoint);
  if (explicitEndpoint !== undefined) {
    const problem = endpointProblem(explicitEndpoint);
    // thrown into the app's crash log: its credentials masked, as in the warnings below
    if (problem !== undefined) fail(`"endpoint" ${problem}, got ${JSON.stringify(withoutUserinfo(explicitEndpoint))}`);
  }
  let envEndpoint = nonEmpty(env.PERISCOPE_ENDPOINT);
  if (explicitEndpoint === undefined && envEndpoint !== undefined && endpointProblem(envEndpoint) !== undefined) {
    const instead = otlpBaseEndpoint(env, warnings) ?? DEFAULTS.endpoint;
    warnings.push(envIgnored('PERISCOPE_ENDPOINT', withoutUserinfo(envEndpoint), 'an http(s) base URL without a query string or fragment', `${withoutUserinfo(instead)} is used`));
    envEndpoint = instead;
  }
  const endpoint = explicitEndpoint ?? envEndpoint ?? otlpBaseEndpoint(env, warnings) ?? DEFAULTS.endpoint;

  const base = endpoint.replace(/\/+$/, '');
  const headers = envHeaders(env, warnings);
  const timeout = otlpTimeout(env, warnings);
  // One request of a signal: the option, else its OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT, else
  // OTEL_EXPORTER_OTLP_TIMEOUT, else the default; at most `exportTimeout` (a processor's export
  // timeout, which bounds the same request) unless the option is given.
  const requestTimeoutMs = (signal: OtlpSignal, exportTimeout = Infinity): number =>
    positiveInt('requestTimeoutMs', options.requestTimeoutMs, Math.min(otlpTimeout(env, warnings, { name: signal, general: timeout }) ?? DEFAULTS.requestTimeoutMs, exportTimeout), TIMER_MS);
  const tls = otlpTls(env, warnings);
  const gzip = otlpGzip(env, warnings);
  // A signal's requests are gzip-compressed unless its (or the general) compression variable says none.
  const signalGzip = (signal: OtlpSignal): boolean => otlpGzip(env, warnings, { name: signal, general: gzip }) ?? true;
  // Logs go to Periscope's own log API, not OTLP: a URL for OTLP logs cannot be used for them.
  if (nonEmpty(env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) !== undefined) {
    warnings.push(`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT ignored: logs are shipped to the collector's log API at ${base}/api/v1/logs (set PERISCOPE_ENDPOINT to move them)`);
  }

  const explicitLevel = stringOption('level', options.level);
  let levels: LevelSpec;
  try {
    levels = parseLevelSpec(explicitLevel ?? DEFAULTS.level);
  } catch (err) {
    fail(`"level": ${(err as Error).message}`);
  }
  const envLevel = nonEmpty(env.PERISCOPE_LOG_LEVEL);
  if (explicitLevel === undefined && envLevel !== undefined) {
    try {
      levels = parseLevelSpec(envLevel);
    } catch (err) {
      // ignored whole (not in part): a spec half applied would log what nobody asked for
      warnings.push(`PERISCOPE_LOG_LEVEL ignored: ${(err as Error).message}: ${DEFAULTS.level} is used`);
    }
  }

  const explicitFormat = stringOption('format', options.format);
  if (explicitFormat !== undefined && !LOG_FORMATS.includes(explicitFormat as LogFormat)) {
    fail(`"format" must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(explicitFormat)}`);
  }
  const envFormat = nonEmpty(env.PERISCOPE_LOG_FORMAT);
  let format = (explicitFormat ?? envFormat?.toLowerCase() ?? DEFAULTS.format) as LogFormat;
  if (!LOG_FORMATS.includes(format)) {
    warnings.push(envIgnored('PERISCOPE_LOG_FORMAT', envFormat!, `one of ${LOG_FORMATS.join(', ')}`, `${DEFAULTS.format} is used`));
    format = DEFAULTS.format;
  }

  const redact = options.redact ?? [];
  if (!Array.isArray(redact) || redact.some((p) => typeof p !== 'string')) fail('"redact" must be an array of strings');

  const facility = options.facility ?? DEFAULTS.facility;
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) fail(`"facility" must be an integer 0–23, got ${JSON.stringify(facility)}`);

  const hostname = stringOption('hostname', options.hostname) ?? envAttribute(resource.attributes, 'host.name') ?? osHostname();
  if (hostname === '') fail('"hostname" must be a non-empty string');
  headerLimit('hostname', hostname, FIELD_LIMITS.hostname, 'HOSTNAME');

  // An SDK started in a worker thread (init() there) is a second instance in the process, with its
  // own metrics (its own heap and event loop, its own counts of the app's counters): under the
  // process's id (the default, or the environment's, which worker threads share) each export
  // replaced the other's series, and a counter added to in both threads lost one side's count.
  // OpenTelemetry's service.instance.id names one SDK instance, so the thread's id is added.
  const perThread = (id: string) => (isMainThread ? id : `${id}:${threadId}`);
  const serviceInstanceId =
    stringOption('serviceInstanceId', options.serviceInstanceId) ??
    perThread(
      nonEmpty(env.PERISCOPE_SERVICE_INSTANCE_ID) ??
      envAttribute(resource.attributes, 'service.instance.id') ??
      `${hostname}:${process.pid}`,
    );

  const metrics = section('metrics', options.metrics);
  const metricsTimeoutMs = requestTimeoutMs('METRICS');
  const metricsExportIntervalMs = num(
    'metrics.exportIntervalMs',
    metrics.exportIntervalMs,
    'PERISCOPE_METRICS_EXPORT_INTERVAL_MS',
    env,
    otelMetricExportInterval(env, warnings) ?? DEFAULTS.metricsExportIntervalMs,
    TIMER_MS,
    warnings,
  );
  const traces = section('traces', options.traces);
  const tracesTimeoutMs = requestTimeoutMs('TRACES');
  const blrp = otelBatchLogProcessor(env, warnings);
  const bsp = otelBatchSpanProcessor(env, warnings);
  const maxQueueSize = bsp.maxQueueSize ?? DEFAULTS.spanMaxQueueSize;
  let maxExportBatchSize = bsp.maxExportBatchSize ?? DEFAULTS.spanMaxExportBatchSize;
  if (maxExportBatchSize > maxQueueSize) {
    // the spec: it must be at most the queue size; a batch can never be fuller than the queue
    warnings.push(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${maxExportBatchSize}) is over the span queue size (${maxQueueSize}): batches of at most ${maxQueueSize} are sent`);
    maxExportBatchSize = maxQueueSize;
  }
  const spanBatching: SpanBatching = {
    scheduledDelayMillis: positiveInt('flushIntervalMs', options.flushIntervalMs, bsp.scheduledDelayMillis ?? DEFAULTS.flushIntervalMs, TIMER_MS),
    exportTimeoutMillis: bsp.exportTimeoutMillis ?? tracesTimeoutMs,
    maxQueueSize,
    maxExportBatchSize,
  };
  const logSampling = section('logSampling', options.logSampling);

  let leak: ResolvedOptions['metrics']['leak'];
  if (metrics.leak !== false) {
    const l = section('metrics.leak', metrics.leak);
    leak = {
      slopeBytesPerMin: num('metrics.leak.slopeBytesPerMin', l.slopeBytesPerMin, 'PERISCOPE_LEAK_SLOPE_BYTES_PER_MIN', env, DEFAULTS.leakSlopeBytesPerMin, {
        what: 'a positive number',
        ok: (n) => n > 0,
      }, warnings),
      windowMs: num('metrics.leak.windowMs', l.windowMs, 'PERISCOPE_LEAK_WINDOW_MS', env, DEFAULTS.leakWindowMs, POSITIVE_INT, warnings),
      minSamples: num('metrics.leak.minSamples', l.minSamples, undefined, env, DEFAULTS.leakMinSamples, {
        what: 'an integer ≥ 3',
        ok: (n) => Number.isInteger(n) && n >= 3,
      }, warnings),
    };
  }

  let instrumentations: unknown = options.instrumentations;
  if (instrumentations === undefined) {
    // from the environment: an unknown name is left out with a warning, the known ones are loaded
    const raw = nonEmpty(env.PERISCOPE_INSTRUMENTATIONS);
    const names = raw === undefined ? [] : raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    const known = names.filter((n) => (INSTRUMENTATIONS as readonly string[]).includes(n));
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length > 0) {
      const loaded = known.length > 0 ? `${[...new Set(known)].join(', ')} is loaded` : 'none is loaded';
      warnings.push(`PERISCOPE_INSTRUMENTATIONS: ${unknown.map((n) => JSON.stringify(n)).join(', ')} ignored, not an instrumentation the SDK has (${INSTRUMENTATIONS.join(', ')}): ${loaded}`);
    }
    instrumentations = known;
  }
  if (!Array.isArray(instrumentations)) fail('"instrumentations" must be an array of names');
  for (const name of instrumentations) {
    if (!INSTRUMENTATIONS.includes(name)) {
      fail(`"instrumentations": unknown instrumentation ${JSON.stringify(name)} (known: ${INSTRUMENTATIONS.join(', ')})`);
    }
  }

  let prometheus: ResolvedOptions['prometheus'];
  if (options.prometheus !== undefined) {
    const p = section('prometheus', options.prometheus);
    if (p.port === undefined) fail('"prometheus.port" is required when "prometheus" is set');
    prometheus = { port: num('prometheus.port', p.port, undefined, env, 0, PORT, warnings), host: p.host ?? DEFAULTS.prometheusHost };
    if (typeof prometheus.host !== 'string' || prometheus.host === '') fail('"prometheus.host" must be a non-empty string');
  } else {
    const raw = nonEmpty(env.PERISCOPE_PROMETHEUS_PORT);
    const port = raw === undefined ? undefined : Number(raw);
    if (port !== undefined && PORT.ok(port)) prometheus = { port, host: DEFAULTS.prometheusHost };
    else if (raw !== undefined) warnings.push(envIgnored('PERISCOPE_PROMETHEUS_PORT', raw, PORT.what, 'no Prometheus endpoint is served'));
  }

  // own keys only: "constructor" or "__proto__" must not pass for a level
  const keepLevelOf = (name: unknown): number | undefined =>
    typeof name === 'string' && Object.hasOwn(PINO_LEVEL_VALUES, name) ? PINO_LEVEL_VALUES[name as keyof typeof PINO_LEVEL_VALUES] : undefined;
  const keepLevels = `one of ${Object.keys(PINO_LEVEL_VALUES).join(', ')} (error and worse are always kept)`;
  let keepLevel = keepLevelOf(DEFAULTS.logSampleKeepLevel)!;
  if (logSampling.keepLevel !== undefined) {
    keepLevel = keepLevelOf(logSampling.keepLevel) ?? fail(`"logSampling.keepLevel" must be ${keepLevels}, got ${JSON.stringify(logSampling.keepLevel)}`);
  } else {
    const raw = nonEmpty(env.PERISCOPE_LOG_SAMPLE_KEEP_LEVEL);
    if (raw !== undefined) {
      const fromEnv = keepLevelOf(raw.toLowerCase());
      if (fromEnv !== undefined) keepLevel = fromEnv;
      else warnings.push(envIgnored('PERISCOPE_LOG_SAMPLE_KEEP_LEVEL', raw, keepLevels, `${DEFAULTS.logSampleKeepLevel} is used`));
    }
  }

  return {
    disabled,
    shipLogs: !disabled && (otelExporterOff(env, 'OTEL_LOGS_EXPORTER', warnings) ?? true),
    service,
    endpoint: base,
    headers: envHeaders(env, warnings, { name: 'LOGS', general: headers }),
    tls: otlpTls(env, warnings, { name: 'LOGS', general: tls }),
    gzip: signalGzip('LOGS'),
    levels,
    format,
    redact: [...redact],
    maxBufferBytes: positiveInt('maxBufferBytes', options.maxBufferBytes, DEFAULTS.maxBufferBytes),
    batchMaxRecords: positiveInt('batchMaxRecords', options.batchMaxRecords, blrp.maxExportBatchSize ?? DEFAULTS.batchMaxRecords),
    batchMaxBytes: positiveInt('batchMaxBytes', options.batchMaxBytes, DEFAULTS.batchMaxBytes),
    flushIntervalMs: positiveInt('flushIntervalMs', options.flushIntervalMs, blrp.scheduledDelayMillis ?? DEFAULTS.flushIntervalMs, TIMER_MS),
    shutdownTimeoutMs: num('shutdownTimeoutMs', options.shutdownTimeoutMs, 'PERISCOPE_SHUTDOWN_TIMEOUT_MS', env, DEFAULTS.shutdownTimeoutMs, TIMER_MS, warnings),
    requestTimeoutMs: requestTimeoutMs('LOGS', blrp.exportTimeoutMillis),
    hostname,
    facility,
    serviceInstanceId,
    resourceAttributes: resource.attributes,
    warnings,
    diagLevel: otelLogLevel(env, warnings),
    traces: {
      enabled: bool('traces.enabled', traces.enabled, 'PERISCOPE_TRACES_ENABLED', env, otelExporterOff(env, 'OTEL_TRACES_EXPORTER', warnings) ?? true, warnings) && !disabled,
      sampleRatio: num('traces.sampleRatio', traces.sampleRatio, 'PERISCOPE_TRACES_SAMPLE_RATIO', env, otelSamplerRatio(env, warnings) ?? DEFAULTS.tracesSampleRatio, RATIO, warnings),
      url: signalEndpoint(env, 'TRACES', warnings) ?? `${base}/v1/traces`,
      headers: envHeaders(env, warnings, { name: 'TRACES', general: headers }),
      timeoutMs: tracesTimeoutMs,
      batch: spanBatching,
      propagators: otelPropagators(env, warnings),
      limits: otelSpanLimits(env, warnings),
      tls: otlpTls(env, warnings, { name: 'TRACES', general: tls }),
      gzip: signalGzip('TRACES'),
    },
    metrics: {
      enabled: bool('metrics.enabled', metrics.enabled, 'PERISCOPE_METRICS_ENABLED', env, otelExporterOff(env, 'OTEL_METRICS_EXPORTER', warnings) ?? true, warnings) && !disabled,
      url: signalEndpoint(env, 'METRICS', warnings) ?? `${base}/v1/metrics`,
      headers: envHeaders(env, warnings, { name: 'METRICS', general: headers }),
      tls: otlpTls(env, warnings, { name: 'METRICS', general: tls }),
      gzip: signalGzip('METRICS'),
      timeoutMs: metricsTimeoutMs,
      exportTimeoutMs: Math.min(otelMetricExportTimeout(env, warnings) ?? metricsTimeoutMs, metricsExportIntervalMs),
      exportIntervalMs: metricsExportIntervalMs,
      exponentialHistograms: otelExponentialHistograms(env, warnings),
      runtime: bool('metrics.runtime', metrics.runtime, 'PERISCOPE_RUNTIME_METRICS', env, true, warnings),
      leak,
    },
    instrumentations: disabled ? [] : [...new Set(instrumentations as InstrumentationName[])],
    prometheus: disabled ? undefined : prometheus,
    logSampling: {
      rate: num('logSampling.rate', logSampling.rate, 'PERISCOPE_LOG_SAMPLE_RATE', env, DEFAULTS.logSampleRate, RATIO, warnings),
      keepLevel,
    },
  };
}
