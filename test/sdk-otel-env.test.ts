// OpenTelemetry SDK environment variables, set on an app with the SDK in a child process, seen at
// the REAL collector process (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
// A recording proxy in front of the collector's OTLP receiver tells what each request carried.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOtlp } from '../collector/src/receivers/otlp/decode.ts';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { runSdkApp } from './helpers/sdk-app.ts';

const T = 60_000;

const runApp = (scenario: string, env: Record<string, string>, nodeArgs: string[] = []) => runSdkApp(scenario, env, { nodeArgs });

/** Forwards every request to the collector as it came, and records the spans of each /v1/traces request and the records of each log request. */
async function startRecordingProxy(target: string, tls?: HttpsOptions): Promise<{ url: string; spansPerRequest: number[]; recordsPerRequest: number[]; headers: IncomingHttpHeaders[]; paths: string[]; close(): Promise<void> }> {
  const spansPerRequest: number[] = [];
  const recordsPerRequest: number[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const paths: string[] = [];
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    headers.push(req.headers);
    paths.push(req.url ?? '');
    if (req.url === '/v1/traces') {
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const decoded = decodeOtlp('traces', body, 'protobuf');
      spansPerRequest.push(decoded.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)).length);
    }
    if (req.url === '/api/v1/logs') {
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      recordsPerRequest.push(body.toString('utf8').split('\n').filter((l) => l.trim() !== '').length);
    }
    const forwarded = await fetch(target + req.url, {
      method: req.method,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k === 'content-type' || k === 'content-encoding' || k === 'idempotency-key') as [string, string][]),
      body: raw,
    });
    res.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/octet-stream' });
    res.end(Buffer.from(await forwarded.arrayBuffer()));
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spansPerRequest,
    recordsPerRequest,
    headers,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let collector: CollectorProcess;
beforeAll(async () => {
  collector = await startCollectorProcess();
});
afterAll(async () => {
  await collector?.dispose();
});

async function storedSpans(traceId: string, count: number): Promise<any[]> {
  const trace: any = await waitFor(async () => {
    const res = await fetch(`${collector.url}/api/v1/traces/${traceId}`);
    if (res.status !== 200) return undefined;
    const body: any = await res.json();
    return body.spans.length >= count ? body : undefined;
  }, 30_000);
  return trace.spans;
}

