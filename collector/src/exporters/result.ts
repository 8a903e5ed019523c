// Export results are values, not exceptions (DESIGN.md, convention 4). They are decided once,
// where the backend's answer is read, and everything downstream (retry helper, circuit breaker,
// delivery, dead letters, metrics) acts on the value only.

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

/**
 * OpenSSL's verification codes for a certificate chain that leads to no trusted CA: a backend
 * with a private CA (Elasticsearch 8 makes its own at install) or a self-signed certificate.
 */
const UNTRUSTED_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * "connect ECONNREFUSED 127.0.0.1:3100" rather than undici's bare "fetch failed". A certificate
 * from an untrusted CA says how to trust it (docs/exporters.md, TLS): the error alone left an
 * operator retrying forever with no way named.
 */
export function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return `network error: ${String(err)}`;
  if (err.name === 'TimeoutError') return 'network error: request timed out';
  if (err.name === 'AbortError') return 'network error: request aborted';
  const cause = (err as Error & { cause?: unknown }).cause;
  const failed = cause instanceof Error ? cause : err;
  const code = (failed as NodeJS.ErrnoException).code;
  const text = `network error: ${cause instanceof Error && code && !failed.message.includes(code) ? `${code} ` : ''}${failed.message}`;
  if (code && UNTRUSTED_CA.has(code)) {
    return `${text} (${code}: the backend's certificate is not from a trusted CA; give the collector its CA with NODE_EXTRA_CA_CERTS=<CA file, PEM>, docs/exporters.md#tls)`;
  }
  return text;
}
