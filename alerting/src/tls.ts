// A `tls:` block towards an https peer: the CA that signs its certificate, a client certificate
// (mutual TLS), the name the certificate is checked against, the lowest TLS version. The same
// settings as the OpenTelemetry Collector's `tls:` block (ca_file, cert_file, key_file,
// server_name_override, insecure_skip_verify, min_version) and Alertmanager's tls_config, in this
// project's camelCase. Shared by the collector's HTTP exporters (collector/src/exporters/tls.ts)
// and alerting's HTTP channels (notify/http-tls.ts).
//
// The files are read and checked when the configuration is loaded (start and check-config), read
// again when the exporters or channels are built at start, and when they change (tlsConnector): a file that does not exist, holds no PEM, or a
// key that does not belong to its certificate is a config error naming the key and the path, not a
// retry loop of handshake failures. The key file's content never appears in a message.

import { Type, type Static } from '@sinclair/typebox';
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createSecureContext, type ConnectionOptions, type SecureContextOptions } from 'node:tls';
import type { buildConnector } from 'undici';

const tlsProperties = {
  caFile: Type.Optional(Type.String({ minLength: 1, description: "PEM file of the CA certificate(s) the backend's certificate is checked against, instead of Node's default CAs (e.g. Elasticsearch 8's config/certs/http_ca.crt). A relative path is from the config file's folder." })),
  certFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate (mutual TLS; with keyFile). It may hold the intermediate certificates after it.' })),
  keyFile: Type.Optional(Type.String({ minLength: 1, description: "PEM file of the client certificate's private key, unencrypted (with certFile)." })),
  serverName: Type.Optional(Type.String({ minLength: 1, description: "Name sent as SNI and checked against the backend's certificate instead of the URL's host (a backend reached by IP address or through a tunnel)." })),
  insecureSkipVerify: Type.Boolean({ default: false, description: "Accept any certificate of the backend, unchecked (a warning is logged at start). For tests only: anyone on the path can read and change what is sent." }),
  minVersion: Type.Union([Type.Literal('TLS1.2'), Type.Literal('TLS1.3')], { default: 'TLS1.2', description: 'Lowest TLS version accepted.' }),
};

/** The `tls:` block's schema; `description`: the block's, saying where its peer is documented. */
export function tlsSchema(description: string) {
  return Type.Object(tlsProperties, { additionalProperties: false, description });
}
export type TlsConfig = Static<ReturnType<typeof tlsSchema>>;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A PEM file a `tls:` block names: its key in the block (`caFile`) and its path as given. */
export interface PemFileKey {
  name: string;
  given: string | undefined;
}

/**
 * The PEM files of a TLS block, read and checked: the CA certificates, a certificate (with its
 * intermediates after it) and the private key that must belong to it. Shared by the client side
 * (loadTls) and the collector's listeners (collector/src/server-tls.ts). Each problem names the
 * block's key (`key`) and the file's path, never the key file's content.
 */
export function readPemFiles(files: { ca?: PemFileKey; cert: PemFileKey; key: PemFileKey; pairNeeds: string }, key: string, baseDir: string): { ca?: string; cert?: string; privateKey?: string; problems: string[] } {
  const problems: string[] = [];
  const read = (file: PemFileKey): { path: string; text: string } | undefined => {
    if (file.given === undefined) return undefined;
    const path = resolve(baseDir, file.given);
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`${key}.${file.name}: cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory, not a file' : e.message}`);
      return undefined;
    }
  };
  const certificates = (name: string, file: { path: string; text: string }): X509Certificate[] | undefined => {
    const blocks = file.text.match(PEM_CERT) ?? [];
    if (blocks.length === 0) {
      problems.push(`${key}.${name}: ${file.path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file is converted with openssl x509 -inform der -in <file> -out <file>.pem`);
      return undefined;
    }
    try {
      return blocks.map((b) => new X509Certificate(b));
    } catch {
      problems.push(`${key}.${name}: ${file.path} holds a PEM certificate that cannot be read`);
      return undefined;
    }
  };
  const out: { ca?: string; cert?: string; privateKey?: string; problems: string[] } = { problems };

  const ca = files.ca ? read(files.ca) : undefined;
  if (ca && files.ca && certificates(files.ca.name, ca)) out.ca = ca.text;

  if ((files.cert.given === undefined) !== (files.key.given === undefined)) {
    const missing = files.cert.given === undefined ? files.cert.name : files.key.name;
    problems.push(`${key}.${missing}: missing: ${files.pairNeeds} needs both ${files.cert.name} and ${files.key.name}`);
  }
  const cert = read(files.cert);
  const chain = cert ? certificates(files.cert.name, cert) : undefined;
  const keyText = read(files.key);
  let privateKey: KeyObject | undefined;
  if (keyText) {
    try {
      privateKey = createPrivateKey({ key: keyText.text, format: 'pem' });
    } catch {
      // Not the error's text: kept generic so that nothing of the key can reach a log.
      const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText.text);
      problems.push(`${key}.${files.key.name}: ${keyText.path} ${encrypted ? 'is encrypted with a passphrase; give an unencrypted key (openssl pkey -in <file> -out <file>.plain)' : 'holds no PEM private key (-----BEGIN PRIVATE KEY-----)'}`);
    }
  }
  if (cert && chain && keyText && privateKey) {
    if (!chain[0].checkPrivateKey(privateKey)) {
      problems.push(`${key}.${files.key.name}: the key in ${keyText.path} does not belong to the certificate in ${cert.path} (${files.cert.name})`);
    } else {
      out.cert = cert.text;
      out.privateKey = keyText.text;
    }
  }
  return out;
}

