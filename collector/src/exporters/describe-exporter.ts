// The shared suite every exporter's test runs (DESIGN.md convention 7): the lifecycle contract,
// the retry decision for each HTTP status, and no secret in error messages or logs. It drives a
// real HTTP stub on a loopback port; the exporter under test supplies `make`.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { createSelfMetrics } from '../ingest/self-metrics.ts';
import { Ingest } from '../ingest/ingest.ts';
import { KeyValue, openDatabase } from '../store/database.ts';
import { LogStore } from '../store/log-store.ts';
import { AcceptTimes } from './accept-times.ts';
import { DeadLetterStore } from './dead-letter.ts';
import { Delivery, type DeliveryOptions } from './delivery.ts';
import type { AuthConfig } from './http.ts';
import { createExporterMetrics } from './metrics.ts';
import type { ExportResult, ExportStatus } from './result.ts';
import type { LogSink, Logger } from './sink.ts';

/** Distinct, recognisable secrets; none may appear in an error text or a log line. */
export const SECRETS = {
  username: 'periscope-user',
  password: 'Pa55-w0rd-SECRET-1',
  bearerToken: 'tok-SECRET-9f8e7d6c5b4a3',
  apiKey: 'QVBJLUtFWS1TRUNSRVQtMTIzNDU2',
} as const;

export type AuthKind = 'basic' | 'bearerToken' | 'apiKey';

export function authOf(kind: AuthKind): AuthConfig {
  if (kind === 'basic') return { basic: { username: SECRETS.username, password: SECRETS.password } };
  if (kind === 'bearerToken') return { bearerToken: SECRETS.bearerToken };
  return { apiKey: SECRETS.apiKey };
}

/** Every form a secret could leak in: raw, and the base64 Basic credential. */
const LEAKS = [SECRETS.password, SECRETS.bearerToken, SECRETS.apiKey, Buffer.from(`${SECRETS.username}:${SECRETS.password}`).toString('base64')];

export interface ExporterUnderTest {
  /** Sends one small request, no retry, and returns the classified result. */
  sendOnce(signal: AbortSignal): Promise<ExportResult>;
  start(): void | Promise<void>;
  /** Makes the running component send something (log exporters: records appended to its log). */
  feed(): void | Promise<void>;
  shutdown(): Promise<void>;
}

export interface ExporterSuite {
  name: string;
  /** A new component for `url` with `auth`, logging to `logger`. */
  make(url: string, auth: AuthConfig | undefined, logger: Logger): ExporterUnderTest | Promise<ExporterUnderTest>;
  auth: AuthKind[];
  /** Body of the backend's 2xx answer (e.g. a bulk result). */
  okBody?: string;
  /** Expected decisions that differ from the shared rule (2xx success, 408/429/5xx retryable, other 4xx permanent). */
  expect?: Partial<Record<number, ExportStatus>>;
}

interface Stub {
  server: Server;
  url: string;
  requests: Array<{ headers: Record<string, unknown> }>;
  answer: { status: number; headers?: Record<string, string>; echo?: boolean };
}

async function startStub(okBody: string): Promise<Stub> {
  const stub = { requests: [], answer: { status: 200 } } as unknown as Stub;
  stub.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      stub.requests.push({ headers: req.headers });
      const { status, headers, echo } = stub.answer;
      // An echoing backend: the worst case for leaks (some proxies do echo request headers).
      const body = echo ? `refused: ${JSON.stringify(req.headers)} url=${req.url}` : status < 300 ? okBody : `error ${status}`;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(status === 204 ? undefined : body);
    });
  });
  await new Promise<void>((r) => stub.server.listen(0, '127.0.0.1', r));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
  return stub;
}

function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

const STATUSES = [200, 204, 400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503];

function sharedRule(status: number): ExportStatus {
  if (status >= 200 && status < 300) return 'success';
  if (status === 408 || status === 429 || status >= 500) return 'retryable';
  return 'permanent';
}