describe('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', () => {
  it('spans arrive in requests of at most that many, and all of them are stored', { timeout: T }, async () => {
    const proxy = await startRecordingProxy(collector.url);
    try {
      const { code, result, stderr } = await runApp('spans', {
        PERISCOPE_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${proxy.url}/v1/traces`,
        APP_SERVICE: `bsp-${Date.now()}`,
        APP_SPANS: '5',
        PERISCOPE_RUNTIME_METRICS: 'false',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
      });
      expect(code, stderr).toBe(0);
      expect(result.stats.spans).toEqual({ exported: 5, failed: 0, dropped: 0 });
      expect(proxy.spansPerRequest.reduce((a, b) => a + b, 0)).toBe(5);
      expect(Math.max(...proxy.spansPerRequest)).toBeLessThanOrEqual(2);
      expect(await storedSpans(result.traceId, 5)).toHaveLength(5);
    } finally {
      await proxy.close();
    }
  });
});

describe('OTEL_PROPAGATORS', () => {
  it('baggage alone: an instrumented call sends the baggage and no traceparent, so the server starts a trace of its own', { timeout: T }, async () => {
    const { code, result, stderr } = await runApp('propagation', {
      PERISCOPE_ENDPOINT: collector.url,
      APP_SERVICE: `propagators-${Date.now()}`,
      PERISCOPE_INSTRUMENTATIONS: 'http',
      PERISCOPE_RUNTIME_METRICS: 'false',
      OTEL_PROPAGATORS: 'baggage',
    });
    expect(code, stderr).toBe(0);
    expect(result.got).toEqual({ traceparent: undefined, baggage: 'tenant=acme' });
    // the client's trace holds its own spans only: the server span is not joined to it
    const spans = await storedSpans(result.traceId, 2);
    expect(spans.map((s: any) => [s.name, s.kind]).sort()).toEqual([['GET', 'SPAN_KIND_CLIENT'], ['client call', 'SPAN_KIND_INTERNAL']]);
  });
});

describe('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT and OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', () => {
  it('a span attribute is cut to that length, and attributes over that count are left out', { timeout: T }, async () => {
    const { code, result, stderr } = await runApp('spans', {
      PERISCOPE_ENDPOINT: collector.url,
      APP_SERVICE: `limits-${Date.now()}`,
      APP_SPANS: '1',
      PERISCOPE_RUNTIME_METRICS: 'false',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '16',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '2',
    });
    expect(code, stderr).toBe(0);
    const [root] = await storedSpans(result.traceId, 1);
    expect(root.attributes).toEqual({ 'db.query.text': 'select 1 select ', a: 1 });
  });
});

describe('OTEL_LOG_LEVEL', () => {
  const diagnostics = async (service: string) => {
    const { records } = await (await fetch(`${collector.url}/api/v1/logs?service=${service}&limit=1000`)).json() as any;
    return records.filter((r: any) => r.attributes?.module === 'opentelemetry').map((r: any) => [r.level, r.msg]);
  };

  it('debug: OpenTelemetry\'s own diagnostic messages at debug and worse reach the collector with the app\'s logs', { timeout: T }, async () => {
    const service = `diag-debug-${Date.now()}`;
    const { code, stderr } = await runApp('spans', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, APP_SPANS: '1', PERISCOPE_RUNTIME_METRICS: 'false', OTEL_LOG_LEVEL: 'debug' });
    expect(code, stderr).toBe(0);
    expect(await diagnostics(service)).toContainEqual(['debug', expect.stringMatching(/^@opentelemetry\/api: Registered a global for trace v/)]);
  });

  it('unset or info: none at debug', { timeout: T }, async () => {
    for (const env of [{}, { OTEL_LOG_LEVEL: 'info' }] as Record<string, string>[]) {
      const service = `diag-none-${Date.now()}`;
      const { code, result, stderr } = await runApp('spans', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, APP_SPANS: '1', PERISCOPE_RUNTIME_METRICS: 'false', ...env });
      expect(code, stderr).toBe(0);
      expect(result.stats.sent).toBe(0); // nothing logged: the app logs nothing and the SDK had nothing to say
      expect(await diagnostics(service)).toEqual([]);
    }
  });
});

describe('OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', () => {
  it('log records arrive in requests of at most that many, and all of them are stored', { timeout: T }, async () => {
    const proxy = await startRecordingProxy(collector.url);
    try {
      const service = `blrp-${Date.now()}`;
      const { code, result, stderr } = await runApp('logs', {
        PERISCOPE_ENDPOINT: proxy.url,
        APP_SERVICE: service,
        PERISCOPE_LOG_LEVEL: 'trace',
        PERISCOPE_RUNTIME_METRICS: 'false',
        OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '2',
      });
      expect(code, stderr).toBe(0);
      expect(result.sent).toBe(8);
      expect(proxy.recordsPerRequest.reduce((a, b) => a + b, 0)).toBe(8);
      expect(Math.max(...proxy.recordsPerRequest)).toBeLessThanOrEqual(2);
      const { records } = await (await fetch(`${collector.url}/api/v1/logs?service=${service}&limit=100`)).json() as any;
      expect(records).toHaveLength(8);
    } finally {
      await proxy.close();
    }
  });
});

describe('OTEL_BLRP_EXPORT_TIMEOUT', () => {
  it('a log request that hangs is given up after that long and its batch sent again, within a shutdown deadline shorter than the default request timeout', { timeout: T }, async () => {
    // The first log request is never answered; the next ones are taken.
    const records: string[] = [];
    let requests = 0;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.url !== '/api/v1/logs' || requests++ === 0) return;
      records.push(...gunzipSync(Buffer.concat(chunks)).toString('utf8').split('\n').filter((l) => l !== ''));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      // preloaded, so configured by the environment alone (the fixture's init() options are not used)
      const { code, result, stderr } = await runApp('logs', {
        PERISCOPE_SERVICE: `blrp-timeout-${Date.now()}`,
        PERISCOPE_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        PERISCOPE_LOG_LEVEL: 'trace',
        PERISCOPE_TRACES_ENABLED: 'false',
        PERISCOPE_METRICS_ENABLED: 'false',
        // the default request timeout (10 s) would hold the batch until this deadline
        PERISCOPE_SHUTDOWN_TIMEOUT_MS: '8000',
        OTEL_BLRP_EXPORT_TIMEOUT: '500',
      }, ['--import', join(REPO_ROOT, 'sdk/src/register.ts')]);
      expect(code, stderr).toBe(0);
      expect(result).toMatchObject({ sent: 8, dropped: { shutdown_timeout: 0 } });
      expect(records).toHaveLength(8);
      expect(stderr).not.toMatch(/OTEL_BLRP_EXPORT_TIMEOUT/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('OTEL_EXPORTER_OTLP_COMPRESSION=none', () => {
  it('logs, spans and metrics are sent uncompressed, and all of them are stored', { timeout: T }, async () => {
    const proxy = await startRecordingProxy(collector.url);
    try {
      const { code, result, stderr } = await runApp('traced-http', {
        PERISCOPE_ENDPOINT: proxy.url,
        APP_SERVICE: `uncompressed-${Date.now()}`,
        PERISCOPE_INSTRUMENTATIONS: 'http',
        PERISCOPE_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      });
      expect(code, stderr).toBe(0);
      expect(new Set(proxy.paths)).toEqual(new Set(['/api/v1/logs', '/v1/traces', '/v1/metrics']));
      expect(proxy.headers.map((h) => h['content-encoding'] ?? 'none')).toEqual(proxy.paths.map(() => 'none'));
      expect(result.stats).toMatchObject({ sent: 3, spans: { exported: 5, failed: 0 }, metrics: { failed: 0 } });
      expect(await storedSpans(result.traceId, 5)).toHaveLength(5);
      const { records } = await (await fetch(`${collector.url}/api/v1/logs?traceId=${result.traceId}`)).json() as any;
      expect(records).toHaveLength(3);
    } finally {
      await proxy.close();
    }
  });
});

describe('OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY', () => {
  // test/fixtures/tls: the collector's certificate (127.0.0.1) from a private CA, and the app's
  // self-signed client certificate, which the collector's side trusts as its clients' CA.
  const file = (name: string) => join(REPO_ROOT, 'test/fixtures/tls', name);

  it('logs, spans and metrics reach a collector behind TLS with a private CA that requires a client certificate', { timeout: T }, async () => {
    const proxy = await startRecordingProxy(collector.url, {
      key: readFileSync(file('server.key')),
      cert: readFileSync(file('server.pem')),
      ca: readFileSync(file('client.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    });
    try {
      const env = {
        PERISCOPE_ENDPOINT: proxy.url,
        PERISCOPE_RUNTIME_METRICS: 'false',
        PERISCOPE_LOG_LEVEL: 'trace',
        OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.pem'),
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: file('client.pem'),
        OTEL_EXPORTER_OTLP_CLIENT_KEY: file('client.key'),
      };
      const service = `tls-${Date.now()}`;
      const logs = await runApp('logs', { ...env, APP_SERVICE: service });
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.result.sent).toBe(8);
      const { records } = await (await fetch(`${collector.url}/api/v1/logs?service=${service}&limit=100`)).json() as any;
      expect(records).toHaveLength(8);

      const spans = await runApp('spans', { ...env, APP_SERVICE: service, APP_SPANS: '2' });
      expect(spans.code, spans.stderr).toBe(0);
      expect(spans.result.stats.spans).toEqual({ exported: 2, failed: 0, dropped: 0 });
      expect(spans.result.stats.metrics).toMatchObject({ failed: 0 });
      expect(spans.result.stats.metrics.exported).toBeGreaterThan(0);
      expect(await storedSpans(spans.result.traceId, 2)).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('a setting the SDK ignores', () => {
  it('is reported on stderr as a process warning too: OTEL_EXPORTER_OTLP_PROTOCOL=grpc, whose logs would never reach the collector', { timeout: T }, async () => {
    const { code, stderr } = await runApp('spans', {
      PERISCOPE_ENDPOINT: 'http://127.0.0.1:9', // nothing listens: the warning log cannot be delivered
      APP_SERVICE: `grpc-${Date.now()}`,
      APP_SPANS: '1',
      PERISCOPE_RUNTIME_METRICS: 'false',
      // nothing to flush at exit (which would wait for the absent collector until the deadline)
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/PeriscopeWarning: OTEL_EXPORTER_OTLP_PROTOCOL=grpc ignored: the SDK sends http\/protobuf/);
  });
});

describe('trace flags on log records (the OTel log data model\'s TraceFlags)', () => {
  it('a line logged inside a sampled span reaches the collector with traceFlags 01 beside its trace and span ids', { timeout: T }, async () => {
    const service = `flags-${Date.now()}`;
    const { code, result, stderr } = await runApp('traced-http', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_INSTRUMENTATIONS: 'http', PERISCOPE_RUNTIME_METRICS: 'false' });
    expect(code, stderr).toBe(0);
    const { records } = await (await fetch(`${collector.url}/api/v1/logs?traceId=${result.traceId}`)).json() as any;
    expect(records.length).toBe(3);
    for (const r of records) expect(r).toMatchObject({ traceId: result.traceId, spanId: expect.stringMatching(/^[0-9a-f]{16}$/), traceFlags: '01' });
    expect(records.some((r: any) => 'traceFlags' in (r.attributes ?? {}))).toBe(false);
  });
});

describe('OTEL_SERVICE_NAME longer than an RFC 5424 APP-NAME (48), as the OTel Operator sets it from a Deployment\'s name', () => {
  it('a preloaded SDK (--import register) starts the app and names logs, spans and metrics by its first 48 characters, with a warning', { timeout: T }, async () => {
    const long = `checkout-payments-reconciliation-worker-eu-west-${Date.now()}-7f9c`;
    const cut = long.slice(0, 48);
    const { code, result, stderr } = await runApp(
      'spans',
      { PERISCOPE_ENDPOINT: collector.url, OTEL_SERVICE_NAME: long, PERISCOPE_RUNTIME_METRICS: 'false', APP_SPANS: '1' },
      ['--import', join(REPO_ROOT, 'sdk/src/register.ts')],
    );
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`PeriscopeWarning: OTEL_SERVICE_NAME is ${long.length} characters, over the 48 of the logs' RFC 5424 APP-NAME`);
    const [span] = await storedSpans(result.traceId, 1);
    expect(span.service).toBe(cut);
    const { records } = await (await fetch(`${collector.url}/api/v1/logs?service=${cut}&limit=10`)).json() as any;
    expect(records.map((r: any) => [r.appName, r.level, r.truncated])).toEqual([[cut, 'warning', undefined]]);
    const exposition = await waitFor(async () => {
      const text = await (await fetch(`${collector.url}/metrics`)).text();
      return text.includes(`job="${cut}"`) && text;
    });
    expect(exposition).not.toContain(long);
  });
});