/** Node's TLS options from checked files, or the problem Node's TLS has with them together. */
export function secureOptions<T extends SecureContextOptions>(options: T, key: string): { options?: T; problems: string[] } {
  try {
    createSecureContext(options); // what Node would refuse at the first connection
  } catch (err) {
    return { problems: [`${key}: these files cannot be used together by Node's TLS: ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 200)}`] };
  }
  return { options, problems: [] };
}

/** What the files hold, checked, as Node's TLS options take them; or the problems found. */
export function loadTls(tls: TlsConfig, key: string, baseDir: string): { options?: ConnectionOptions; problems: string[] } {
  const options: ConnectionOptions = { minVersion: tls.minVersion === 'TLS1.3' ? 'TLSv1.3' : 'TLSv1.2', rejectUnauthorized: tls.insecureSkipVerify !== true };
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  const files = readPemFiles(
    { ca: { name: 'caFile', given: tls.caFile }, cert: { name: 'certFile', given: tls.certFile }, key: { name: 'keyFile', given: tls.keyFile }, pairNeeds: 'a client certificate' },
    key,
    baseDir,
  );
  if (files.problems.length > 0) return { problems: files.problems };
  if (files.ca !== undefined) options.ca = files.ca;
  if (files.cert !== undefined) {
    options.cert = files.cert;
    options.key = files.privateKey;
  }
  return secureOptions(options, key);
}

/**
 * The files' content, hashed: a renewed certificate, a swapped Kubernetes secret changes it. Not
 * their mtime, which the kernel keeps to a clock tick: a key rewritten within one tick of its
 * previous version looked unchanged. A few KB read per new connection (keep-alive makes them rare).
 */
export function fileStamp(paths: string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) {
    try {
      hash.update(readFileSync(path));
    } catch {
      hash.update('unreadable');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * The connector of an exporter's or channel's pool with `tls:` (proxy.ts ownDispatcher; undici's
 * Agent, https://undici.nodejs.org/#/docs/api/Agent): connects with Node's TLS options. Exporters
 * and channels without `tls:` or proxy keys share undici's global dispatcher.
 *
 * Before each new connection the files are checked for a change, and read again when one changed,
 * as Prometheus does: client certificates are short-lived (cert-manager renews them in place), and
 * read once they expired under a running collector, which then waited for a restart. A change that
 * cannot be used (a key written before its certificate) keeps the previous files in use; `report`
 * gets its problems, or none when the new files are in use.
 */
export function tlsConnector(tls: TlsConfig, key: string, baseDir: string, options: ConnectionOptions, report: (problems: string[]) => void): buildConnector.connector {
  // Required here, not imported with the module: undici (about 110 modules, 150 ms on a loaded
  // 2-core machine) is needed by the channels and exporters with tls: or a proxy only, not by every start.
  const { buildConnector } = createRequire(import.meta.url)('undici') as typeof import('undici');
  const files = (['caFile', 'certFile', 'keyFile'] as const).flatMap((k) => (tls[k] === undefined ? [] : [resolve(baseDir, tls[k])]));
  let stamp = fileStamp(files);
  let connect = buildConnector(options as buildConnector.BuildOptions);
  return (opts, callback) => {
    const now = fileStamp(files);
    if (now !== stamp) {
      stamp = now;
      const next = loadTls(tls, key, baseDir);
      if (next.options) connect = buildConnector(next.options as buildConnector.BuildOptions);
      report(next.problems);
    }
    return connect(opts, callback);
  };
}

/**
 * OpenSSL's verification codes for a certificate chain that leads to no trusted CA: a peer
 * with a private CA (Elasticsearch 8 makes its own at install) or a self-signed certificate.
 */
export const UNTRUSTED_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * What to change for a TLS failure an operator fixes in the `tls:` block: `peer` is what is
 * connected to ("the backend"), `owner` what holds the block ("the exporter"), `doc` where it is
 * documented, `block` the block's key (`tls`, email's `smtp.tls`).
 */
export function tlsHint(code: string, { peer, owner, doc, block = 'tls' }: { peer: string; owner: string; doc: string; block?: string }): string | undefined {
  if (UNTRUSTED_CA.has(code)) {
    return `${peer}'s certificate is not from a trusted CA; give ${owner} its CA with ${block}.caFile (or the whole collector with NODE_EXTRA_CA_CERTS=<CA file, PEM>), ${doc}`;
  }
  // The first bytes of the answer are not a TLS record: most often an HTTP server's answer.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return `${peer} does not answer TLS on this port: is its url http://?`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${peer}'s certificate is not for the URL's host; use a name the certificate has, or set ${block}.serverName to one, ${doc}`;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return `${peer} asks for a client certificate: set ${block}.certFile and ${block}.keyFile, ${doc}`;
  if (/^ERR_SSL_.*ALERT_(HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)$/.test(code)) {
    return `${peer} refused the TLS handshake: does it require a client certificate (${block}.certFile, ${block}.keyFile) from a CA it trusts?, ${doc}`;
  }
  return undefined;
}
