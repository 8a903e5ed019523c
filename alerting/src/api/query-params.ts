import { ALERT_ERR, AlertError } from '../errors.ts';

/** A parsed query string: a key given twice arrives as an array (Fastify's querystring parser). */
export type RawQuery = Record<string, string | string[] | undefined>;

/**
 * An alerting endpoint's filters, each given at most once, as the collector's log query API takes
 * them (docs/api.md): any other key is a 400 naming it, so a misspelt or unsupported filter
 * (`?severity=critical`) is not silently left out, and a key given twice is a 400 rather than a
 * guess (an array reached `.split()` and SQL, a 500).
 */
export function alertQueryParams<K extends string>(query: RawQuery, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of Object.keys(query)) {
    if (!(keys as readonly string[]).includes(key)) {
      const use = keys.length ? `use ${keys.join(', ')}` : 'this endpoint takes none';
      throw new AlertError(ALERT_ERR.BAD_QUERY, `${key}: unknown parameter (${use})`, 400, { key });
    }
    const v = query[key];
    if (Array.isArray(v)) throw new AlertError(ALERT_ERR.BAD_QUERY, `${key}: given more than once`, 400, { key });
    if (v !== undefined) out[key as K] = v;
  }
  return out;
}