export function describeExporter(suite: ExporterSuite): void {
  describe(`describeExporter: ${suite.name}`, () => {
    let stub: Stub;
    const made: ExporterUnderTest[] = [];
    const make = async (url: string, auth: AuthConfig | undefined, logger: Logger = capturingLogger()) => {
      const e = await suite.make(url, auth, logger);
      made.push(e);
      return e;
    };
    beforeAll(async () => {
      stub = await startStub(suite.okBody ?? '');
    });
    afterAll(async () => {
      await Promise.allSettled(made.map((e) => e.shutdown()));
      await new Promise((r) => stub.server.close(r));
      for (const h of harnesses.splice(0)) h.close();
    });

    describe('lifecycle', () => {
      it('shutdown() before start() resolves, and is safe twice', async () => {
        const e = await make(stub.url, undefined);
        await e.shutdown();
        await e.shutdown();
      });

      it('start → traffic → shutdown twice; nothing is sent after shutdown', async () => {
        stub.answer = { status: 200 };
        const e = await make(stub.url, undefined);
        await e.start();
        const before = stub.requests.length;
        await e.feed();
        const deadline = Date.now() + 10_000;
        while (stub.requests.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(stub.requests.length).toBeGreaterThan(before);
        await e.shutdown();
        await e.shutdown();
        const after = stub.requests.length;
        await e.feed();
        await new Promise((r) => setTimeout(r, 300));
        expect(stub.requests.length).toBe(after);
      });
    });

    describe('retry decision per HTTP status', () => {
      it.each(STATUSES.map((status) => ({ name: String(status), status })))('HTTP $name', async ({ status }) => {
        const retryAfter = status === 429 || status === 503;
        stub.answer = { status, headers: retryAfter ? { 'retry-after': '7' } : undefined };
        const e = await make(stub.url, undefined);
        const result = await e.sendOnce(AbortSignal.timeout(10_000));
        expect(result.status).toBe(suite.expect?.[status] ?? sharedRule(status));
        if (retryAfter) expect(result.retryAfterMs).toBe(7000);
        if (result.status !== 'success') expect(result.error).toMatch(/\w/);
      });

      it('network error (connection refused) → retryable', async () => {
        const closed = createServer();
        await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
        const port = (closed.address() as AddressInfo).port;
        await new Promise((r) => closed.close(r));
        const e = await make(`http://127.0.0.1:${port}`, undefined);
        const result = await e.sendOnce(AbortSignal.timeout(10_000));
        expect(result.status).toBe('retryable');
        expect(result.error).toMatch(/ECONNREFUSED/);
      });
    });

    describe('no secret in error messages or logs', () => {
      it.each(suite.auth.map((kind) => ({ name: kind, kind })))('$name credentials', async ({ kind }) => {
        const logger = capturingLogger();
        const e = await make(stub.url, authOf(kind), logger);
        const texts: string[] = [];
        for (const status of [401, 403, 500, 503]) {
          stub.answer = { status, echo: true };
          const result = await e.sendOnce(AbortSignal.timeout(10_000));
          texts.push(result.error ?? '');
        }
        // The credentials were sent (so the echo carried them back) …
        const auth = String(stub.requests[stub.requests.length - 1].headers.authorization ?? '');
        expect(auth).toMatch(/^(Basic|Bearer|ApiKey) /);
        // … and the running component logs its failures: still nothing secret.
        stub.answer = { status: 500, echo: true };
        await e.start();
        await e.feed();
        const deadline = Date.now() + 10_000;
        while (!logger.lines.some((l) => l.includes('refused')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        stub.answer = { status: 401, echo: true };
        await new Promise((r) => setTimeout(r, 300));
        await e.shutdown();
        const all = [...texts, ...logger.lines].join('\n');
        expect(all).toContain('refused'); // the backend's reason is there
        for (const secret of LEAKS) expect(all).not.toContain(secret);
      });
    });
  });
}

/** Fast retry/breaker settings for tests of the log delivery. */
export function testDeliveryOptions(name: string, overrides: Partial<DeliveryOptions> = {}): DeliveryOptions {
  return {
    name,
    batch: { maxRecords: 100, maxBytes: 1 << 20, waitMs: 10 },
    concurrency: 2,
    encodeThreads: 0,
    queue: { maxRecords: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 3_600_000, policy: 'backpressure' },
    retry: { initialBackoffMs: 10, maxBackoffMs: 100, multiplier: 2, maxRetryAfterMs: 200 },
    budget: { ratio: 1, minPerSecond: 100 },
    breaker: { failureThreshold: 1000, openMs: 100, maxOpenMs: 200 },
    deadLetterMax: 10_000,
    shutdownTimeoutMs: 1000,
    startFrom: 'end',
    ...overrides,
  };
}

const harnesses: Array<{ close(): void }> = [];

/** A durable log in a temp folder with everything a Delivery needs. Call close() when done. */
export function logHarness() {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-exporter-'));
  const db = openDatabase(dir, 'normal');
  const store = new LogStore(db);
  const self = createSelfMetrics();
  const ingest = new Ingest(store, self);
  const acceptTimes = new AcceptTimes(store.lastId(), { resolutionMs: 1 });
  ingest.subscribe((b) => acceptTimes.accepted(b.firstId + b.logs.length - 1));
  const deadLetters = new DeadLetterStore(db);
  const registry = self.registry as Registry;
  const metrics = createExporterMetrics(registry);
  const kv = new KeyValue(db);
  let closed = false;
  return {
    dir,
    db,
    store,
    ingest,
    acceptTimes,
    deadLetters,
    registry,
    metrics,
    kv,
    delivery(sink: LogSink, options: DeliveryOptions, logger: Logger = capturingLogger()) {
      return new Delivery(sink, options, { store, kv, ingest, deadLetters, acceptTimes, metrics, logger, checkIntervalMs: 50 });
    },
    append(records: LogRecord[]) {
      ingest.append('test', records, records.map((r) => Date.parse(r.timestamp) * 1000));
    },
    close() {
      if (closed) return;
      closed = true;
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
/** A valid record (RFC 3339 µs timestamp = now). */
export function testRecord(fields: Partial<LogRecord> = {}): LogRecord {
  const now = new Date().toISOString().replace('Z', '000Z');
  const severity = fields.severity ?? 6;
  const levels = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
  return { timestamp: now, severity, level: levels[severity], facility: 1, appName: 'svc', hostname: 'host-1', msg: `message ${++seq}`, ...fields };
}

/** ExporterUnderTest for a log sink: a Delivery over a temp durable log. */
export function logExporterUnderTest(makeSink: () => LogSink, logger: Logger): ExporterUnderTest {
  const h = logHarness();
  harnesses.push(h); // closed by describeExporter's afterAll (feed must work after shutdown)
  const sink = makeSink();
  const delivery = h.delivery(sink, testDeliveryOptions('under-test'), logger);
  return {
    sendOnce: async (signal) => (await sink.send([{ id: 1, micros: Date.now() * 1000, record: testRecord() }], signal)).result,
    start: () => delivery.start(),
    feed: () => h.append([testRecord(), testRecord({ severity: 3 })]),
    shutdown: () => delivery.shutdown(),
  };
}
