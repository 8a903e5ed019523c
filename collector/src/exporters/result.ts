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

/** What to change for a TLS failure an operator fixes in the exporter's `tls:` block (docs/exporters.md#tls). */
function tlsHint(code: string): string | undefined {
  if (UNTRUSTED_CA.has(code)) {
    return "the backend's certificate is not from a trusted CA; give the exporter its CA with tls.caFile (or the whole collector with NODE_EXTRA_CA_CERTS=<CA file, PEM>), docs/exporters.md#tls";
  }
  // The first bytes of the answer are not a TLS record: most often an HTTP server's answer.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return 'the backend does not answer TLS on this port: is its url http://?';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return "the backend's certificate is not for the URL's host; use a name the certificate has, or set tls.serverName to one, docs/exporters.md#tls";
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return 'the backend asks for a client certificate: set tls.certFile and tls.keyFile, docs/exporters.md#tls';
  if (/^ERR_SSL_.*ALERT_(HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)$/.test(code)) {
    return 'the backend refused the TLS handshake: does it require a client certificate (tls.certFile, tls.keyFile) from a CA it trusts?, docs/exporters.md#tls';
  }
  return undefined;
}

/**
 * "connect ECONNREFUSED 127.0.0.1:3100" rather than undici's bare "fetch failed". A TLS failure
 * that a setting fixes (a CA not trusted, a client certificate asked for, another name in the
 * certificate) names the setting: the error alone left an operator retrying forever with no way
 * named. OpenSSL's messages ("40CD…:error:0A00045C:SSL routines:…:rec_layer_s3.c:918:…") are cut
 * to their code and reason.
 */
export function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return `network error: ${String(err)}`;
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
