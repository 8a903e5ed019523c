import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOptions, DEFAULTS, type ResolvedOptions } from '../src/options.ts';
import { buildResource } from '../src/otel/common.ts';

describe('resolveOptions: explicit > env > defaults', () => {
  it('uses defaults', () => {
    const o = resolveOptions({ service: 'svc' }, {});
    expect(o).toMatchObject({
      service: 'svc',
      endpoint: DEFAULTS.endpoint,
      levels: { defaultLevel: 'info' },
      format: 'none',
      maxBufferBytes: 8 * 1024 * 1024,
      batchMaxRecords: 1000,
      batchMaxBytes: 1024 * 1024,
      flushIntervalMs: 1000,
      shutdownTimeoutMs: 5000,
      facility: 1,
      redact: [],
    });
    expect(o.hostname).toBeTruthy();
  });

  it('reads the environment', () => {
    const o = resolveOptions({}, {
      PERISCOPE_SERVICE: 'env-svc',
      PERISCOPE_ENDPOINT: 'http://collector:4318/',
      PERISCOPE_LOG_LEVEL: 'warn,db=debug',
      PERISCOPE_LOG_FORMAT: 'LOGFMT',
    });
    expect(o).toMatchObject({ service: 'env-svc', endpoint: 'http://collector:4318', format: 'logfmt' });
    expect(o.levels.defaultLevel).toBe('warn');
    expect(o.levels.modules.db).toBe('debug');
  });

  it('explicit options win over the environment', () => {
    const o = resolveOptions(
      { service: 'explicit', endpoint: 'https://x.example', level: 'error', format: 'json' },
      { PERISCOPE_SERVICE: 'env', PERISCOPE_ENDPOINT: 'http://env', PERISCOPE_LOG_LEVEL: 'debug', PERISCOPE_LOG_FORMAT: 'pretty' },
    );
    expect(o).toMatchObject({ service: 'explicit', endpoint: 'https://x.example', format: 'json' });
    expect(o.levels.defaultLevel).toBe('error');
  });

  it.each([
    { name: 'blank service, none in the environment', options: { service: '  ' }, env: {}, error: /"service" must not be blank/ },
    { name: 'bad endpoint', options: { service: 's', endpoint: 'not a url' }, env: {}, error: /"endpoint" is not a URL/ },
    { name: 'non-http endpoint', options: { service: 's', endpoint: 'ftp://x' }, env: {}, error: /must be http\(s\)/ },
    // the signal paths are appended to it: /?token=x/v1/traces
    { name: 'endpoint with a query string', options: { service: 's', endpoint: 'http://c:4318/?token=x' }, env: {}, error: /"endpoint" must be the collector's base URL without a query string or fragment, got "http:\/\/c:4318\/\?token=x"/ },
    { name: 'endpoint with an empty query', options: { service: 's', endpoint: 'http://c:4318/?' }, env: {}, error: /without a query string or fragment/ },
    // thrown into the app's crash log: its password is not in it
    { name: 'endpoint with a password and a query string', options: { service: 's', endpoint: 'http://u:s3cret@c:4318/?x=1' }, env: {}, error: /^\[periscope\] init: "endpoint" must be the collector's base URL without a query string or fragment, got "http:\/\/\*\*\*@c:4318\/\?x=1"$/ },
    { name: 'endpoint with a "#" in its password', options: { service: 's', endpoint: 'http://u:s3#cret@c:4318' }, env: {}, error: /^\[periscope\] init: "endpoint" is not a URL, got "http:\/\/\*\*\*@c:4318"$/ },
    { name: 'bad level', options: { service: 's', level: 'info,db=chatty' }, env: {}, error: /"level": invalid log level "chatty"/ },
    { name: 'bad format', options: { service: 's', format: 'xml' as never }, env: {}, error: /"format" must be one of/ },
    { name: 'zero buffer', options: { service: 's', maxBufferBytes: 0 }, env: {}, error: /"maxBufferBytes" must be a positive integer/ },
    { name: 'fractional interval', options: { service: 's', flushIntervalMs: 1.5 }, env: {}, error: /"flushIntervalMs"/ },
    { name: 'facility out of range', options: { service: 's', facility: 24 }, env: {}, error: /"facility" must be an integer 0–23/ },
    { name: 'redact not array', options: { service: 's', redact: 'password' as never }, env: {}, error: /"redact" must be an array/ },
    // cut in every log record (RFC 5424 APP-NAME / HOSTNAME), whole in spans and metrics
    { name: 'service longer than an APP-NAME', options: { service: 'a'.repeat(49) }, env: {}, error: /"service" must be at most 48 characters \(the logs' RFC 5424 APP-NAME\), got 49/ },
    { name: 'hostname longer than a HOSTNAME', options: { service: 's', hostname: 'h'.repeat(256) }, env: {}, error: /"hostname" must be at most 255 characters/ },
  ])('rejects $name with a clear message', ({ options, env, error }) => {
    expect(() => resolveOptions(options, env)).toThrow(error);
    expect(() => resolveOptions(options, env)).toThrow(/^\[periscope\] init: /);
  });

  it.each([
    { name: 'PERISCOPE_SERVICE', env: { PERISCOPE_SERVICE: 'b'.repeat(60) }, source: 'PERISCOPE_SERVICE' },
    { name: 'OTEL_SERVICE_NAME', env: { OTEL_SERVICE_NAME: 'b'.repeat(60) }, source: 'OTEL_SERVICE_NAME' },
    { name: 'service.name of OTEL_RESOURCE_ATTRIBUTES', env: { OTEL_RESOURCE_ATTRIBUTES: `service.name=${'b'.repeat(60)}` }, source: 'service.name of OTEL_RESOURCE_ATTRIBUTES' },
  ])('a service from $name longer than an APP-NAME is cut to 48 characters with a warning, for every signal', ({ env, source }) => {
    const o = resolveOptions({}, env);
    expect(o.service).toBe('b'.repeat(48));
    expect(buildResource(o).attributes['service.name']).toBe('b'.repeat(48));
    expect(o.warnings).toEqual([`${source} is 60 characters, over the 48 of the logs' RFC 5424 APP-NAME: "${'b'.repeat(48)}" (its first 48) is used for logs, spans and metrics alike`]);
  });

  it('a service cut from the environment does not end in half a surrogate pair', () => {
    expect(resolveOptions({}, { OTEL_SERVICE_NAME: `${'x'.repeat(47)}🚀tail` }).service).toBe('x'.repeat(47));
  });

  it('takes a service of 48 characters and a hostname of 255, the RFC 5424 limits', () => {
    const o = resolveOptions({ service: 's'.repeat(48), hostname: 'h'.repeat(255) }, {});
    expect([o.service.length, o.hostname.length]).toEqual([48, 255]);
  });
});

describe('resolveOptions: traces, metrics, instrumentations, prometheus, log sampling', () => {
  it('defaults: traces and metrics on, ratio 1, 10 s export, runtime + leak detection, nothing instrumented, keep all logs', () => {
    const o = resolveOptions({ service: 'svc', hostname: 'h1' }, {});
    expect(o.traces).toEqual({ enabled: true, sampleRatio: 1, url: 'http://127.0.0.1:4318/v1/traces', headers: {}, timeoutMs: 10_000, batch: { scheduledDelayMillis: 1000, exportTimeoutMillis: 10_000, maxQueueSize: 2048, maxExportBatchSize: 512 }, propagators: ['tracecontext', 'baggage'], limits: {}, tls: {}, gzip: true });
    expect(o.metrics).toEqual({
      enabled: true,
      url: 'http://127.0.0.1:4318/v1/metrics',
      headers: {},
      tls: {},
      gzip: true,
      timeoutMs: 10_000,
      exportTimeoutMs: 10_000,
      exportIntervalMs: 10_000,
      exponentialHistograms: false,
      runtime: true,
      leak: { slopeBytesPerMin: 1024 * 1024, windowMs: 15 * 60_000, minSamples: 6 },
    });
    expect(o.instrumentations).toEqual([]);
    expect(o.prometheus).toBeUndefined();
    expect(o.logSampling).toEqual({ rate: 1, keepLevel: 50 });
    expect(o.serviceInstanceId).toBe(`h1:${process.pid}`);
  });

  it('reads the environment', () => {
    const o = resolveOptions({}, {
      PERISCOPE_SERVICE: 's',
      PERISCOPE_SERVICE_INSTANCE_ID: 'pod-7',
      PERISCOPE_TRACES_ENABLED: 'false',
      PERISCOPE_TRACES_SAMPLE_RATIO: '0.25',
      PERISCOPE_METRICS_ENABLED: '0',
      PERISCOPE_METRICS_EXPORT_INTERVAL_MS: '2500',
      PERISCOPE_RUNTIME_METRICS: 'off',
      PERISCOPE_LEAK_SLOPE_BYTES_PER_MIN: '5000',
      PERISCOPE_LEAK_WINDOW_MS: '60000',
      PERISCOPE_INSTRUMENTATIONS: ' HTTP , http ',
      PERISCOPE_PROMETHEUS_PORT: '9464',
      PERISCOPE_LOG_SAMPLE_RATE: '0.1',
      PERISCOPE_LOG_SAMPLE_KEEP_LEVEL: 'warn',
      PERISCOPE_SHUTDOWN_TIMEOUT_MS: '2000',
    });
    expect(o).toMatchObject({
      serviceInstanceId: 'pod-7',
      traces: { enabled: false, sampleRatio: 0.25 },
      metrics: { enabled: false, exportIntervalMs: 2500, runtime: false, leak: { slopeBytesPerMin: 5000, windowMs: 60_000 } },
      instrumentations: ['http'],
      prometheus: { port: 9464, host: '0.0.0.0' },
      logSampling: { rate: 0.1, keepLevel: 40 },
      shutdownTimeoutMs: 2000,
    });
  });

  it('explicit options win over the environment; leak: false disables detection', () => {
    const o = resolveOptions(
      { service: 's', traces: { sampleRatio: 0 }, metrics: { leak: false }, instrumentations: [], logSampling: { rate: 1 } },
      { PERISCOPE_TRACES_SAMPLE_RATIO: '0.5', PERISCOPE_INSTRUMENTATIONS: 'http', PERISCOPE_LOG_SAMPLE_RATE: '0' },
    );
    expect(o.traces.sampleRatio).toBe(0);
    expect(o.metrics.leak).toBeUndefined();
    expect(o.instrumentations).toEqual([]);
    expect(o.logSampling.rate).toBe(1);
  });

  it.each([
    { name: 'ratio above 1', options: { traces: { sampleRatio: 1.5 } }, env: {}, error: /"traces.sampleRatio" must be a number from 0 to 1/ },
    { name: 'boolean option', options: { metrics: { enabled: 'yes' as never } }, env: {}, error: /"metrics.enabled" must be a boolean/ },
    { name: 'zero export interval', options: { metrics: { exportIntervalMs: 0 } }, env: {}, error: /"metrics.exportIntervalMs" must be a whole number of milliseconds from 1/ },
    // Node fires a timer over 2^31-1 ms at once: every request would time out, a flush loop spin.
    { name: 'a request timeout longer than a Node timer', options: { requestTimeoutMs: 2 ** 31 }, env: {}, error: /"requestTimeoutMs" must be a whole number of milliseconds from 1 to 2147483647/ },
    { name: 'a flush interval longer than a Node timer', options: { flushIntervalMs: 3e9 }, env: {}, error: /"flushIntervalMs" must be a whole number of milliseconds from 1 to 2147483647/ },
    { name: 'a shutdown timeout longer than a Node timer', options: { shutdownTimeoutMs: 9999999999 }, env: {}, error: /"shutdownTimeoutMs" must be a whole number of milliseconds/ },
    { name: 'unknown instrumentation', options: { instrumentations: ['express' as never] }, env: {}, error: /"instrumentations": unknown instrumentation "express" \(known: http\)/ },
    { name: 'prometheus without port', options: { prometheus: {} as never }, env: {}, error: /"prometheus.port" is required/ },
    { name: 'prometheus port out of range', options: { prometheus: { port: 70000 } }, env: {}, error: /"prometheus.port" must be a port/ },
    { name: 'log rate below 0', options: { logSampling: { rate: -0.1 } }, env: {}, error: /"logSampling.rate" must be a number from 0 to 1/ },
    { name: 'keep level above error', options: { logSampling: { keepLevel: 'fatal' as never } }, env: {}, error: /"logSampling.keepLevel" must be one of trace, debug, info, warn, error/ },
    { name: 'keep level named like an Object property', options: { logSampling: { keepLevel: 'constructor' as never } }, env: {}, error: /"logSampling.keepLevel" must be one of/ },
    { name: 'leak minSamples too small', options: { metrics: { leak: { minSamples: 2 } } }, env: {}, error: /"metrics.leak.minSamples" must be an integer ≥ 3/ },
    { name: 'traces not an object', options: { traces: true as never }, env: {}, error: /"traces" must be an object/ },
    // plain JS callers: a wrong type names the option instead of failing inside it
    { name: 'service not a string', options: { service: 42 as never }, env: {}, error: /^\[periscope\] init: "service" must be a string, got number$/ },
    { name: 'endpoint not a string', options: { endpoint: new URL('http://x') as never }, env: {}, error: /"endpoint" must be a string, got object/ },
    { name: 'level not a string', options: { level: 30 as never }, env: {}, error: /"level" must be a string/ },
    { name: 'hostname null', options: { hostname: null as never }, env: {}, error: /"hostname" must be a string, got null/ },
  ])('rejects $name', ({ options, env, error }) => {
    expect(() => resolveOptions({ service: 's', ...options }, env)).toThrow(error);
  });
});

// A variable is often set by a platform, not by the app's developer; with the SDK preloaded
// (--import @periscope/sdk/register) a throw would stop the app before its first line. As the OTel
// spec asks for a value that cannot be parsed: a warning, and the setting is ignored.
describe('a bad value from the environment is ignored with a warning naming it and what is used, never thrown', () => {
  const TIMER = 'a whole number of milliseconds from 1 to 2147483647 (about 24.8 days; Node fires a longer timer at once)';
  it.each([
    { name: 'PERISCOPE_TRACES_SAMPLE_RATIO not a number', env: { PERISCOPE_TRACES_SAMPLE_RATIO: 'abc' }, get: (o: ResolvedOptions) => o.traces.sampleRatio, value: 1, warning: 'PERISCOPE_TRACES_SAMPLE_RATIO ignored: "abc" is not a number from 0 to 1: 1 is used' },
    { name: 'PERISCOPE_TRACES_SAMPLE_RATIO over 1, OTEL_TRACES_SAMPLER used instead', env: { PERISCOPE_TRACES_SAMPLE_RATIO: '1.5', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, get: (o: ResolvedOptions) => o.traces.sampleRatio, value: 0.25, warning: 'PERISCOPE_TRACES_SAMPLE_RATIO ignored: "1.5" is not a number from 0 to 1: 0.25 is used' },
    { name: 'PERISCOPE_SHUTDOWN_TIMEOUT_MS negative', env: { PERISCOPE_SHUTDOWN_TIMEOUT_MS: '-5' }, get: (o: ResolvedOptions) => o.shutdownTimeoutMs, value: 5000, warning: `PERISCOPE_SHUTDOWN_TIMEOUT_MS ignored: "-5" is not ${TIMER}: 5000 is used` },
    { name: 'PERISCOPE_SHUTDOWN_TIMEOUT_MS longer than a Node timer', env: { PERISCOPE_SHUTDOWN_TIMEOUT_MS: '9999999999' }, get: (o: ResolvedOptions) => o.shutdownTimeoutMs, value: 5000, warning: `PERISCOPE_SHUTDOWN_TIMEOUT_MS ignored: "9999999999" is not ${TIMER}: 5000 is used` },
    { name: 'PERISCOPE_METRICS_EXPORT_INTERVAL_MS Infinity', env: { PERISCOPE_METRICS_EXPORT_INTERVAL_MS: 'Infinity' }, get: (o: ResolvedOptions) => o.metrics.exportIntervalMs, value: 10_000, warning: `PERISCOPE_METRICS_EXPORT_INTERVAL_MS ignored: "Infinity" is not ${TIMER}: 10000 is used` },
    { name: 'PERISCOPE_LEAK_WINDOW_MS fractional', env: { PERISCOPE_LEAK_WINDOW_MS: '1.5' }, get: (o: ResolvedOptions) => o.metrics.leak?.windowMs, value: 15 * 60_000, warning: 'PERISCOPE_LEAK_WINDOW_MS ignored: "1.5" is not a positive integer: 900000 is used' },
    { name: 'PERISCOPE_LEAK_SLOPE_BYTES_PER_MIN zero', env: { PERISCOPE_LEAK_SLOPE_BYTES_PER_MIN: '0' }, get: (o: ResolvedOptions) => o.metrics.leak?.slopeBytesPerMin, value: 1024 * 1024, warning: 'PERISCOPE_LEAK_SLOPE_BYTES_PER_MIN ignored: "0" is not a positive number: 1048576 is used' },
    { name: 'PERISCOPE_LOG_SAMPLE_RATE over 1', env: { PERISCOPE_LOG_SAMPLE_RATE: '2' }, get: (o: ResolvedOptions) => o.logSampling.rate, value: 1, warning: 'PERISCOPE_LOG_SAMPLE_RATE ignored: "2" is not a number from 0 to 1: 1 is used' },
    { name: 'PERISCOPE_PROMETHEUS_PORT out of range', env: { PERISCOPE_PROMETHEUS_PORT: '99999' }, get: (o: ResolvedOptions) => o.prometheus, value: undefined, warning: 'PERISCOPE_PROMETHEUS_PORT ignored: "99999" is not a port 0–65535: no Prometheus endpoint is served' },
    { name: 'PERISCOPE_TRACES_ENABLED not a boolean', env: { PERISCOPE_TRACES_ENABLED: 'maybe' }, get: (o: ResolvedOptions) => o.traces.enabled, value: true, warning: 'PERISCOPE_TRACES_ENABLED ignored: "maybe" is not true or false: true is used' },
    { name: 'PERISCOPE_METRICS_ENABLED not a boolean, OTEL_METRICS_EXPORTER=none used instead', env: { PERISCOPE_METRICS_ENABLED: 'nope', OTEL_METRICS_EXPORTER: 'none' }, get: (o: ResolvedOptions) => o.metrics.enabled, value: false, warning: 'PERISCOPE_METRICS_ENABLED ignored: "nope" is not true or false: false is used' },
    { name: 'PERISCOPE_RUNTIME_METRICS not a boolean', env: { PERISCOPE_RUNTIME_METRICS: '2' }, get: (o: ResolvedOptions) => o.metrics.runtime, value: true, warning: 'PERISCOPE_RUNTIME_METRICS ignored: "2" is not true or false: true is used' },
    { name: 'PERISCOPE_LOG_LEVEL with an unknown level (ignored whole)', env: { PERISCOPE_LOG_LEVEL: 'warn,db=chatty' }, get: (o: ResolvedOptions) => o.levels, value: { defaultLevel: 'info', modules: {} }, warning: 'PERISCOPE_LOG_LEVEL ignored: invalid log level "chatty" in "warn,db=chatty" (expected one of trace, debug, info, warn, error, fatal, silent): info is used' },
    { name: 'PERISCOPE_LOG_FORMAT unknown', env: { PERISCOPE_LOG_FORMAT: 'XML' }, get: (o: ResolvedOptions) => o.format, value: 'none', warning: 'PERISCOPE_LOG_FORMAT ignored: "XML" is not one of none, json, logfmt, pretty: none is used' },
    { name: 'PERISCOPE_LOG_SAMPLE_KEEP_LEVEL above error', env: { PERISCOPE_LOG_SAMPLE_KEEP_LEVEL: 'fatal' }, get: (o: ResolvedOptions) => o.logSampling.keepLevel, value: 50, warning: 'PERISCOPE_LOG_SAMPLE_KEEP_LEVEL ignored: "fatal" is not one of trace, debug, info, warn, error (error and worse are always kept): error is used' },
    { name: 'PERISCOPE_LOG_SAMPLE_KEEP_LEVEL named like an Object property', env: { PERISCOPE_LOG_SAMPLE_KEEP_LEVEL: '__proto__' }, get: (o: ResolvedOptions) => o.logSampling.keepLevel, value: 50, warning: 'PERISCOPE_LOG_SAMPLE_KEEP_LEVEL ignored: "__proto__" is not one of trace, debug, info, warn, error (error and worse are always kept): error is used' },
    { name: 'PERISCOPE_INSTRUMENTATIONS with an unknown name (the known ones load)', env: { PERISCOPE_INSTRUMENTATIONS: 'http,grpc' }, get: (o: ResolvedOptions) => o.instrumentations, value: ['http'], warning: 'PERISCOPE_INSTRUMENTATIONS: "grpc" ignored, not an instrumentation the SDK has (http): http is loaded' },
    { name: 'PERISCOPE_INSTRUMENTATIONS with unknown names only', env: { PERISCOPE_INSTRUMENTATIONS: 'express,pg' }, get: (o: ResolvedOptions) => o.instrumentations, value: [], warning: 'PERISCOPE_INSTRUMENTATIONS: "express", "pg" ignored, not an instrumentation the SDK has (http): none is loaded' },
    { name: 'PERISCOPE_ENDPOINT not a URL', env: { PERISCOPE_ENDPOINT: 'collector:4318' }, get: (o: ResolvedOptions) => o.endpoint, value: DEFAULTS.endpoint, warning: `PERISCOPE_ENDPOINT ignored: "collector:4318" is not an http(s) base URL without a query string or fragment: ${DEFAULTS.endpoint} is used` },
    // its credentials are not written into the warning (a log record shipped to the collector)
    { name: 'PERISCOPE_ENDPOINT with a fragment, OTEL_EXPORTER_OTLP_ENDPOINT used instead', env: { PERISCOPE_ENDPOINT: 'http://u:secret@c:4318/base#x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }, get: (o: ResolvedOptions) => o.endpoint, value: 'http://otel:4318', warning: 'PERISCOPE_ENDPOINT ignored: "http://***@c:4318/base#x" is not an http(s) base URL without a query string or fragment: http://otel:4318 is used' },
  ])('$name', ({ env, get, value, warning }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect(get(o)).toEqual(value);
    expect(o.warnings).toEqual([warning]);
  });

  it('the same values given as options still stop init() (the developer sees it at once)', () => {
    expect(() => resolveOptions({ service: 's', traces: { sampleRatio: Number('abc') } }, {})).toThrow(/"traces.sampleRatio" must be a number from 0 to 1/);
    expect(() => resolveOptions({ service: 's', format: 'xml' as never }, {})).toThrow(/"format" must be one of/);
    expect(() => resolveOptions({ service: 's', instrumentations: ['grpc' as never] }, {})).toThrow(/unknown instrumentation "grpc"/);
    expect(() => resolveOptions({ service: 's', endpoint: 'collector:4318' }, { PERISCOPE_ENDPOINT: 'http://ok:4318' })).toThrow(/"endpoint" is not a URL|must be http\(s\)/);
  });

  it('a good option wins over a bad variable, which is then not read (no warning)', () => {
    const o = resolveOptions({ service: 's', shutdownTimeoutMs: 100, format: 'json', level: 'debug' }, { PERISCOPE_SHUTDOWN_TIMEOUT_MS: 'abc', PERISCOPE_LOG_FORMAT: 'xml', PERISCOPE_LOG_LEVEL: 'chatty' });
    expect([o.shutdownTimeoutMs, o.format, o.levels.defaultLevel]).toEqual([100, 'json', 'debug']);
    expect(o.warnings).toEqual([]);
  });
});

// OTel SDK environment variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
// an app moved from the OTel Node SDK keeps its deployment's env.
describe('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', () => {
  const resourceOf = (options: Parameters<typeof resolveOptions>[0], env: NodeJS.ProcessEnv) =>
    buildResource(resolveOptions(options, env)).attributes;

  it('name the service and carry their attributes into the resource (percent-decoded)', () => {
    const env = {
      OTEL_SERVICE_NAME: 'checkout',
      OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.4.2,deployment.environment.name=prod,service.namespace=shop,team=a%2Cb%3Dc%20d',
    };
    const o = resolveOptions({}, env);
    expect(o.service).toBe('checkout');
    expect(o.warnings).toEqual([]);
    expect(resourceOf({}, env)).toMatchObject({
      'service.name': 'checkout',
      'service.version': '1.4.2',
      'deployment.environment.name': 'prod',
      'service.namespace': 'shop',
      team: 'a,b=c d',
      'telemetry.sdk.language': 'nodejs',
    });
  });

  it.each([
    { name: 'service.name of OTEL_RESOURCE_ATTRIBUTES alone', options: {}, env: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }, service: 'from-attrs' },
    { name: 'OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES', options: {}, env: { OTEL_SERVICE_NAME: 'from-name', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }, service: 'from-name' },
    { name: 'PERISCOPE_SERVICE over OTEL_SERVICE_NAME', options: {}, env: { PERISCOPE_SERVICE: 'periscope', OTEL_SERVICE_NAME: 'from-name' }, service: 'periscope' },
    { name: 'the option over every env', options: { service: 'option' }, env: { PERISCOPE_SERVICE: 'p', OTEL_SERVICE_NAME: 'n', OTEL_RESOURCE_ATTRIBUTES: 'service.name=a' }, service: 'option' },
    { name: 'a blank option, then the env', options: { service: '  ' }, env: { OTEL_SERVICE_NAME: 'from-name' }, service: 'from-name' },
  ])('service: $name', ({ options, env, service }) => {
    expect(resolveOptions(options, env).service).toBe(service);
    expect(resourceOf(options, env)['service.name']).toBe(service);
  });

  it('host.name and service.instance.id of OTEL_RESOURCE_ATTRIBUTES are the logs\' HOSTNAME and the instance; options win', () => {
    const env = { OTEL_SERVICE_NAME: 's', OTEL_RESOURCE_ATTRIBUTES: 'host.name=node-7,service.instance.id=pod-7' };
    const fromEnv = resolveOptions({}, env);
    expect([fromEnv.hostname, fromEnv.serviceInstanceId]).toEqual(['node-7', 'pod-7']);
    expect(resourceOf({}, env)).toMatchObject({ 'host.name': 'node-7', 'service.instance.id': 'pod-7' });
    const explicit = resolveOptions({ hostname: 'h1', serviceInstanceId: 'i1' }, env);
    expect([explicit.hostname, explicit.serviceInstanceId]).toEqual(['h1', 'i1']);
    expect(resourceOf({ hostname: 'h1', serviceInstanceId: 'i1' }, env)).toMatchObject({ 'host.name': 'h1', 'service.instance.id': 'i1' });
  });

  it('a value with a bad entry is discarded whole (as the spec says) with a warning naming it, not an error', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_RESOURCE_ATTRIBUTES: 'service.version=1,oops,team=x' });
    expect(o.resourceAttributes).toEqual({});
    expect(o.warnings).toEqual([expect.stringMatching(/^OTEL_RESOURCE_ATTRIBUTES ignored: .*"oops"/)]);
    expect(resourceOf({ service: 's' }, { OTEL_RESOURCE_ATTRIBUTES: 'team=%E0%A4%A' })['team']).toBeUndefined();
  });

  it('no service named anywhere: OpenTelemetry\'s default, unknown_service:<executable>, with a warning saying how to set one (not a throw)', () => {
    const o = resolveOptions({}, {});
    expect(o.service).toBe(`unknown_service:${basename(process.execPath)}`);
    expect(buildResource(o).attributes['service.name']).toBe(o.service);
    expect(o.warnings).toEqual([`no service name is set (the service option, PERISCOPE_SERVICE, OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES): logs, spans and metrics are sent as "${o.service}", OpenTelemetry's default`]);
  });
});

describe('OTEL_SDK_DISABLED', () => {
  it.each([
    { name: 'unset', env: {}, disabled: false, warnings: 0 },
    { name: 'true, any case', env: { OTEL_SDK_DISABLED: 'TRUE' }, disabled: true, warnings: 0 },
    { name: 'false', env: { OTEL_SDK_DISABLED: 'false' }, disabled: false, warnings: 0 },
    { name: 'empty', env: { OTEL_SDK_DISABLED: '' }, disabled: false, warnings: 0 },
    // the spec: any other value is false, and a warning is logged
    { name: 'another value', env: { OTEL_SDK_DISABLED: 'yes' }, disabled: false, warnings: 1 },
  ])('$name', ({ env, disabled, warnings }) => {
    const o = resolveOptions({ service: 's', traces: { enabled: true }, metrics: { enabled: true }, instrumentations: ['http'], prometheus: { port: 9464 } }, env);
    expect(o.disabled).toBe(disabled);
    expect([o.traces.enabled, o.metrics.enabled, o.instrumentations.length > 0, o.prometheus !== undefined]).toEqual(Array(4).fill(!disabled));
    expect(o.warnings).toHaveLength(warnings);
  });
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS', () => {
  it.each([
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT alone', options: {}, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' }, endpoint: 'http://otel:4318' },
    { name: 'PERISCOPE_ENDPOINT over it', options: {}, env: { PERISCOPE_ENDPOINT: 'http://p:4318', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }, endpoint: 'http://p:4318' },
    { name: 'the option over both', options: { endpoint: 'http://o:4318' }, env: { PERISCOPE_ENDPOINT: 'http://p:4318', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }, endpoint: 'http://o:4318' },
  ])('endpoint: $name', ({ options, env, endpoint }) => {
    expect(resolveOptions({ service: 's', ...options }, env).endpoint).toBe(endpoint);
  });

  it.each([
    { name: 'without a scheme', value: 'collector:4318' },
    { name: 'of another scheme', value: 'grpc://collector:4317' },
    { name: 'with a query string', value: 'http://collector:4318/?tenant=a' },
    { name: 'not a URL', value: 'http://' },
  ])('an OTEL_EXPORTER_OTLP_ENDPOINT $name is ignored with a warning, not an error that stops the app', ({ value }) => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_ENDPOINT: value });
    expect(o.endpoint).toBe(DEFAULTS.endpoint);
    expect(o.warnings).toEqual([expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT ignored: .* is not an http\(s\) base URL/)]);
  });

  it.each([
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://user:s3cret@collector:4318/?tenant=a', shown: 'http://***@collector:4318/?tenant=a' },
    { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', value: 'grpc://user:s3cret@collector:4317', shown: 'grpc://***@collector:4317' },
    // a password with a reserved character not percent-encoded: the very reason the URL is bad
    { name: 'PERISCOPE_ENDPOINT', value: 'http://user:s3cret#1@collector:4318', shown: 'http://***@collector:4318' },
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://user:s3/cret@collector:4318', shown: 'http://***@collector:4318' },
    { name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', value: 'https://user:s3cret?@collector:4318/v1/metrics', shown: 'https://***@collector:4318/v1/metrics' },
    // no scheme
    { name: 'PERISCOPE_ENDPOINT', value: 'user:s3cret@collector:4318', shown: '***@collector:4318' },
  ])('a bad $name is shown in its warning without the password it carries', ({ name, value, shown }) => {
    const o = resolveOptions({ service: 's' }, { [name]: value });
    expect(o.warnings).toEqual([expect.stringContaining(`${name} ignored: ${JSON.stringify(shown)}`)]);
    expect(o.warnings.join()).not.toContain('s3cret');
  });

  it('reads the headers percent-decoded; a header Node would refuse is left out with a warning that does not show its value', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20tok,x-tenant=acme,bad name=v,x-bad=a%0Ab' });
    expect(o.headers).toEqual({ authorization: 'Bearer tok', 'x-tenant': 'acme' });
    expect(o.warnings).toHaveLength(2);
    expect(o.warnings.join()).toMatch(/header "bad name" ignored/);
    expect(o.warnings.join()).not.toMatch(/a\nb/);
    expect(resolveOptions({ service: 's' }, {}).headers).toEqual({});
  });

  it('an entry the parser drops (a raw "%", an empty value, no "=") is left out with a warning, not silently; a value without "=" is not shown', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=50%off,x-tenant=acme,x-empty=,Bearer sekret' });
    expect(o.headers).toEqual({ 'x-tenant': 'acme' });
    expect(o.warnings).toEqual([
      'OTEL_EXPORTER_OTLP_HEADERS: header "api-key" ignored: its value is empty or not percent-encoded (a "%" is written %25)',
      'OTEL_EXPORTER_OTLP_HEADERS: header "x-empty" ignored: its value is empty or not percent-encoded (a "%" is written %25)',
      'OTEL_EXPORTER_OTLP_HEADERS: entry 4 ignored: not name=value (not shown: it may be a secret)',
    ]);
    const traces = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=50%off' });
    expect([traces.traces.headers, traces.warnings]).toEqual([{}, ['OTEL_EXPORTER_OTLP_TRACES_HEADERS: header "api-key" ignored: its value is empty or not percent-encoded (a "%" is written %25)']]);
  });

  // "Authorization=" forgotten before a Basic token whose base64 ends in one "=": the parser reads
  // the token as a name with an empty value.
  it('an entry the parser drops whose name is no HTTP header name is not shown: it may be the secret itself', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_HEADERS: 'Basic dXNlcjpzM2NyZXQx=,x-tenant=acme' });
    expect(o.headers).toEqual({ 'x-tenant': 'acme' });
    expect(o.warnings).toEqual(['OTEL_EXPORTER_OTLP_HEADERS: entry 1 ignored: not name=value (not shown: it may be a secret)']);
  });
});

