import { X509Certificate } from 'node:crypto';
import type { Server, TlsOptions } from 'node:tls';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from './exporters/sink.ts';
import { RateLimitedLog } from './log/rate-limited-log.ts';
import { ERR, PeriscopeError } from './errors.ts';
import { loadServerTls, reloadWhenChanged, type ServerTlsConfig } from './server-tls.ts';

/**
 * The TLS options of the HTTP listener (`main`) and of the health listener (`health`: the same
 * certificate, no client certificate asked for: Kubernetes' probes cannot present one). The files
 * were checked with the configuration; one that changed since is a config error all the same.
 */
export function httpTlsOptions(tls: ServerTlsConfig, baseDir: string): { main: TlsOptions; health: TlsOptions } {
  const main = loadServerTls(tls, 'http.tls', baseDir);
  if (!main.options) throw new PeriscopeError(ERR.CONFIG_INVALID, `invalid configuration: ${main.problems[0]}`, 400, { problems: main.problems });
  // The same files, read once: without the client CA and the demand for a client certificate.
  const { ca: _ca, requestCert: _requestCert, rejectUnauthorized: _rejectUnauthorized, ...health } = main.options;
  return { main: main.options, health };
}

/**
 * periscope_tls_certificate_expiry_timestamp_seconds{listener}: the notAfter of the certificate
 * each TLS listener serves now, so that an alert fires while a renewal that never happened (or
 * could not be used) can still be fixed: `… - time() < 14 * 86400` (deploy/prometheus/rules/alerts.yml).
 * The same shape as the blackbox exporter's probe_ssl_earliest_cert_expiry.
 */
export function certificateExpiryGauge(registry: Registry): Gauge<'listener'> {
  return new Gauge({
    name: 'periscope_tls_certificate_expiry_timestamp_seconds',
    help: 'Expiry (notAfter, Unix seconds) of the certificate a TLS listener serves (http.tls, syslog.tls; renewed in place without a restart).',
    labelNames: ['listener'],
    registers: [registry],
  });
}

/** The first certificate of `cert`: the listener's own (its chain follows it). */
function leafCertificate(cert: TlsOptions['cert']): X509Certificate {
  return new X509Certificate([cert].flat()[0] as string | Buffer);
}

/** The notAfter of the listener's own certificate. */
export function notAfter(cert: TlsOptions['cert']): Date {
  return leafCertificate(cert).validToDate;
}

/**
 * Why clients refuse `cert` now for its validity period (RFC 5280 §4.1.2.5), or undefined. The
 * files are not refused for it (a renewal may be on its way, and the listener serves it as it is),
 * but an operator who started the collector with an expired certificate saw no word of it until
 * every client failed its handshake.
 */
export function validityProblem(cert: TlsOptions['cert'], now = Date.now()): string | undefined {
  const x509 = leafCertificate(cert);
  if (x509.validToDate.getTime() <= now) return `expired on ${x509.validToDate.toISOString()}`;
  if (x509.validFromDate.getTime() > now) return `is not valid before ${x509.validFromDate.toISOString()}`;
  return undefined;
}

/**
 * Serves renewed files from the next connection on (reloadWhenChanged), and tells the operator:
 * a warning at start and at a renewal when the certificate served is expired or not yet valid
 * (validityProblem); an info line with the new certificate's notAfter when it is in use, the gauge moved to it; a
 * warning with the problems when the changed files cannot be used (a key written before its
 * certificate), at most once a minute per listener (a tool rewriting the files in a loop).
 * `options`: what the listener was started with. Returns the flush of the warnings held back (at shutdown).
 */
export function serveRenewals(
  server: Server,
  tls: ServerTlsConfig,
  options: TlsOptions,
  how: { key: string; listener: string; baseDir: string; logger: Logger; expiry: Gauge<'listener'> },
): () => void {
  const { key, listener, baseDir, logger, expiry } = how;
  const warnings = new RateLimitedLog(logger);
  expiry.set({ listener }, notAfter(options.cert).getTime() / 1000);
  const warnValidity = (cert: TlsOptions['cert']) => {
    const problem = validityProblem(cert);
    if (problem) logger.warn({ listener, certFile: tls.certFile }, `${key}: the certificate in ${tls.certFile} ${problem}: clients refuse it until it is renewed (the files are read again when they change)`);
  };
  warnValidity(options.cert);
  reloadWhenChanged(server, tls, key, baseDir, (problems, now) => {
    if (problems.length > 0 || now === undefined) {
      warnings.log({
        key: 'renewal',
        level: 'warn',
        fields: { listener, problems },
        msg: () => `${key}: the changed certificate files cannot be used, the previous certificate is still served: ${problems.join('; ')}`,
      });
      return;
    }
    const expires = notAfter(now.cert);
    expiry.set({ listener }, expires.getTime() / 1000);
    logger.info({ listener, certFile: tls.certFile, notAfter: expires.toISOString() }, `${key}: renewed certificate in use from now on (${listener} listener)`);
    warnValidity(now.cert);
  });
  return () => warnings.flush();
}
