// A fake Periscope collector for tests: node:http on 127.0.0.1, decodes gzip NDJSON from
// POST /api/v1/logs, and answers whatever the test scripted.
// It also accepts OTLP/HTTP protobuf on POST /v1/traces and /v1/metrics (gzip or not), decoded with
// the collector's own decoder (collector/src/receivers/otlp/decode.ts), and answers 200 with an
// empty Export*ServiceResponse unless `otlpResponder` says otherwise.

import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { LogRecord } from '../../src/record.ts';
import {
  decodeOtlp,
  type Attributes,
  type NormalizedMessage,
  type NormalizedMetricsRequest,
  type NormalizedTracesRequest,
} from '../../../collector/src/receivers/otlp/decode.ts';

/** One span as received, with its resource attributes and scope name. */
export interface ReceivedSpan {
  resource: Attributes;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number;
  attributes: Attributes;
}

/** One metric as received in one export, with its resource attributes. */
export interface ReceivedMetric {
  resource: Attributes;
  scope: string;
  name: string;
  unit: string;
  /** gauge | sum | histogram | exponentialHistogram | summary */
  type: string;
  dataPoints: Array<NormalizedMessage & { attributes: Attributes }>;
}

export type Reply =
  | { status: 200; reject?: number[] } // 200, optionally partial: these indexes rejected
  | { status: number; retryAfter?: string; body?: unknown }
  | { hang: true }; // never answer (until the collector stops)

export interface ReceivedRequest {
  at: number;
  headers: IncomingHttpHeaders;
  records: LogRecord[];
  status: number | 'hang';
}

export type Responder = (records: LogRecord[], requestIndex: number) => Reply;

export class FakeCollector {
  readonly requests: ReceivedRequest[] = [];
  /** Records the collector answered 200 for and did not reject. */
  readonly accepted: LogRecord[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private script: Reply[] = [];
  responder: Responder = () => ({ status: 200 });
  /** OTLP requests (decoded) in arrival order. */
  readonly otlpTraces: NormalizedTracesRequest[] = [];
  readonly otlpMetrics: NormalizedMetricsRequest[] = [];
  /** Headers of the OTLP requests, in arrival order. */
  readonly otlpHeaders: Array<{ signal: 'traces' | 'metrics'; headers: IncomingHttpHeaders }> = [];
  /** Decides the reply to OTLP requests; default 200. */
  otlpResponder: (signal: 'traces' | 'metrics') => { status: number } | { hang: true } = () => ({ status: 200 });
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next requests get these replies, in order; afterwards `responder` decides. */
  reply(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req.url ?? '', req.headers, Buffer.concat(chunks), res));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Stops listening and cuts every connection (the port stays remembered for start()). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every span received so far, flattened. */
  spans(): ReceivedSpan[] {
    const out: ReceivedSpan[] = [];
    for (const req of this.otlpTraces) {
      for (const rs of req.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            out.push({
              resource: rs.resource?.attributes ?? {},
              scope: ss.scope?.name ?? '',
              traceId: span.traceId as string,
              spanId: span.spanId as string,
              parentSpanId: span.parentSpanId as string,
              name: span.name as string,
              kind: span.kind as number,
              attributes: (span.attributes as Attributes) ?? {},
            });
          }
        }
      }
    }
    return out;
  }

  /** Every metric received so far (one entry per metric per export), flattened. */
  metrics(): ReceivedMetric[] {
    const out: ReceivedMetric[] = [];
    for (const req of this.otlpMetrics) {
      for (const rm of req.resourceMetrics) {
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            const type = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'].find((t) => m[t] !== undefined) ?? 'unknown';
            const data = m[type] as { dataPoints?: ReceivedMetric['dataPoints'] } | undefined;
            out.push({
              resource: rm.resource?.attributes ?? {},
              scope: sm.scope?.name ?? '',
              name: m.name as string,
              unit: m.unit as string,
              type,
              dataPoints: data?.dataPoints ?? [],
            });
          }
        }
      }
    }
    return out;
  }

  private handleOtlp(signal: 'traces' | 'metrics', headers: IncomingHttpHeaders, raw: Buffer, res: ServerResponse): void {
    this.otlpHeaders.push({ signal, headers });
    const reply = this.otlpResponder(signal);
    if ('hang' in reply) {
      this.hanging.add(res);
      return;
    }
    if (reply.status !== 200) {
      res.writeHead(reply.status, { 'content-type': 'application/x-protobuf' }).end();
      return;
    }
    try {
      const body = headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      if (signal === 'traces') this.otlpTraces.push(decodeOtlp('traces', body, 'protobuf'));
      else this.otlpMetrics.push(decodeOtlp('metrics', body, 'protobuf'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/x-protobuf' }).end();
      return;
    }
    // an empty Export{Trace,Metrics}ServiceResponse: full success
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  }

  private handle(url: string, headers: IncomingHttpHeaders, raw: Buffer, res: ServerResponse): void {
    if (url === '/v1/traces' || url === '/v1/metrics') {
      this.handleOtlp(url === '/v1/traces' ? 'traces' : 'metrics', headers, raw, res);
      return;
    }
    let records: LogRecord[] = [];
    try {
      const text = headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      records = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogRecord);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"accepted":0,"rejected":[]}');
      return;
    }
    const index = this.requests.length;
    const reply = url === '/api/v1/logs' ? (this.script.shift() ?? this.responder(records, index)) : { status: 404 };
    const entry: ReceivedRequest = { at: Date.now(), headers, records, status: 'hang' in reply ? 'hang' : reply.status };
    this.requests.push(entry);
    if ('hang' in reply) {
      this.hanging.add(res);
      return;
    }
    const extra: Record<string, string> = {};
    if ('retryAfter' in reply && reply.retryAfter !== undefined) extra['retry-after'] = reply.retryAfter;
    let body: unknown;
    if (reply.status === 200) {
      const rejectSet = new Set(('reject' in reply ? reply.reject : undefined) ?? []);
      records.forEach((r, i) => {
        if (!rejectSet.has(i)) this.accepted.push(r);
      });
      body = {
        accepted: records.length - rejectSet.size,
        rejected: [...rejectSet].map((i) => ({ index: i, code: 'invalid', message: 'rejected by test' })),
      };
    } else {
      body = 'body' in reply && reply.body !== undefined ? reply.body : { accepted: 0, rejected: [] };
    }
    res.writeHead(reply.status, { 'content-type': 'application/json', ...extra }).end(JSON.stringify(body));
  }
}

/** Polls `cond` every 20 ms until true; throws after `timeoutMs` with `what` in the message. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