describe('per-signal OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT and _HEADERS', () => {
  it('a signal\'s endpoint is its URL as-is; without one, the signal path goes after the base endpoint', () => {
    const o = resolveOptions({ service: 's', endpoint: 'http://collector:4318/' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo:4318/otlp/v1/traces' });
    expect([o.traces.url, o.metrics.url, o.endpoint]).toEqual(['https://tempo:4318/otlp/v1/traces', 'http://collector:4318/v1/metrics', 'http://collector:4318']);
    expect(resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://mimir:4318/otlp/v1/metrics' }).metrics.url).toBe('http://mimir:4318/otlp/v1/metrics');
  });

  it('a signal\'s headers go over the general ones, for that signal only', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme,x-team=all', OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-team=metrics', OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-logs=1' });
    expect(o.metrics.headers).toEqual({ 'x-tenant': 'acme', 'x-team': 'metrics' });
    expect(o.traces.headers).toEqual({ 'x-tenant': 'acme', 'x-team': 'all' });
    expect(o.headers).toEqual({ 'x-tenant': 'acme', 'x-team': 'all', 'x-logs': '1' });
  });

  it('timeouts: the option, else the signal\'s OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT (ms); a bad one is ignored with a warning', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '500', OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '2.5' });
    expect([o.requestTimeoutMs, o.traces.timeoutMs, o.metrics.timeoutMs]).toEqual([3000, 500, 3000]);
    expect(o.warnings.join('\n')).toMatch(/OTEL_EXPORTER_OTLP_METRICS_TIMEOUT ignored: "2.5" is not a positive integer of milliseconds/);
    const explicit = resolveOptions({ service: 's', requestTimeoutMs: 7000 }, { OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '500' });
    expect([explicit.requestTimeoutMs, explicit.traces.timeoutMs, explicit.metrics.timeoutMs]).toEqual([7000, 7000, 7000]);
  });

  it('an OTEL_EXPORTER_OTLP_TIMEOUT beyond what a timer can wait (2^31-1 ms) waits that long, not 1 ms', () => {
    // Node sets a longer timer (AbortSignal.timeout too) to 1 ms: every request was aborted at once.
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_TIMEOUT: '99999999999', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000000000' });
    expect([o.requestTimeoutMs, o.traces.timeoutMs, o.metrics.timeoutMs]).toEqual([2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1]);
    expect(o.warnings).toEqual([]);
  });

  it('a bad OTEL_EXPORTER_OTLP_TIMEOUT is warned about once, not once per signal', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_TIMEOUT: '10s' });
    expect([o.requestTimeoutMs, o.traces.timeoutMs, o.metrics.timeoutMs]).toEqual([10_000, 10_000, 10_000]);
    expect(o.warnings.filter((w) => w.startsWith('OTEL_EXPORTER_OTLP_TIMEOUT'))).toEqual(['OTEL_EXPORTER_OTLP_TIMEOUT ignored: "10s" is not a positive integer of milliseconds']);
  });

  it('a bad signal endpoint is ignored with a warning; an OTLP logs endpoint cannot be used for the SDK\'s logs and says so', () => {
    const o = resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'tempo:4317', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://loki:3100/otlp/v1/logs' });
    expect(o.traces.url).toBe('http://127.0.0.1:4318/v1/traces');
    expect(o.warnings.join('\n')).toMatch(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ignored: "tempo:4317" is not an http\(s\) URL/);
    expect(o.warnings.join('\n')).toMatch(/OTEL_EXPORTER_OTLP_LOGS_ENDPOINT ignored: logs are shipped to the collector's log API at http:\/\/127.0.0.1:4318\/api\/v1\/logs/);
  });
});

