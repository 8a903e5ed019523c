// The HTTP call every exporter makes, and the only place where a backend's answer is turned into
// an ExportResult (with the help of classifyHttpStatus). Secrets (passwords, tokens, API keys)
// travel in headers only and are scrubbed from every error text this module produces.

import { Type, type Static } from '@sinclair/typebox';
import type { Dispatcher } from 'undici';
import { classifyHttpStatus, networkFailure, type ExportResult } from './result.ts';
import { basicToken, takeUrlCredentials } from '../../../sdk/src/url-credentials.ts';
import { timerDelay } from '../timer-delay.ts';

/** `auth:` of an HTTP exporter: at most one scheme. */
export const authConfigSchema = Type.Object(
  {
    basic: Type.Optional(
      Type.Object(
        {
          username: Type.String({ minLength: 1, description: 'The user (for Grafana Cloud, the instance ID of the Loki or Prometheus stack).' }),
          password: Type.String({ description: 'The password or API token. A secret: write `${VARIABLE}` or `${file:/run/secrets/…}`; kept out of logs and errors.' }),
        },
        { additionalProperties: false, description: 'HTTP basic auth.' },
      ),
    ),
    bearerToken: Type.Optional(Type.String({ minLength: 1, format: 'header-value', description: '`Authorization: Bearer <token>`.' })),
    apiKey: Type.Optional(Type.String({ minLength: 1, format: 'header-value', description: '`Authorization: ApiKey <key>`: an Elasticsearch API key, the base64 "encoded" form Kibana shows, or `<id>:<api_key>` (encoded by the exporter).' })),
  },
  { additionalProperties: false, maxProperties: 1, description: 'At most one of basic, bearerToken, apiKey.' },
);
export type AuthConfig = Static<typeof authConfigSchema>;

/** Replaces every known secret (and its base64 form) with "***". */
export class Redactor {
  readonly #secrets: string[];
  constructor(secrets: Array<string | undefined>) {
    const all = new Set<string>();
    for (const s of secrets) {
      if (!s || s.length < 3) continue;
      all.add(s);
      all.add(encodeURIComponent(s));
      all.add(Buffer.from(s).toString('base64'));
    }
    // Longest first so a secret containing another is replaced whole.
    this.#secrets = [...all].sort((a, b) => b.length - a.length);
  }
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.replaceAll(s, '***');
    return out;
  }
}

export interface HttpEndpoint {
  /** Full URL of the endpoint, without credentials. */
  url: string;
  /** Static headers: auth, tenant, content type. */
  headers: Record<string, string>;
  timeoutMs: number;
  redactor: Redactor;
  /** The exporter's own connection pool when it has `tls:` or a proxy; else undici's global one. */
  dispatcher?: Dispatcher;
  /** The proxy the requests go through, for messages (no credentials): `http://proxy:3128`. */
  via?: string;
}

/**
 * How an exporter's requests leave: its own pool (tls.ts, alerting/src/proxy.ts), the proxy's
 * display URL and the secrets of its URL (redacted like the exporter's own).
 */
export interface Transport {
  dispatcher?: Dispatcher;
  via?: string;
  secrets?: string[];
}

/**
 * Builds the endpoint of an exporter: credentials in the URL (`http://user:pass@host`) move to an
 * Authorization header (a URL ends up in logs and errors) and are redacted like configured secrets.
 * The values of `extraHeaders` (the exporter's `headers:`, e.g. a proxy's API key) are redacted
 * too, as the config reference promises: a backend or proxy that echoes the request headers in
 * its error text must not carry them into logs, health and dead letters.
 */
