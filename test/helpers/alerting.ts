// Stand-ins and small clients for the alerting end-to-end tests and the alert latency bench:
// a recording HTTP server whose answer depends on the request (Slack webhook, Twilio-compatible
// SMS API, Alertmanager webhook), OTLP/JSON gauge pushes, and a free loopback port (so the ack
// links the collector writes into messages point at where it really listens).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './net.ts';
export { freePort };

export interface StandInRequest {
  /** Date.now() when the whole body had arrived. */
  at: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the stand-in answered with. */
  status?: number;
}

export interface StandInAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface StandIn {
  url: string;
  requests: StandInRequest[];
  /** Called with every request that arrived (after it was recorded). */
  onRequest?: (req: StandInRequest) => void;
  close(): Promise<void>;
}

/** A loopback HTTP server that records every request and answers with `decide(request)` (default 200). */
export async function startStandIn(decide: (req: StandInRequest) => StandInAnswer = () => ({ status: 200, body: 'ok' })): Promise<StandIn> {
  const standIn: StandIn = { url: '', requests: [], close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: StandInRequest = { at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      standIn.requests.push(r);
      const answer = decide(r);
      r.status = answer.status;
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...(answer.headers ?? {}) });
      res.end(answer.body ?? '');
      standIn.onRequest?.(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return standIn;
}

/**
 * Pushes one OTLP/JSON gauge point per entry (`POST /v1/metrics`) and resolves with the HTTP status
 * once the collector answered — the moment the sample is ingested.
 */
export async function pushGauge(collectorUrl: string, service: string, name: string, points: Array<{ attrs: Record<string, string>; value: number }>): Promise<number> {
  const nowNs = `${BigInt(Date.now()) * 1_000_000n}`;
  const res = await fetch(`${collectorUrl}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [{
          metrics: [{
            name,
            gauge: {
              dataPoints: points.map((p) => ({
                asDouble: p.value,
                timeUnixNano: nowNs,
                attributes: Object.entries(p.attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
              })),
            },
          }],
        }],
      }],
    }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The text of a Slack incoming-webhook body (top-level text + every block's text). */
export function slackText(body: string): string {
  const json = JSON.parse(body) as { text?: string; blocks?: unknown[] };
  return `${json.text ?? ''}\n${JSON.stringify(json.blocks ?? [])}`;
}

/** The first `/ack/<token>` link in a text (Slack mrkdwn `<url|label>`, HTML href or plain). */
export function ackLinkIn(text: string): string | undefined {
  return /https?:\/\/[^\s"'<>|]+\/ack\/[A-Za-z0-9._~%-]+/.exec(text)?.[0];
}

/** A call of the collector's JSON API: GET, or POST of `body` as JSON; the status and the parsed answer. */
export async function apiCall(baseUrl: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${baseUrl}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** A POST to the collector's JSON API, of `body` as JSON when given (none: /-/reload); the status and the parsed answer, if any. */
export async function apiPost(baseUrl: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