describe('OTEL_SDK_DISABLED without a service', () => {
  it('does not throw (a preloaded SDK would stop the app): the console logs say unknown_service:node', () => {
    const o = resolveOptions({}, { OTEL_SDK_DISABLED: 'true' });
    expect([o.service, o.warnings]).toEqual(['unknown_service:node', []]); // nothing is sent: no warning
    expect(resolveOptions({}, { OTEL_SDK_DISABLED: 'false' }).warnings).toEqual([expect.stringMatching(/^no service name is set/)]);
  });
});

describe('OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', () => {
  it.each([
    { name: 'parentbased_traceidratio with its ARG', env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }, ratio: 0.1, warnings: 0 },
    { name: 'traceidratio (parent-based here)', env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, ratio: 0.25, warnings: 0 },
    { name: 'a ratio sampler without ARG', env: { OTEL_TRACES_SAMPLER: 'traceidratio' }, ratio: 1, warnings: 0 },
    { name: 'always_off', env: { OTEL_TRACES_SAMPLER: 'always_off' }, ratio: 0, warnings: 0 },
    { name: 'parentbased_always_on', env: { OTEL_TRACES_SAMPLER: 'parentbased_always_on' }, ratio: 1, warnings: 0 },
    { name: 'an invalid ARG reads as unset', env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '10%' }, ratio: 1, warnings: 1 },
    { name: 'an unknown sampler is ignored', env: { OTEL_TRACES_SAMPLER: 'jaeger_remote' }, ratio: 1, warnings: 1 },
    { name: 'PERISCOPE_TRACES_SAMPLE_RATIO wins', env: { PERISCOPE_TRACES_SAMPLE_RATIO: '0.5', OTEL_TRACES_SAMPLER: 'always_off' }, ratio: 0.5, warnings: 0 },
  ])('$name', ({ env, ratio, warnings }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect(o.traces.sampleRatio).toBe(ratio);
    expect(o.warnings).toHaveLength(warnings);
  });

  it('the option wins over both', () => {
    expect(resolveOptions({ service: 's', traces: { sampleRatio: 0.3 } }, { OTEL_TRACES_SAMPLER: 'always_off' }).traces.sampleRatio).toBe(0.3);
  });
});

