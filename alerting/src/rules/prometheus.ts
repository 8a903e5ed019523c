import { ALERT_ERR, AlertError } from '../errors.ts';
import { basicToken, takeUrlCredentials } from '../../../sdk/src/url-credentials.ts';
import { timerDelay } from '../clock.ts';

// Instant queries through the Prometheus HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries).
// PromQL is evaluated by Prometheus itself; this client only transports and decodes.

export interface PromSeries {
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusClient {
  /** Evaluates `expr` at `timeMs`. Throws AlertError (PROMETHEUS_UNAVAILABLE / PROMETHEUS_QUERY). */
  query(expr: string, timeMs: number): Promise<PromSeries[]>;
}

export interface PrometheusClientOptions {
  url: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

type ApiResponse =
  | { status: 'success'; data: { resultType: 'vector'; result: Array<{ metric: Record<string, string>; value: [number, string] }> } | { resultType: 'scalar'; result: [number, string] } | { resultType: 'matrix' | 'string'; result: unknown } }
  | { status: 'error'; errorType: string; error: string };

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/**
 * The base URL without credentials, and the Basic auth they stand for: Prometheus behind basic auth
 * is written `http://user:pass@prometheus:9090`, as Grafana and Go's HTTP client take it. fetch
 * refuses a URL with credentials (every query failed), and error messages show the base URL.
 * An Authorization header in `headers` wins, as it does over the URL's user in Go.
 */
function baseAndAuth(url: string): { base: string; authorization?: string } {
  const u = URL.canParse(url) ? new URL(url) : undefined;
  const credentials = u && takeUrlCredentials(u);
  if (!credentials) return { base: url.replace(/\/+$/, '') };
  return { base: u!.href.replace(/\/+$/, ''), authorization: `Basic ${basicToken(credentials)}` };
}

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const { base, authorization } = baseAndAuth(options.url);
  const ownAuthorization = Object.keys(options.headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
  const headers = { ...(authorization && !ownAuthorization && { authorization }), ...options.headers };
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async query(expr, timeMs) {
      const body = new URLSearchParams({ query: expr, time: (timeMs / 1000).toFixed(3), timeout: `${Math.max(1, Math.ceil(timeoutMs / 1000))}s` });
      let res: Response;
      try {
        res = await doFetch(`${base}/api/v1/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body,
          signal: AbortSignal.timeout(timerDelay(timeoutMs)),
        });
      } catch (err) {
        const e = err as Error;
        const reason = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (e.cause as Error | undefined)?.message ?? e.message;
        throw new AlertError(ALERT_ERR.PROMETHEUS_UNAVAILABLE, `Prometheus at ${base} unreachable: ${reason}`, 502);
      }
      let json: ApiResponse | undefined;
      const text = await res.text().catch(() => '');
      try {
        json = JSON.parse(text) as ApiResponse;
      } catch {
        json = undefined;
      }
      // 400 bad_data / 422 execution errors are the query's fault; 5xx and 503 are the server's.
      if (!res.ok || !json || json.status !== 'success') {
        const msg = json && json.status === 'error' ? `${json.errorType}: ${json.error}` : `HTTP ${res.status}: ${text.slice(0, 200)}`;
        const code = res.status === 400 || res.status === 422 ? ALERT_ERR.PROMETHEUS_QUERY : ALERT_ERR.PROMETHEUS_UNAVAILABLE;
        throw new AlertError(code, `Prometheus query failed: ${msg}`, 502, { status: res.status });
      }
      const data = json.data;
      if (data.resultType === 'vector') {
        return data.result.map((r) => {
          const { __name__: _drop, ...labels } = r.metric;
          return { labels, value: parseValue(r.value[1]) };
        });
      }
      if (data.resultType === 'scalar') return [{ labels: {}, value: parseValue(data.result[1]) }];
      throw new AlertError(ALERT_ERR.PROMETHEUS_QUERY, `expression must return an instant vector or a scalar, got ${data.resultType}`, 400);
    },
  };
}