export function httpEndpoint(baseUrl: string, path: string, auth: AuthConfig | undefined, extraHeaders: Record<string, string>, timeoutMs: number, transport: Transport = {}): HttpEndpoint {
  const url = new URL(baseUrl);
  const secrets: Array<string | undefined> = [auth?.basic?.password, auth?.bearerToken, auth?.apiKey, ...Object.values(extraHeaders), ...(transport.secrets ?? [])];
  const headers: Record<string, string> = { 'user-agent': 'periscope-collector', ...extraHeaders };
  let basic = auth?.basic;
  const encodedPassword = url.password;
  const inUrl = takeUrlCredentials(url);
  if (inUrl) {
    basic ??= inUrl;
    secrets.push(inUrl.password, encodedPassword);
  }
  if (basic) {
    const token = basicToken(basic);
    headers.authorization = `Basic ${token}`;
    secrets.push(token);
  } else if (auth?.bearerToken) {
    headers.authorization = `Bearer ${auth.bearerToken}`;
  } else if (auth?.apiKey) {
    // The `id:api_key` form (Beats' api_key, the create-API-key answer's two fields) is encoded
    // here: sent as it is, Elasticsearch answered 401 and every record went to the dead letters.
    // The encoded form is base64, which has no ':'.
    const key = auth.apiKey.includes(':') ? Buffer.from(auth.apiKey).toString('base64') : auth.apiKey;
    headers.authorization = `ApiKey ${key}`;
  }
  const full = new URL(url.pathname.replace(/\/+$/, '') + path + url.search, url.origin).toString();
  const { dispatcher, via } = transport;
  return { url: full, headers, timeoutMs, redactor: new Redactor(secrets), ...(dispatcher ? { dispatcher } : {}), ...(via ? { via } : {}) };
}

/** The endpoint's URL for display (health, logs): no credentials, no query string. */
export function displayUrl(endpoint: HttpEndpoint): string {
  const u = new URL(endpoint.url);
  return `${u.origin}${u.pathname}`;
}

export interface HttpAnswer {
  result: ExportResult;
  /** Response body text when the backend answered (needed for per-item results). */
  body?: string;
}

/**
 * The 400 a TLS port answers to plain HTTP: Go's net/http (Loki, Prometheus, Traefik) and nginx.
 * An https backend reached with an http:// URL.
 */
const PLAIN_HTTP_TO_HTTPS = /Client sent an HTTP request to an HTTPS server|The plain HTTP request was sent to HTTPS port/;

/** Enough for a backend's reason (Loki joins one line per rejected entry). */
const SNIPPET = 2000;

/**
 * POSTs (or PUTs) `body` and classifies the answer. Never throws: a network error, a timeout or
 * an abort is a retryable result. On failure `result.error` holds the status and the start of
 * the response body (the backend's reason), redacted.
 *
 * undici's request() (https://undici.nodejs.org/#/docs/api/Dispatcher?id=dispatcherrequestoptions-callback),
 * not fetch(): fetch copies a byte body twice (the Fetch spec's copy of a BufferSource, then a
 * stream clone), which was a tenth of the ingest thread's time while draining a backlog into
 * Elasticsearch (a megabyte per _bulk request). Connections are kept alive by undici's global
 * dispatcher, as with fetch.
 */
export async function send(
  endpoint: HttpEndpoint,
  body: Uint8Array | string,
  headers: Record<string, string>,
  options: { signal?: AbortSignal; method?: 'POST' | 'PUT'; url?: string } = {},
): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(timerDelay(endpoint.timeoutMs));
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let status: number;
  let retryAfter: string | undefined;
  let text: string;
  try {
    // undici (about 110 modules, 150 ms on a loaded 2-core machine) is loaded at the first send,
    // not at every start: a collector without exporters never needs it.
    const { request } = await import('undici');
    const res = await request(options.url ?? endpoint.url, {
      method: options.method ?? 'POST',
      headers: { ...endpoint.headers, ...headers },
      body,
      signal,
      ...(endpoint.dispatcher ? { dispatcher: endpoint.dispatcher } : {}),
    });
    status = res.statusCode;
    const header = res.headers['retry-after'];
    retryAfter = Array.isArray(header) ? header[0] : header;
    text = await res.body.text();
  } catch (err) {
    const result = networkFailure(err);
    // The address in "connect ECONNREFUSED …" is the proxy's: say so, or it reads as the backend's.
    const via = endpoint.via ? ` (through the proxy ${endpoint.via})` : '';
    return { result: { ...result, error: endpoint.redactor.redact(`${result.error ?? ''}${via}`) } };
  }
  const result = classifyHttpStatus(status, retryAfter);
  if (result.status !== 'success') {
    const reason = text.trim().replace(/\s+/g, ' ').slice(0, SNIPPET);
    result.error = endpoint.redactor.redact(`HTTP ${status}${reason ? `: ${reason}` : ''}`);
    if (status === 400 && PLAIN_HTTP_TO_HTTPS.test(text)) {
      // Not about the records: the URL's scheme. As a 400 it bisected Loki batches into the dead
      // letters, sent Elasticsearch batches there, and dropped remote-write samples.
      return { result: { status: 'retryable', error: `${result.error} (the backend takes https only: change the url to https://, docs/exporters.md#tls)` } };
    }
  }
  return { result, body: text };
}