describe('OTEL_METRIC_EXPORT_INTERVAL', () => {
  it.each([
    { name: 'sets the interval', options: {}, env: { OTEL_METRIC_EXPORT_INTERVAL: '60000' }, interval: 60_000, warnings: 0 },
    { name: 'PERISCOPE_METRICS_EXPORT_INTERVAL_MS wins', options: {}, env: { PERISCOPE_METRICS_EXPORT_INTERVAL_MS: '5000', OTEL_METRIC_EXPORT_INTERVAL: '60000' }, interval: 5000, warnings: 0 },
    { name: 'the option wins', options: { metrics: { exportIntervalMs: 2000 } }, env: { OTEL_METRIC_EXPORT_INTERVAL: '60000' }, interval: 2000, warnings: 0 },
    { name: 'a bad value is ignored with a warning', options: {}, env: { OTEL_METRIC_EXPORT_INTERVAL: '60s' }, interval: 10_000, warnings: 1 },
    { name: 'a value longer than a Node timer waits the longest one (a longer timer fires at once)', options: {}, env: { OTEL_METRIC_EXPORT_INTERVAL: '3000000000' }, interval: 2 ** 31 - 1, warnings: 0 },
  ])('$name', ({ options, env, interval, warnings }) => {
    const o = resolveOptions({ service: 's', ...options }, env);
    expect(o.metrics.exportIntervalMs).toBe(interval);
    expect(o.warnings).toHaveLength(warnings);
  });
});

