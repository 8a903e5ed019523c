// syslog.tls: syslog over TLS (RFC 5425, https://www.rfc-editor.org/rfc/rfc5425), a TCP listener
// of its own whose connections, once the handshake is done, are read as the plain TCP listener's
// (receiver.ts: same framing, parsing, bounds and shutdown). Here what is TLS's own: the block's
// schema (the shared server-tls.ts block plus the listener's address), the checks at config load
// (its files, its port), and the reason a handshake failed, for the log.

import { Type } from '@sinclair/typebox';
import { isAddr, parseAddr } from '../../config/units.ts';
import { loadServerTls, serverTlsSchema, type ServerTlsConfig } from '../../server-tls.ts';

/** RFC 5425 §4.1: the port assigned to syslog over TLS. */
export const SYSLOG_TLS_PORT = 6514;

export const tlsConfigSchema = serverTlsSchema(
  'Syslog over TLS (RFC 5425), on a TCP listener of its own: rsyslog\'s gtls/ossl stream drivers, syslog-ng\'s transport("tls"). Unset: no TLS listener. Connections are read as on syslog.addr (octet counting, as RFC 5425 §4.3 requires, or LF framing, rsyslog\'s default) and count against syslog.maxConnections together with the plain TCP ones. A certificate renewed in place is used from the next connection on.',
  {
    addr: Type.String({
      default: `127.0.0.1:${SYSLOG_TLS_PORT}`,
      format: 'addr',
      description: `host:port (IPv6 as [::1]:port) of the TLS listener (TCP only: no DTLS); ${SYSLOG_TLS_PORT} is the port RFC 5425 assigns.`,
    }),
  },
);

/**
 * The problems of syslog.tls found at config load (none when it is unset): its files (relative
 * paths from `baseDir`, the config file's folder), and a port that syslog.addr's TCP listener
 * takes, which would otherwise fail the start as "in use by another process".
 */
export function tlsProblems(syslog: unknown, baseDir: string): string[] {
  const slice = syslog as { addr?: unknown; tls?: unknown } | null | undefined;
  const tls = slice?.tls;
  if (typeof tls !== 'object' || tls === null) return [];
  const block = tls as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof block.addr === 'string' && typeof slice?.addr === 'string' && isAddr(block.addr) && isAddr(slice.addr)) {
    const [own, plain] = [parseAddr(block.addr), parseAddr(slice.addr)];
    const anyHost = (host: string) => host === '' || host === '0.0.0.0' || host === '::';
    if (own.port !== 0 && own.port === plain.port && (own.host === plain.host || anyHost(own.host) || anyHost(plain.host))) {
      problems.push(`syslog.tls.addr: port ${own.port} is syslog.addr's (${slice.addr}), whose plain TCP listener takes it: give TLS a port of its own (RFC 5425 assigns ${SYSLOG_TLS_PORT})`);
    }
  }
  return [...problems, ...fileProblems(block, baseDir)];
}

function fileProblems(block: Record<string, unknown>, baseDir: string): string[] {
  // A file key that is not a string is a schema error of its own.
  if (['certFile', 'keyFile', 'clientCaFile'].some((k) => block[k] !== undefined && typeof block[k] !== 'string')) return [];
  if (typeof block.certFile !== 'string' || typeof block.keyFile !== 'string') return [];
  return loadServerTls(block as ServerTlsConfig, 'syslog.tls', baseDir).problems;
}
