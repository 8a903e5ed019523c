// A `tls:` block of one of the collector's listeners (http.tls, syslog.tls): the listener's
// certificate and key, and optionally the CA that client certificates must be signed by (mutual
// TLS). The same settings as the OpenTelemetry Collector's server `tls:` block (cert_file,
// key_file, client_ca_file, min_version, https://github.com/open-telemetry/opentelemetry-collector/blob/main/config/configtls/README.md)
// and Prometheus' web config tls_server_config, in this project's camelCase.
//
// The files are read and checked when the configuration is loaded (start and check-config): a
// missing file, a file without PEM, a key that does not belong to its certificate is a config
// error naming the key and the path. Under a running listener they are read again when they
// change (reloadWhenChanged), as Prometheus does, so a certificate renewed in place (cert-manager,
// certbot) is served without a restart.

import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { resolve } from 'node:path';
import type { Server, TlsOptions } from 'node:tls';
import { fileStamp, readPemFiles, secureOptions } from '../../alerting/src/tls.ts';

/**
 * The block's schema; `description`: the block's, saying which listener it secures; `extra`: keys
 * of the listener's own next to the TLS ones (syslog.tls has its own `addr`).
 */
export function serverTlsSchema<E extends TProperties = {}>(description: string, extra: E = {} as E) {
  return Type.Object(
    {
      ...extra,
      certFile: Type.String({ minLength: 1, description: "PEM file of the listener's certificate, with its intermediate certificates after it (cert-manager's tls.crt, certbot's fullchain.pem). A relative path is from the config file's folder." }),
      keyFile: Type.String({ minLength: 1, description: "PEM file of the certificate's private key, unencrypted (tls.key, privkey.pem)." }),
      clientCaFile: Type.Optional(Type.String({
        minLength: 1,
        description: 'PEM file of the CA certificate(s) that client certificates must be signed by. Set: every client must present such a certificate (mutual TLS), others fail the handshake, as the OpenTelemetry Collector\'s client_ca_file. Unset: no client certificate is asked for.',
      })),
      minVersion: Type.Union([Type.Literal('TLS1.2'), Type.Literal('TLS1.3')], { default: 'TLS1.2', description: 'Lowest TLS version accepted from clients.' }),
    },
    { additionalProperties: false, description },
  );
}
export type ServerTlsConfig = Static<ReturnType<typeof serverTlsSchema<{}>>>;

/** Node's server TLS options from the block's files, checked; or the problems found (`key`: the block's key, e.g. `http.tls`). */
export function loadServerTls(tls: ServerTlsConfig, key: string, baseDir: string): { options?: TlsOptions; problems: string[] } {
  const files = readPemFiles(
    { ca: { name: 'clientCaFile', given: tls.clientCaFile }, cert: { name: 'certFile', given: tls.certFile }, key: { name: 'keyFile', given: tls.keyFile }, pairNeeds: 'the listener' },
    key,
    baseDir,
  );
  if (files.problems.length > 0) return { problems: files.problems };
  const options: TlsOptions = { cert: files.cert, key: files.privateKey, minVersion: tls.minVersion === 'TLS1.3' ? 'TLSv1.3' : 'TLSv1.2' };
  if (files.ca !== undefined) Object.assign(options, { ca: files.ca, requestCert: true, rejectUnauthorized: true });
  return secureOptions(options, key);
}

/**
 * Reads the block's files again when they changed, before the handshake of each new connection
 * (a listener on `connection` ahead of Node's own, so that connection already gets the new
 * certificate). A change that cannot be used (a key written before its certificate) keeps the
 * previous files in use until the next change; `report` gets its problems, or none and the options
 * now in use when the new files are. Connections already open keep the certificate they were made with.
 */
export function reloadWhenChanged(server: Server, tls: ServerTlsConfig, key: string, baseDir: string, report: (problems: string[], options?: TlsOptions) => void): void {
  const files = [tls.certFile, tls.keyFile, tls.clientCaFile].flatMap((f) => (f === undefined ? [] : [resolve(baseDir, f)]));
  let stamp = fileStamp(files);
  server.prependListener('connection', () => {
    const now = fileStamp(files);
    if (now === stamp) return;
    stamp = now;
    const next = loadServerTls(tls, key, baseDir);
    if (next.options) server.setSecureContext(next.options);
    report(next.problems, next.options);
  });
}

/**
 * Why a handshake failed, in words a person can act on: OpenSSL's reason ("peer did not return a
 * certificate", "wrong version number" for a client speaking plain TCP, "certificate verify failed"
 * for a client certificate of another CA), else Node's message (a client gone mid-handshake).
 */
export function handshakeFailure(err: unknown): string {
  const e = err as { reason?: unknown; message?: unknown; code?: unknown } | null;
  if (typeof e?.reason === 'string' && e.reason !== '') return e.reason;
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  return typeof e?.code === 'string' ? e.code : String(err);
}
