// The OpenTelemetry SDK environment variables the SDK reads
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/), so an app
// moved from the OTel Node SDK keeps its deployment's configuration. Part of config loading: every
// function is given the environment by resolveOptions (options.ts), none reads process.env, and
// none throws: as the spec says, a bad value is ignored with a warning (pushed to `warnings`,
// logged once the SDK's logger runs), never a reason for a preloaded SDK to stop the app.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { createSecureContext } from 'node:tls';
import { DiagLogLevel, type Attributes } from '@opentelemetry/api';
import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import { resourceAttributesEnvDetector } from '@opentelemetry/resources';
import { withoutUserinfo } from './url-credentials.ts';

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * OTEL_RESOURCE_ATTRIBUTES (https://opentelemetry.io/docs/specs/otel/resource/sdk/#specifying-resource-information-via-an-environment-variable),
 * parsed by @opentelemetry/resources' own env detector: "key=value" pairs, comma-separated,
 * percent-decoded. As the spec and the OTel SDKs do, a value with one bad entry is discarded whole,
 * and the reason is returned for a warning (the detector itself only tells its diag logger, which
 * is silent by default). The parser is called directly, not through detect(), which would read
 * process.env instead of `env`.
 */
export function envResourceAttributes(env: NodeJS.ProcessEnv): { attributes: Attributes; warning?: string } {
  const raw = nonEmpty(env.OTEL_RESOURCE_ATTRIBUTES);
  if (raw === undefined) return { attributes: {} };
  const parser = resourceAttributesEnvDetector as unknown as { _parseResourceAttributes(raw: string): Attributes };
  try {
    return { attributes: parser._parseResourceAttributes(raw) };
  } catch (err) {
    return { attributes: {}, warning: `OTEL_RESOURCE_ATTRIBUTES ignored: ${(err as Error).message}` };
  }
}

/**
 * OTEL_EXPORTER_OTLP_HEADERS ("api-key=secret,x-tenant=acme", percent-decoded), parsed by
 * @opentelemetry/core as the OTLP exporters parse it themselves, so the log requests carry what the
 * span and metric requests carry; or, with `signal`, its OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS over
 * `general` (the spec's signal-specific over general). A header Node would refuse to send (a bad
 * name or value) is left out with a warning naming it (not its value, which may be a secret): set,
 * it would fail every request. So is an entry the parser drops (no "=", an empty value, a "%" not
 * followed by two hex digits, as in a token with a raw "%"): it drops it without a word, and the
 * collector or a proxy would answer 401 to every request with no hint why.
 */
export function envHeaders(env: NodeJS.ProcessEnv, warnings: string[], signal?: { name: OtlpSignal; general: Record<string, string> }): Record<string, string> {
  const variable = signal ? `OTEL_EXPORTER_OTLP_${signal.name}_HEADERS` : 'OTEL_EXPORTER_OTLP_HEADERS';
  const headers: Record<string, string> = { ...signal?.general };
  const raw = nonEmpty(env[variable]);
  for (const [i, entry] of (raw?.split(',') ?? []).entries()) {
    if (entry.trim() === '' || Object.keys(parseKeyPairsIntoRecord(entry)).length > 0) continue;
    // Named only when it is a header name (an empty value is sendable): "Basic <token>=" (the name
    // forgotten, a base64 token ending in "=") is read as a name with an empty value, and that
    // name is the secret.
    const name = entry.includes('=') ? entry.slice(0, entry.indexOf('=')).trim() : '';
    warnings.push(
      name !== '' && sendableHeader(name, '')
        ? `${variable}: header ${JSON.stringify(name)} ignored: its value is empty or not percent-encoded (a "%" is written %25)`
        : `${variable}: entry ${i + 1} ignored: not name=value (not shown: it may be a secret)`,
    );
  }
  for (const [name, value] of Object.entries(parseKeyPairsIntoRecord(raw))) {
    if (sendableHeader(name, value)) headers[name.toLowerCase()] = value;
    else warnings.push(`${variable}: header ${JSON.stringify(name)} ignored: not a valid HTTP header name or value`);
  }
  return headers;
}

/** Whether Node sends this header: it throws on a bad name or value, failing the whole request. */
export function sendableHeader(name: string, value: string): boolean {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

export type OtlpSignal = 'TRACES' | 'METRICS' | 'LOGS';

/** TLS material for the requests of one signal (PEM text, read from the files the variables name); empty when none is set. */
export interface TlsFiles {
  /** Trusted CA certificates for the collector's certificate (instead of Node's default ones). */
  ca?: string;
  /** Client certificate and key (mutual TLS); both or neither. */
  cert?: string;
  key?: string;
}

/**
 * OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY, or with `signal` its
 * OTEL_EXPORTER_OTLP_<SIGNAL>_* over `general`
 * (https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options): paths of
 * PEM files, read here (config loading). A file that cannot be read or used (not PEM, a key that
 * does not match its certificate), or a client certificate without its key (or the reverse), is
 * ignored with a warning naming the variable and path, never the file's content.
 */
export function otlpTls(env: NodeJS.ProcessEnv, warnings: string[], signal?: { name: OtlpSignal; general: TlsFiles }): TlsFiles {
  const prefix = signal ? `OTEL_EXPORTER_OTLP_${signal.name}_` : 'OTEL_EXPORTER_OTLP_';
  const read = (name: string): string | undefined => {
    const path = nonEmpty(env[name]);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      warnings.push(`${name} ignored: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };
  const tls: TlsFiles = { ...signal?.general };
  const ca = read(`${prefix}CERTIFICATE`);
  if (ca !== undefined) {
    try {
      // a CA file with no certificate in it passes createSecureContext, and every request would fail
      new X509Certificate(ca);
      createSecureContext({ ca });
      tls.ca = ca;
    } catch (err) {
      warnings.push(`${prefix}CERTIFICATE ignored: ${JSON.stringify(env[`${prefix}CERTIFICATE`]?.trim())} is not usable as CA certificates (${(err as Error).message})`);
    }
  }
  const cert = read(`${prefix}CLIENT_CERTIFICATE`);
  const key = read(`${prefix}CLIENT_KEY`);
  if (cert !== undefined && key !== undefined) {
    try {
      createSecureContext({ cert, key });
      // OpenSSL takes a key of another type than the certificate's without a word
      if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('the key is not the certificate\'s');
      tls.cert = cert;
      tls.key = key;
    } catch (err) {
      warnings.push(`${prefix}CLIENT_CERTIFICATE and ${prefix}CLIENT_KEY ignored: not a usable certificate and key pair (${(err as Error).message})`);
    }
  } else if (cert !== undefined || key !== undefined) {
    warnings.push(`${prefix}${cert === undefined ? 'CLIENT_KEY' : 'CLIENT_CERTIFICATE'} ignored: a client certificate needs both ${prefix}CLIENT_CERTIFICATE and ${prefix}CLIENT_KEY`);
  }
  return tls;
}

/**
 * OTEL_EXPORTER_OTLP_ENDPOINT: the base URL the signal paths are appended to, or undefined. A value
 * that cannot be one (not an http(s) URL, or with a query string or fragment, inside which the
 * paths would land) is ignored with a warning, as the spec asks for a bad value and as a bad
 * per-signal endpoint is: an operator's variable must not stop a preloaded SDK's app from starting.
 */
export function otlpBaseEndpoint(env: NodeJS.ProcessEnv, warnings: string[]): string | undefined {
  const raw = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '' && !/[?#]/.test(raw)) return raw;
  warnings.push(`OTEL_EXPORTER_OTLP_ENDPOINT ignored: ${JSON.stringify(withoutUserinfo(raw))} is not an http(s) base URL without a query string or fragment`);
  return undefined;
}

/**
 * OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT: that signal's full URL, used as-is (no /v1/traces
 * appended, https://opentelemetry.io/docs/specs/otel/protocol/exporter/#endpoint-urls-for-otlphttp),
 * or undefined. A value that is not an http(s) URL is ignored with a warning, as the spec asks.
 */
export function signalEndpoint(env: NodeJS.ProcessEnv, signal: 'TRACES' | 'METRICS', warnings: string[]): string | undefined {
  const name = `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`;
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw;
  } catch {
    // reported below
  }
  warnings.push(`${name} ignored: ${JSON.stringify(withoutUserinfo(raw))} is not an http(s) URL`);
  return undefined;
}

/**
 * The longest a Node timer waits (2^31-1 ms, about 24.8 days): a longer one, AbortSignal.timeout's
 * included, is set to 1 ms, and every request was then aborted at once. A longer timeout (a value
 * meant as "never") is cut to it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * OTEL_EXPORTER_OTLP_TIMEOUT, or with `signal` its OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT over
 * `general` (the former's value, read once by the caller): milliseconds a request may take
 * (https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options), or
 * undefined. A value that is not a positive integer is ignored with a warning, as the spec asks;
 * the general variable is read once so that a bad value is warned about once, not per signal.
 * A value over MAX_TIMER_MS waits MAX_TIMER_MS.
 */
export function otlpTimeout(env: NodeJS.ProcessEnv, warnings: string[], signal?: { name: OtlpSignal; general: number | undefined }): number | undefined {
  const name = signal ? `OTEL_EXPORTER_OTLP_${signal.name}_TIMEOUT` : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  return envMillis(env, name, warnings) ?? signal?.general;
}

/** What a numeric variable must be: `ok`, else it is ignored with a warning saying it is not `what`. */
interface EnvNumber {
  what: string;
  ok: (n: number) => boolean;
}
const MILLIS: EnvNumber = { what: 'a positive integer of milliseconds', ok: (n) => Number.isInteger(n) && n > 0 };
/** A count (a queue size, a batch size). */
const COUNT: EnvNumber = { what: 'a positive integer', ok: (n) => Number.isSafeInteger(n) && n > 0 };
/** A span or attribute limit. */
const LIMIT: EnvNumber = { what: 'a non-negative integer', ok: (n) => Number.isSafeInteger(n) && n >= 0 };

/**
 * A numeric variable, or undefined when unset, or not of `kind` (ignored with a warning, as the
 * spec asks for a bad value).
 */
function envNumber(env: NodeJS.ProcessEnv, name: string, warnings: string[], kind: EnvNumber): number | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (kind.ok(n)) return n;
  warnings.push(`${name} ignored: ${JSON.stringify(raw)} is not ${kind.what}`);
  return undefined;
}

/** A variable of milliseconds (envNumber); a value over MAX_TIMER_MS gives MAX_TIMER_MS. */
function envMillis(env: NodeJS.ProcessEnv, name: string, warnings: string[]): number | undefined {
  const n = envNumber(env, name, warnings, MILLIS);
  return n === undefined ? undefined : Math.min(n, MAX_TIMER_MS);
}

/** What OTEL_BSP_* set; each undefined when unset or ignored. */
export interface BatchSpanEnv {
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  maxQueueSize?: number;
  maxExportBatchSize?: number;
}

/**
 * The Batch Span Processor variables OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT (ms),
 * OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#batch-span-processor),
 * for the SDK's BatchSpanProcessor (traces/index.ts). A bad value is ignored with a warning.
 */
export function otelBatchSpanProcessor(env: NodeJS.ProcessEnv, warnings: string[]): BatchSpanEnv {
  return {
    scheduledDelayMillis: envMillis(env, 'OTEL_BSP_SCHEDULE_DELAY', warnings),
    exportTimeoutMillis: envMillis(env, 'OTEL_BSP_EXPORT_TIMEOUT', warnings),
    maxQueueSize: envNumber(env, 'OTEL_BSP_MAX_QUEUE_SIZE', warnings, COUNT),
    maxExportBatchSize: envNumber(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', warnings, COUNT),
  };
}

/** What OTEL_BLRP_* set for the SDK's log batching; each undefined when unset or ignored. */
export interface BatchLogEnv {
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  maxExportBatchSize?: number;
}

/**
 * The Batch LogRecord Processor variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#batch-logrecord-processor),
 * for the SDK's own log batching (logs/shipper.ts): OTEL_BLRP_SCHEDULE_DELAY is how long a record
 * waits for its batch (flushIntervalMs), OTEL_BLRP_MAX_EXPORT_BATCH_SIZE the records of one request
 * (batchMaxRecords), OTEL_BLRP_EXPORT_TIMEOUT how long one request may take (with the exporter's
 * timeout: as in the OTel SDKs, where the processor's and the exporter's timeouts both bound an
 * export, the shorter one ends it; options.ts). OTEL_BLRP_MAX_QUEUE_SIZE has no counterpart (the
 * buffer is bounded in bytes, maxBufferBytes, not in records): it gets a warning.
 */
export function otelBatchLogProcessor(env: NodeJS.ProcessEnv, warnings: string[]): BatchLogEnv {
  if (nonEmpty(env.OTEL_BLRP_MAX_QUEUE_SIZE) !== undefined) {
    warnings.push('OTEL_BLRP_MAX_QUEUE_SIZE ignored: the SDK bounds its log buffer in bytes, not records (the maxBufferBytes option of init(), 8 MiB by default), and when it is full drops the least severe records first');
  }
  return {
    scheduledDelayMillis: envMillis(env, 'OTEL_BLRP_SCHEDULE_DELAY', warnings),
    exportTimeoutMillis: envMillis(env, 'OTEL_BLRP_EXPORT_TIMEOUT', warnings),
    maxExportBatchSize: envNumber(env, 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', warnings, COUNT),
  };
}

/** The propagators the SDK has (@opentelemetry/core's W3C ones); OTEL_PROPAGATORS' default. */
export type PropagatorName = 'tracecontext' | 'baggage';
const PROPAGATORS: readonly PropagatorName[] = ['tracecontext', 'baggage'];

/**
 * OTEL_PROPAGATORS (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration):
 * the propagators to register, deduplicated, in the order given; [] registers none ("none" in the
 * list, as the spec says). Of the spec's values only tracecontext and baggage are available here
 * (b3, b3multi, jaeger, xray, ottrace need packages the SDK does not carry): another one is left
 * out with a warning; when none is left, none is registered, as @opentelemetry/sdk-node does (the
 * default is not used in its place), and the warning says so.
 */
export function otelPropagators(env: NodeJS.ProcessEnv, warnings: string[]): PropagatorName[] {
  const raw = nonEmpty(env.OTEL_PROPAGATORS);
  if (raw === undefined) return [...PROPAGATORS];
  const names = [...new Set(raw.split(',').map((v) => v.trim().toLowerCase()).filter((v) => v !== ''))];
  if (names.includes('none')) return [];
  const known = names.filter((n): n is PropagatorName => (PROPAGATORS as readonly string[]).includes(n));
  const other = names.filter((n) => !(PROPAGATORS as readonly string[]).includes(n));
  if (other.length > 0) {
    const then = known.length > 0 ? `propagating with ${known.join(' and ')} only` : 'no trace context or baggage is read from or sent with requests';
    warnings.push(`OTEL_PROPAGATORS: ${other.join(', ')} not available (the SDK has ${PROPAGATORS.join(', ')}): ${then}`);
  }
  return known;
}

/** Span limits for @opentelemetry/sdk-trace's TracerProvider (its SpanLimits); each undefined when not set. */
export interface SpanLimitsEnv {
  attributeValueLengthLimit?: number;
  attributeCountLimit?: number;
  eventCountLimit?: number;
  linkCountLimit?: number;
  attributePerEventCountLimit?: number;
  attributePerLinkCountLimit?: number;
}

/**
 * The attribute and span limits (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#attribute-limits,
 * #span-limits): OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT and OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT over the
 * general OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT and OTEL_ATTRIBUTE_COUNT_LIMIT, and OTEL_SPAN_EVENT_COUNT_LIMIT,
 * OTEL_SPAN_LINK_COUNT_LIMIT, OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, for
 * the tracer provider, which applies them (its defaults, the spec's, where unset). The log record
 * limits (OTEL_LOGRECORD_ATTRIBUTE_*) are not applied: the logs are pino's, shipped as they are; a
 * warning says so.
 */
export function otelSpanLimits(env: NodeJS.ProcessEnv, warnings: string[]): SpanLimitsEnv {
  const generalLength = envNumber(env, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', warnings, LIMIT);
  const generalCount = envNumber(env, 'OTEL_ATTRIBUTE_COUNT_LIMIT', warnings, LIMIT);
  const limits: SpanLimitsEnv = {
    attributeValueLengthLimit: envNumber(env, 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', warnings, LIMIT) ?? generalLength,
    attributeCountLimit: envNumber(env, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', warnings, LIMIT) ?? generalCount,
    eventCountLimit: envNumber(env, 'OTEL_SPAN_EVENT_COUNT_LIMIT', warnings, LIMIT),
    linkCountLimit: envNumber(env, 'OTEL_SPAN_LINK_COUNT_LIMIT', warnings, LIMIT),
    attributePerEventCountLimit: envNumber(env, 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', warnings, LIMIT),
    attributePerLinkCountLimit: envNumber(env, 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', warnings, LIMIT),
  };
  for (const name of ['OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT']) {
    if (nonEmpty(env[name]) !== undefined) warnings.push(`${name} ignored: the SDK ships its pino log records whole (use pino redact or serializers to cut them)`);
  }
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/** OTEL_TRACES_SAMPLER values → the root ratio; 'arg' reads OTEL_TRACES_SAMPLER_ARG. */
const OTEL_SAMPLERS: Readonly<Record<string, number | 'arg'>> = {
  always_on: 1,
  always_off: 0,
  traceidratio: 'arg',
  parentbased_always_on: 1,
  parentbased_always_off: 0,
  parentbased_traceidratio: 'arg',
};

/**
 * The head sampling ratio OTEL_TRACES_SAMPLER (+ OTEL_TRACES_SAMPLER_ARG) asks for
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration),
 * or undefined. The SDK's sampler is always parent-based (a remote parent's decision is kept), so
 * traceidratio reads as parentbased_traceidratio. As the spec says, an unknown sampler is ignored
 * and an invalid ARG reads as unset (ratio 1), each with a warning.
 */
export function otelSamplerRatio(env: NodeJS.ProcessEnv, warnings: string[]): number | undefined {
  const name = nonEmpty(env.OTEL_TRACES_SAMPLER)?.toLowerCase();
  if (name === undefined) return undefined;
  const ratio = Object.hasOwn(OTEL_SAMPLERS, name) ? OTEL_SAMPLERS[name] : undefined;
  if (ratio === undefined) {
    warnings.push(`OTEL_TRACES_SAMPLER ignored: ${JSON.stringify(env.OTEL_TRACES_SAMPLER)} is not one of ${Object.keys(OTEL_SAMPLERS).join(', ')}`);
    return undefined;
  }
  if (ratio !== 'arg') return ratio;
  const arg = nonEmpty(env.OTEL_TRACES_SAMPLER_ARG);
  if (arg === undefined) return 1;
  const n = Number(arg);
  if (Number.isFinite(n) && n >= 0 && n <= 1) return n;
  warnings.push(`OTEL_TRACES_SAMPLER_ARG ignored: ${JSON.stringify(arg)} is not a ratio from 0 to 1 (1 is used)`);
  return 1;
}

/**
 * OTEL_METRIC_EXPORT_INTERVAL (milliseconds, https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#periodic-exporting-metricreader),
 * or undefined. As the spec says for a bad value: ignored, with a warning.
 */
export function otelMetricExportInterval(env: NodeJS.ProcessEnv, warnings: string[]): number | undefined {
  return envMillis(env, 'OTEL_METRIC_EXPORT_INTERVAL', warnings);
}

/**
 * OTEL_METRIC_EXPORT_TIMEOUT (milliseconds, https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#periodic-exporting-metricreader):
 * how long the periodic reader waits for one export, or undefined. As the spec says for a bad
 * value: ignored, with a warning.
 */
export function otelMetricExportTimeout(env: NodeJS.ProcessEnv, warnings: string[]): number | undefined {
  return envMillis(env, 'OTEL_METRIC_EXPORT_TIMEOUT', warnings);
}

/**
 * OTEL_{TRACES,METRICS,LOGS}_EXPORTER (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#exporter-selection):
 * false when the list says "none" (that signal sends nothing), else undefined. The SDK's exporter
 * is OTLP to the collector; another one named (console, zipkin, prometheus …) is not available
 * and is reported in a warning.
 */
export function otelExporterOff(env: NodeJS.ProcessEnv, name: string, warnings: string[]): false | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  const values = raw.split(',').map((v) => v.trim().toLowerCase()).filter((v) => v !== '');
  if (values.includes('none')) return false;
  const other = values.filter((v) => v !== 'otlp');
  if (other.length > 0) warnings.push(`${name}: ${other.join(', ')} not available (the SDK exports over OTLP to its endpoint, or nothing with "none")`);
  return undefined;
}

/** A string attribute of OTEL_RESOURCE_ATTRIBUTES, trimmed; undefined when absent or blank. */
export function envAttribute(attributes: Attributes, key: string): string | undefined {
  const value = attributes[key];
  return typeof value === 'string' ? nonEmpty(value) : undefined;
}

/**
 * OTEL_SDK_DISABLED, read as the OTel spec reads a boolean variable
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value):
 * only "true" (any case) is true; anything but "false" or empty is also false, with a warning.
 */
export function sdkDisabled(env: NodeJS.ProcessEnv, warnings: string[]): boolean {
  const raw = nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase();
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  warnings.push(`OTEL_SDK_DISABLED ignored: ${JSON.stringify(env.OTEL_SDK_DISABLED)} is neither true nor false (the SDK runs)`);
  return false;
}

/**
 * OTEL_EXPORTER_OTLP_PROTOCOL (and its per-signal forms): the SDK speaks http/protobuf only (the
 * collector has no gRPC receiver). Another value is reported: with the OTel default port for gRPC
 * (4317) in OTEL_EXPORTER_OTLP_ENDPOINT, every request would otherwise fail with no word on why.
 */
export function checkOtlpProtocol(env: NodeJS.ProcessEnv, warnings: string[]): void {
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL']) {
    const value = nonEmpty(env[name]);
    if (value !== undefined && value.toLowerCase() !== 'http/protobuf') {
      warnings.push(`${name}=${value} ignored: the SDK sends http/protobuf (OTLP/HTTP, port 4318 by default) to its endpoint`);
    }
  }
}

/**
 * OTEL_EXPORTER_OTLP_COMPRESSION, or with `signal` its OTEL_EXPORTER_OTLP_<SIGNAL>_COMPRESSION over
 * `general` (https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options):
 * whether that signal's requests are gzip-compressed. "gzip" (the SDK's default, which the
 * collector takes) or "none" (sent as they are: for a backend or proxy on the way that does not
 * decompress, or to spare the app's CPU), in any case; undefined when unset. Another value is
 * ignored with a warning, as the spec asks.
 */
export function otlpGzip(env: NodeJS.ProcessEnv, warnings: string[], signal?: { name: OtlpSignal; general: boolean | undefined }): boolean | undefined {
  const name = signal ? `OTEL_EXPORTER_OTLP_${signal.name}_COMPRESSION` : 'OTEL_EXPORTER_OTLP_COMPRESSION';
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return signal?.general;
  const value = raw.toLowerCase();
  if (value === 'gzip') return true;
  if (value === 'none') return false;
  warnings.push(`${name} ignored: ${JSON.stringify(raw)} is neither gzip nor none`);
  return signal?.general;
}

const DIAG_LEVELS = ['NONE', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'VERBOSE', 'ALL'] as const;

/**
 * OTEL_LOG_LEVEL (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration):
 * the level of OpenTelemetry's own diagnostic messages (@opentelemetry/api diag) the SDK logs, or
 * undefined when unset (none are logged, as in @opentelemetry/sdk-node, which installs its diag
 * logger only when the variable is set). A value not of the spec's is ignored with a warning.
 */
export function otelLogLevel(env: NodeJS.ProcessEnv, warnings: string[]): DiagLogLevel | undefined {
  const raw = nonEmpty(env.OTEL_LOG_LEVEL);
  if (raw === undefined) return undefined;
  const name = raw.toUpperCase();
  if ((DIAG_LEVELS as readonly string[]).includes(name)) return DiagLogLevel[name as (typeof DIAG_LEVELS)[number]];
  warnings.push(`OTEL_LOG_LEVEL ignored: ${JSON.stringify(raw)} is not one of ${DIAG_LEVELS.map((l) => l.toLowerCase()).join(', ')}`);
  return undefined;
}

/**
 * OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
 * (https://opentelemetry.io/docs/specs/otel/metrics/sdk_exporters/otlp/#additional-environment-variable-configuration):
 * true for base2_exponential_bucket_histogram (histograms are sent as exponential histograms, which
 * the collector takes), false for explicit_bucket_histogram or unset. Another value is ignored with
 * a warning. (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is read by OpenTelemetry's exporter itself.)
 */
export function otelExponentialHistograms(env: NodeJS.ProcessEnv, warnings: string[]): boolean {
  const raw = nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION);
  if (raw === undefined) return false;
  const value = raw.toLowerCase();
  if (value === 'base2_exponential_bucket_histogram') return true;
  if (value !== 'explicit_bucket_histogram') {
    warnings.push(`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION ignored: ${JSON.stringify(raw)} is neither explicit_bucket_histogram nor base2_exponential_bucket_histogram`);
  }
  return false;
}

const TEMPORALITIES = ['cumulative', 'delta', 'lowmemory'];

/**
 * OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
 * (https://opentelemetry.io/docs/specs/otel/metrics/sdk_exporters/otlp/#additional-environment-variable-configuration)
 * is read by OpenTelemetry's metric exporter itself, which takes another value for cumulative and
 * tells only its diag logger, silent by default: the warning is given here.
 */
export function checkTemporalityPreference(env: NodeJS.ProcessEnv, warnings: string[]): void {
  const raw = nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE);
  if (raw !== undefined && !TEMPORALITIES.includes(raw.toLowerCase())) {
    warnings.push(`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE ignored: ${JSON.stringify(raw)} is not one of ${TEMPORALITIES.join(', ')}: cumulative is used`);
  }
}
