// Delivery problems an operator must fix, told to the app once each as a process warning (stderr,
// `process.on('warning')`), as the worker's death is (index.ts): without it an app with a wrong
// token, or one that does not trust the collector's certificate, lost its logs with no word but
// a counter in stats(). Transient trouble (a collector restarting, 429, 5xx, a refused
// connection) is not one: it is retried and fixes itself.
//
// For logs the worker thread finds them (shipper.ts); it sends each kind once to the main thread
// as a thread-stream EVENT message (https://github.com/pinojs/thread-stream, which re-emits it on
// the transport), and the main thread warns (warnOnce). For traces and metrics the main thread
// reads them from the OTLP exporters' results (exportProblem).

/** The event's name on the transport. */
export const DELIVERY_PROBLEM_EVENT = 'periscope:delivery-problem';

export interface DeliveryProblem {
  /** The same problem again says nothing new: one warning per key. */
  key: string;
  code: 'PERISCOPE_SDK_DELIVERY_REFUSED' | 'PERISCOPE_SDK_DELIVERY_TLS_FAILED';
  message: string;
}

/** What was not delivered: the shipper's log records, or the OTLP exporters' spans and metrics. */
export type Signal = 'log records' | 'spans' | 'metrics';

/** Where the app sees what a refusal cost, by signal. */
const REFUSED_COUNT: Record<Signal, string> = {
  'log records': 'they are dropped (stats().dropped.permanent_error)',
  spans: 'they are dropped (stats().spans.failed)',
  metrics: 'this export is lost (stats().metrics.failed); the next one carries the cumulative values again',
};

/**
 * A permanent answer (a 4xx but 408, 409, 413, 429): the batch is dropped. `url`: the request's,
 * without credentials; `body`: the collector's error answer, whose code and message are quoted.
 */
export function refusal(url: string, status: number, body: string, signal: Signal = 'log records'): DeliveryProblem {
  let said = '';
  try {
    const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof error?.code === 'string') said = ` ${error.code.slice(0, 80)}`;
    if (typeof error?.message === 'string') said += `: ${error.message.slice(0, 300)}`;
  } catch {
    // not the collector's JSON (a proxy's page): the status says enough
  }
  const hint =
    status === 401 || status === 403
      ? '; check the credentials: OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer <token>", or user:password in the endpoint (a basic user of the collector\'s http.auth)'
      : '';
  return {
    key: `${signal} refused ${status}`,
    code: 'PERISCOPE_SDK_DELIVERY_REFUSED',
    message: `the collector at ${url} refused ${signal} with ${status}${said}: ${REFUSED_COUNT[signal]}${hint}`,
  };
}

/**
 * OpenSSL's and Node's codes for a TLS failure that retrying cannot fix (the collector's side
 * knows the same ones, alerting/src/tls.ts UNTRUSTED_CA: the SDK is a package of its own and
 * imports nothing from the collector): the certificate is not
 * trusted, not for this host, expired; or the endpoint speaks plain HTTP.
 */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
]);

/** The problem behind a failed request (fetch's TypeError, its `cause` the socket's error), when it is a TLS one; otherwise undefined. */
export function tlsFailure(url: string, err: unknown, signal: Signal = 'log records'): DeliveryProblem | undefined {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    // A handshake refused for want of a client certificate (mutual TLS) comes as an alert.
    const clientCert = code !== undefined && /^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$|^ERR_SSL_.*ALERT_(HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)$/.test(code);
    if (code === undefined || (!TLS_CODES.has(code) && !clientCert)) continue;
    const hint = clientCert
      ? 'the collector asks for a client certificate it trusts: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY'
      : code.startsWith('ERR_SSL_') && !clientCert
        ? 'the endpoint does not answer TLS: is it http://?'
        : code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? "the certificate is not for the endpoint's host name"
          : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
            ? "the collector's certificate is outside its validity (renew it, or check this host's clock)"
            : "give the CA of the collector's certificate with OTEL_EXPORTER_OTLP_CERTIFICATE (or NODE_EXTRA_CA_CERTS)";
    const kept = signal === 'metrics' ? 'the next export tries again' : 'they are kept and retried until the buffer is full';
    return {
      key: `${signal} tls ${code}`,
      code: 'PERISCOPE_SDK_DELIVERY_TLS_FAILED',
      message: `${signal} cannot be delivered to ${url}: TLS ${code} (${String(e.message ?? '').slice(0, 200)}); ${kept}: ${hint}`,
    };
  }
  return undefined;
}

/**
 * The problem behind an OTLP export's failure (traces, metrics), or undefined: an
 * OTLPExporterError carries the HTTP status as `code` and the answer as `data`; a 4xx that is
 * not retried (all but 408, 409, 413, 429) is a refusal. `url`: the exporter's, whose credentials
 * are left out here.
 */
export function exportProblem(url: string, error: unknown, signal: Signal): DeliveryProblem | undefined {
  let shown = url;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    shown = u.href;
  } catch {
    // not a URL: shown as given
  }
  const e = error as { name?: unknown; code?: unknown; data?: unknown } | undefined;
  if (e?.name === 'OTLPExporterError' && typeof e.code === 'number') {
    const status = e.code;
    if (status < 400 || status >= 500 || [408, 409, 413, 429].includes(status)) return undefined;
    return refusal(shown, status, typeof e.data === 'string' ? e.data : '', signal);
  }
  return tlsFailure(shown, error, signal);
}

/** The main thread's side: each problem's key warned of once in the process. */
export function warnOnce(): (problem: unknown) => void {
  const said = new Set<string>();
  return (problem) => {
    const p = problem as DeliveryProblem | undefined;
    if (typeof p?.key !== 'string' || typeof p.message !== 'string' || said.has(p.key)) return;
    said.add(p.key);
    process.emitWarning(p.message, { code: p.code });
  };
}
