// Export results are values, not exceptions (DESIGN.md, convention 4). They are decided once,
// where the backend's answer is read, and everything downstream (retry helper, circuit breaker,
// delivery, dead letters, metrics) acts on the value only.
import { proxyRefusal } from '../../../alerting/src/proxy.ts';
import { tlsHint as sharedTlsHint } from '../../../alerting/src/tls.ts';

export type ExportStatus = 'success' | 'retryable' | 'permanent';

export interface ExportResult {
  status: ExportStatus;
  /** The backend asked us to wait this long (Retry-After), in milliseconds. */
  retryAfterMs?: number;
  /** What went wrong, for humans: never contains a secret (see redact.ts). */
  error?: string;
  /** The HTTP status behind the result, when there was one. */
  httpStatus?: number;
}

export const SUCCESS: ExportResult = Object.freeze({ status: 'success' });

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds to wait,
 * or undefined when absent or malformed. A date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^[A-Za-z]{3}, /.test(text)) return undefined; // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT"
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The one place an HTTP status becomes a decision:
 *  - 2xx → success;
 *  - 408, 429 and every 5xx → retryable (the request may succeed later; honour Retry-After);
 *  - every other status (4xx: bad labels, mapping errors, auth, not found, too large) → permanent:
 *    sending the same bytes again cannot succeed, so it goes to the dead-letter store instead.
 * Remote write 1.0 states the same rule for its senders: retry 5xx, MAY retry 429, never retry
 * other 4xx (https://prometheus.io/docs/specs/prw/remote_write_spec/#retries-backoff).
 */
export function classifyHttpStatus(status: number, retryAfter?: string | null, now: number = Date.now()): ExportResult {
  if (status >= 200 && status < 300) return { status: 'success', httpStatus: status };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return retryAfterMs === undefined ? { status: 'retryable', httpStatus: status } : { status: 'retryable', httpStatus: status, retryAfterMs };
  }
  return { status: 'permanent', httpStatus: status };
}

/** A request that got no HTTP answer (refused, reset, DNS, timeout) is always retryable. */
export function networkFailure(err: unknown): ExportResult {
  return { status: 'retryable', error: describeNetworkError(err) };
}

/** What to change for a TLS failure an operator fixes in the exporter's `tls:` block. */
const tlsHint = (code: string) => sharedTlsHint(code, { peer: 'the backend', owner: 'the exporter', doc: 'docs/exporters.md#tls' });

/**
 * "connect ECONNREFUSED 127.0.0.1:3100" rather than undici's bare "fetch failed". A TLS failure
 * that a setting fixes (a CA not trusted, a client certificate asked for, another name in the
 * certificate) names the setting: the error alone left an operator retrying forever with no way
 * named. OpenSSL's messages ("40CD…:error:0A00045C:SSL routines:…:rec_layer_s3.c:918:…") are cut
 * to their code and reason.
 */
export function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return `network error: ${String(err)}`;
  const refusal = proxyRefusal(err, 'the backend');
  if (refusal) return `network error: ${refusal}`;
  if (err.name === 'TimeoutError') return 'network error: request timed out';
  if (err.name === 'AbortError') return 'network error: request aborted';
  const cause = (err as Error & { cause?: unknown }).cause;
  const failed = cause instanceof Error ? cause : err;
  const code = (failed as NodeJS.ErrnoException).code;
  const reason = (failed as Error & { reason?: unknown }).reason;
  const message = typeof reason === 'string' && (failed as Error & { library?: unknown }).library !== undefined ? reason : failed.message.trim();
  const hint = code ? tlsHint(code) : undefined;
  if (hint) return `network error: ${message} (${code}: ${hint})`;
  return `network error: ${code && !message.includes(code) && (cause instanceof Error || message !== failed.message.trim()) ? `${code} ` : ''}${message}`;
}