describe('OTEL_METRIC_EXPORT_TIMEOUT', () => {
  it.each([
    { name: 'unset: the request timeout', options: {}, env: {}, timeout: 10_000, warnings: 0 },
    { name: 'sets how long the reader waits for an export', options: {}, env: { OTEL_METRIC_EXPORT_TIMEOUT: '3000' }, timeout: 3000, warnings: 0 },
    { name: 'at most the export interval (the reader refuses a longer one)', options: {}, env: { OTEL_METRIC_EXPORT_TIMEOUT: '30000', OTEL_METRIC_EXPORT_INTERVAL: '5000' }, timeout: 5000, warnings: 0 },
    { name: 'a bad value is ignored with a warning', options: {}, env: { OTEL_METRIC_EXPORT_TIMEOUT: '3s' }, timeout: 10_000, warnings: 1 },
  ])('$name', ({ options, env, timeout, warnings }) => {
    const o = resolveOptions({ service: 's', ...options }, env);
    expect(o.metrics.exportTimeoutMs).toBe(timeout);
    expect(o.warnings).toHaveLength(warnings);
  });
});

describe('host and process attributes', () => {
  it('are what @opentelemetry/resources detects, without the command line; OTEL_RESOURCE_ATTRIBUTES and options win', async () => {
    const resource = buildResource(resolveOptions({ service: 's', hostname: 'h1' }, { OTEL_RESOURCE_ATTRIBUTES: 'host.arch=custom,host.name=env-host' }));
    await resource.waitForAsyncAttributes?.();
    expect(resource.attributes).toMatchObject({
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'process.executable.path': process.execPath,
      'process.pid': process.pid,
      'host.arch': 'custom',
      'host.name': 'h1',
    });
    expect(resource.attributes['process.command_args']).toBeUndefined();
    expect(resource.attributes['process.command_line']).toBeUndefined();
  });
});

