// `tls:` of an HTTP exporter (docs/exporters.md, TLS): the block and its files are alerting/src/tls.ts's,
// shared with alerting's HTTP channels; here what is the exporters' own: the schema's description
// and the checks of the `exporters:` list.

import { loadTls, tlsSchema, type TlsConfig } from '../../../alerting/src/tls.ts';
export { loadTls, tlsConnector } from '../../../alerting/src/tls.ts';

export const tlsConfigSchema = tlsSchema('TLS towards an https backend (docs/exporters.md, TLS); refused with an http:// url.');

/**
 * The problems of `tls:` blocks that need no file: a block on an http:// URL, whose settings would
 * silently be ignored (the operator thinks the traffic is encrypted and verified).
 */
export function tlsUrlProblems(configs: ReadonlyArray<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if (typeof c?.tls !== 'object' || c.tls === null || typeof c.url !== 'string' || !URL.canParse(c.url)) return;
    if (new URL(c.url).protocol !== 'https:') problems.push(`exporters.${i}.tls: set with an http:// url (exporters.${i}.url): TLS applies to https:// only; use https:// or remove tls`);
  });
  return problems;
}

/** The problems of every exporter's `tls:` files (relative paths from `baseDir`, the config file's folder). */
export function tlsFileProblems(configs: ReadonlyArray<Record<string, unknown>>, baseDir: string): string[] {
  const problems: string[] = [];
  configs.forEach((c, i) => {
    if (typeof c?.tls !== 'object' || c.tls === null) return;
    const tls = c.tls as Record<string, unknown>;
    // A file key that is not a string is a schema error of its own.
    if (['caFile', 'certFile', 'keyFile'].some((k) => tls[k] !== undefined && typeof tls[k] !== 'string')) return;
    problems.push(...loadTls(tls as TlsConfig, `exporters.${i}.tls`, baseDir).problems);
  });
  return problems;
}