describe('OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER', () => {
  it.each([
    { name: 'none turns each signal off', options: {}, env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'None', OTEL_LOGS_EXPORTER: 'none' }, on: [false, false, false], warnings: 0 },
    { name: 'otlp is what the SDK does', options: {}, env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'otlp', OTEL_LOGS_EXPORTER: 'otlp' }, on: [true, true, true], warnings: 0 },
    { name: 'another exporter is reported', options: {}, env: { OTEL_TRACES_EXPORTER: 'otlp,zipkin', OTEL_METRICS_EXPORTER: 'prometheus' }, on: [true, true, true], warnings: 2 },
    { name: 'the options and PERISCOPE_* win', options: { traces: { enabled: true } }, env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', PERISCOPE_METRICS_ENABLED: 'true' }, on: [true, true, true], warnings: 0 },
  ])('$name', ({ options, env, on, warnings }) => {
    const o = resolveOptions({ service: 's', ...options }, env);
    expect([o.traces.enabled, o.metrics.enabled, o.shipLogs]).toEqual(on);
    expect(o.warnings).toHaveLength(warnings);
  });
});

describe('OTEL_EXPORTER_OTLP_PROTOCOL', () => {
  it.each([
    { name: 'http/protobuf is what the SDK speaks', env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, warning: undefined },
    { name: 'grpc is reported', env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, warning: /OTEL_EXPORTER_OTLP_PROTOCOL=grpc ignored: the SDK sends http\/protobuf/ },
    { name: 'a per-signal http/json is reported', env: { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, warning: /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http\/json ignored/ },
  ])('$name', ({ env, warning }) => {
    const { warnings } = resolveOptions({ service: 's' }, env);
    if (warning === undefined) expect(warnings).toEqual([]);
    else expect(warnings).toEqual([expect.stringMatching(warning)]);
  });
});

describe('OTEL_BSP_* (the span batch processor)', () => {
  const defaults = { scheduledDelayMillis: 1000, exportTimeoutMillis: 10_000, maxQueueSize: 2048, maxExportBatchSize: 512 };
  it.each([
    { name: 'defaults: flushIntervalMs, the request timeout, 2048 and 512', options: {}, env: {}, batch: defaults, warnings: [] },
    {
      name: 'each variable sets its setting',
      options: {},
      env: { OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_BSP_EXPORT_TIMEOUT: '7000', OTEL_BSP_MAX_QUEUE_SIZE: '10000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2' },
      batch: { scheduledDelayMillis: 200, exportTimeoutMillis: 7000, maxQueueSize: 10_000, maxExportBatchSize: 2 },
      warnings: [],
    },
    { name: 'the flushIntervalMs option wins over OTEL_BSP_SCHEDULE_DELAY', options: { flushIntervalMs: 50 }, env: { OTEL_BSP_SCHEDULE_DELAY: '200' }, batch: { ...defaults, scheduledDelayMillis: 50 }, warnings: [] },
    {
      name: 'a batch size over the queue size is cut to it, with a warning',
      options: {},
      env: { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' },
      batch: { ...defaults, maxQueueSize: 100, maxExportBatchSize: 100 },
      warnings: [/OTEL_BSP_MAX_EXPORT_BATCH_SIZE \(500\) is over the span queue size \(100\)/],
    },
    {
      name: 'bad values are ignored with a warning each',
      options: {},
      env: { OTEL_BSP_SCHEDULE_DELAY: '5s', OTEL_BSP_EXPORT_TIMEOUT: '-1', OTEL_BSP_MAX_QUEUE_SIZE: '0', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1.5' },
      batch: defaults,
      warnings: [/OTEL_BSP_SCHEDULE_DELAY ignored/, /OTEL_BSP_EXPORT_TIMEOUT ignored/, /OTEL_BSP_MAX_QUEUE_SIZE ignored/, /OTEL_BSP_MAX_EXPORT_BATCH_SIZE ignored/],
    },
  ])('$name', ({ options, env, batch, warnings }) => {
    const o = resolveOptions({ service: 's', ...options }, env);
    expect(o.traces.batch).toEqual(batch);
    expect(o.warnings).toEqual(warnings.map((w) => expect.stringMatching(w)));
  });
});

describe('OTEL_PROPAGATORS', () => {
  it.each([
    { name: 'unset: tracecontext and baggage', env: {}, propagators: ['tracecontext', 'baggage'], warnings: [] },
    { name: 'baggage alone', env: { OTEL_PROPAGATORS: 'baggage' }, propagators: ['baggage'], warnings: [] },
    { name: 'deduplicated, in the order given, any case', env: { OTEL_PROPAGATORS: 'Baggage, tracecontext,baggage' }, propagators: ['baggage', 'tracecontext'], warnings: [] },
    { name: 'none registers none', env: { OTEL_PROPAGATORS: 'none' }, propagators: [], warnings: [] },
    {
      name: 'one not available is left out with a warning',
      env: { OTEL_PROPAGATORS: 'tracecontext,b3multi' },
      propagators: ['tracecontext'],
      warnings: [/^OTEL_PROPAGATORS: b3multi not available .*propagating with tracecontext only/],
    },
    {
      name: 'none available: none registered (as @opentelemetry/sdk-node does), and the warning says so',
      env: { OTEL_PROPAGATORS: 'b3,xray' },
      propagators: [],
      warnings: [/^OTEL_PROPAGATORS: b3, xray not available .*no trace context or baggage is read from or sent/],
    },
  ])('$name', ({ env, propagators, warnings }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect(o.traces.propagators).toEqual(propagators);
    expect(o.warnings).toEqual(warnings.map((w) => expect.stringMatching(w)));
  });
});

describe('OTEL_ATTRIBUTE_* and OTEL_SPAN_* limits', () => {
  it.each([
    { name: 'unset: none (the tracer provider\'s defaults, the spec\'s)', env: {}, limits: {}, warnings: [] },
    { name: 'the general attribute limits', env: { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096', OTEL_ATTRIBUTE_COUNT_LIMIT: '64' }, limits: { attributeValueLengthLimit: 4096, attributeCountLimit: 64 }, warnings: [] },
    {
      name: 'the span ones win over the general ones',
      env: { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100', OTEL_ATTRIBUTE_COUNT_LIMIT: '64', OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '0' },
      limits: { attributeValueLengthLimit: 100, attributeCountLimit: 0 },
      warnings: [],
    },
    {
      name: 'events and links',
      env: { OTEL_SPAN_EVENT_COUNT_LIMIT: '10', OTEL_SPAN_LINK_COUNT_LIMIT: '5', OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '3', OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '2' },
      limits: { eventCountLimit: 10, linkCountLimit: 5, attributePerEventCountLimit: 3, attributePerLinkCountLimit: 2 },
      warnings: [],
    },
    { name: 'a bad value is ignored with a warning', env: { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4k' }, limits: {}, warnings: [/OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT ignored: "4k"/] },
    { name: 'the log record limits are not applied, and a warning says so', env: { OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100' }, limits: {}, warnings: [/OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT ignored: the SDK ships its pino log records whole/] },
  ])('$name', ({ env, limits, warnings }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect(o.traces.limits).toEqual(limits);
    expect(o.warnings).toEqual(warnings.map((w) => expect.stringMatching(w)));
  });
});

describe('OTEL_EXPORTER_OTLP_COMPRESSION', () => {
  it.each([
    { name: 'unset: gzip, the SDK\'s default', env: {}, gzip: [true, true, true], warning: undefined },
    { name: 'gzip, any case', env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'GZIP' }, gzip: [true, true, true], warning: undefined },
    { name: 'none: every signal uncompressed', env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'none' }, gzip: [false, false, false], warning: undefined },
    { name: 'a signal\'s own over the general one', env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'none', OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'None' }, gzip: [true, false, false], warning: undefined },
    { name: 'another value is ignored with a warning', env: { OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'zstd' }, gzip: [true, true, true], warning: /^OTEL_EXPORTER_OTLP_TRACES_COMPRESSION ignored: "zstd" is neither gzip nor none$/ },
  ])('$name (logs, traces, metrics)', ({ env, gzip, warning }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect([o.gzip, o.traces.gzip, o.metrics.gzip]).toEqual(gzip);
    if (warning === undefined) expect(o.warnings).toEqual([]);
    else expect(o.warnings).toEqual([expect.stringMatching(warning)]);
  });
});

describe('OTEL_LOG_LEVEL', () => {
  it.each([
    { name: 'unset: no diagnostic messages', env: {}, level: undefined, warnings: 0 },
    { name: 'debug, any case', env: { OTEL_LOG_LEVEL: 'Debug' }, level: 70, warnings: 0 },
    { name: 'none', env: { OTEL_LOG_LEVEL: 'none' }, level: 0, warnings: 0 },
    { name: 'all', env: { OTEL_LOG_LEVEL: 'ALL' }, level: 9999, warnings: 0 },
    { name: 'a bad value is ignored with a warning', env: { OTEL_LOG_LEVEL: 'loud' }, level: undefined, warnings: 1 },
  ])('$name', ({ env, level, warnings }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect(o.diagLevel).toBe(level);
    expect(o.warnings).toHaveLength(warnings);
  });
});

describe('OTEL_BLRP_* (the log batching)', () => {
  it.each([
    { name: 'the schedule delay and batch size set the logs\' flushIntervalMs and batchMaxRecords, not the spans\'', options: {}, env: { OTEL_BLRP_SCHEDULE_DELAY: '250', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '100' }, logs: [250, 100], spanDelay: 1000, warnings: [] },
    { name: 'the options win', options: { flushIntervalMs: 50, batchMaxRecords: 10 }, env: { OTEL_BLRP_SCHEDULE_DELAY: '250', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '100' }, logs: [50, 10], spanDelay: 50, warnings: [] },
    { name: 'a bad value is ignored with a warning', options: {}, env: { OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: 'many' }, logs: [1000, 1000], spanDelay: 1000, warnings: [/OTEL_BLRP_MAX_EXPORT_BATCH_SIZE ignored/] },
    {
      name: 'the queue size has no counterpart (the buffer is bounded in bytes): a warning saying what bounds it',
      options: {},
      env: { OTEL_BLRP_MAX_QUEUE_SIZE: '4096' },
      logs: [1000, 1000],
      spanDelay: 1000,
      warnings: [/^OTEL_BLRP_MAX_QUEUE_SIZE ignored: the SDK bounds its log buffer in bytes, not records \(the maxBufferBytes option .*drops the least severe records first/],
    },
  ])('$name', ({ options, env, logs, spanDelay, warnings }) => {
    const o = resolveOptions({ service: 's', ...options }, env);
    expect([o.flushIntervalMs, o.batchMaxRecords]).toEqual(logs);
    expect(o.traces.batch.scheduledDelayMillis).toBe(spanDelay);
    expect(o.warnings).toEqual(warnings.map((w) => expect.stringMatching(w)));
  });

  it.each([
    { name: 'alone, it is the log request timeout', options: {}, env: { OTEL_BLRP_EXPORT_TIMEOUT: '3000' }, logs: 3000, warnings: [] },
    { name: 'it shortens the exporter timeout, as the processor ends the export first in the OTel SDKs', options: {}, env: { OTEL_BLRP_EXPORT_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '5000' }, logs: 3000, warnings: [] },
    { name: 'a shorter exporter timeout still ends the request first', options: {}, env: { OTEL_BLRP_EXPORT_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' }, logs: 2000, warnings: [] },
    { name: 'longer than the default request timeout, the default still ends the request', options: {}, env: { OTEL_BLRP_EXPORT_TIMEOUT: '30000' }, logs: 10_000, warnings: [] },
    { name: 'the requestTimeoutMs option wins', options: { requestTimeoutMs: 7000 }, env: { OTEL_BLRP_EXPORT_TIMEOUT: '3000' }, logs: 7000, warnings: [] },
    { name: 'a bad value is ignored with a warning', options: {}, env: { OTEL_BLRP_EXPORT_TIMEOUT: '3s' }, logs: 10_000, warnings: [/^OTEL_BLRP_EXPORT_TIMEOUT ignored: "3s" is not a positive integer of milliseconds/] },
  ])('OTEL_BLRP_EXPORT_TIMEOUT: $name; spans and metrics keep theirs', ({ options, env, logs, warnings }) => {
    const o = resolveOptions({ service: 's', ...options }, env);
    expect(o.requestTimeoutMs).toBe(logs);
    const others = resolveOptions({ service: 's', ...options }, { ...env, OTEL_BLRP_EXPORT_TIMEOUT: '' });
    expect([o.traces.timeoutMs, o.metrics.timeoutMs]).toEqual([others.traces.timeoutMs, others.metrics.timeoutMs]);
    expect(o.warnings).toEqual(warnings.map((w) => expect.stringMatching(w)));
  });
});

describe('OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY', () => {
  // test/fixtures/tls: a CA certificate, a server certificate and key, a client certificate and key
  const fixture = (name: string) => new URL(`../../test/fixtures/tls/${name}`, import.meta.url).pathname;
  let dir: string;
  const file = (name: string) => (name === 'garbage.pem' || name === 'missing.pem' ? join(dir, name) : fixture(name));
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-tls-options-'));
    writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the files for every signal; a signal\'s own variables win for that signal', () => {
    const o = resolveOptions({ service: 's' }, {
      OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: file('client.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: file('client.key'),
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: file('server.pem'),
    });
    const [ca, other, cert, key] = ['ca.pem', 'server.pem', 'client.pem', 'client.key'].map((n) => readFileSync(file(n), 'utf8'));
    expect(o.tls).toEqual({ ca, cert, key });
    expect(o.metrics.tls).toEqual({ ca, cert, key });
    expect(o.traces.tls).toEqual({ ca: other, cert, key });
    expect(o.warnings).toEqual([]);
    expect(resolveOptions({ service: 's' }, {}).tls).toEqual({});
  });

  it.each([
    { name: 'a file that cannot be read', env: () => ({ OTEL_EXPORTER_OTLP_CERTIFICATE: file('missing.pem') }), warning: /^OTEL_EXPORTER_OTLP_CERTIFICATE ignored: cannot read ".*missing.pem" \(ENOENT\)/ },
    { name: 'a CA file with no certificate', env: () => ({ OTEL_EXPORTER_OTLP_CERTIFICATE: file('garbage.pem') }), warning: /^OTEL_EXPORTER_OTLP_CERTIFICATE ignored: ".*garbage.pem" is not usable as CA certificates/ },
    { name: 'a client certificate without its key', env: () => ({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: file('client.pem') }), warning: /^OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE ignored: a client certificate needs both/ },
    { name: 'a key that is not the certificate\'s', env: () => ({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: file('client.pem'), OTEL_EXPORTER_OTLP_CLIENT_KEY: file('server.key') }), warning: /^OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY ignored: not a usable certificate and key pair/ },
  ])('$name is ignored with a warning (once), not an error', ({ env, warning }) => {
    const o = resolveOptions({ service: 's' }, env());
    expect(o.tls).toEqual({});
    expect(o.warnings).toEqual([expect.stringMatching(warning)]);
    expect(o.warnings[0]).not.toContain('PRIVATE KEY');
  });
});

describe('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (read by OpenTelemetry\'s exporter)', () => {
  it.each([
    { name: 'delta, any case', value: 'Delta', warnings: [] },
    { name: 'lowmemory', value: 'lowmemory', warnings: [] },
    { name: 'cumulative', value: 'cumulative', warnings: [] },
    // the exporter takes it for cumulative and tells only its diag logger, silent by default
    { name: 'another value', value: 'deltas', warnings: ['OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE ignored: "deltas" is not one of cumulative, delta, lowmemory: cumulative is used'] },
  ])('$name', ({ value, warnings }) => {
    expect(resolveOptions({ service: 's' }, { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: value }).warnings).toEqual(warnings);
  });
});

describe('OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION', () => {
  it.each([
    { name: 'unset', env: {}, exponential: false, warnings: 0 },
    { name: 'explicit_bucket_histogram', env: { OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'explicit_bucket_histogram' }, exponential: false, warnings: 0 },
    { name: 'base2_exponential_bucket_histogram', env: { OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram' }, exponential: true, warnings: 0 },
    { name: 'another value is ignored with a warning', env: { OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'exponential' }, exponential: false, warnings: 1 },
  ])('$name', ({ env, exponential, warnings }) => {
    const o = resolveOptions({ service: 's' }, env);
    expect(o.metrics.exponentialHistograms).toBe(exponential);
    expect(o.warnings).toHaveLength(warnings);
  });
});
