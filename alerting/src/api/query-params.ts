import { ALERT_ERR, AlertError } from '../errors.ts';

/** A parsed query string: a key given twice arrives as an array (Fastify's querystring parser). */
export type RawQuery = Record<string, string | string[] | undefined>;

/**
 * An endpoint's parameters, each given at most once: any other key is a 400 naming it, so a
 * misspelt or unsupported filter (`?severity=critical`) is not silently left out, and a key given
 * twice is a 400 rather than a guess (an array reached `.split()` and SQL, a 500). `fail` makes
 * the endpoint's error from the key and the message. The collector's query API uses it too
 * (collector/src/http/query-params.ts).
 */
export function pickQueryParams<K extends string>(query: RawQuery, keys: readonly K[], fail: (key: string, message: string) => Error): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of Object.keys(query)) {
    if (!(keys as readonly string[]).includes(key)) {
      throw fail(key, `${key}: unknown parameter (${keys.length ? `use ${keys.join(', ')}` : 'this endpoint takes none'})`);
    }
    const v = query[key];
    if (Array.isArray(v)) throw fail(key, `${key}: given more than once`);
    if (v !== undefined) out[key as K] = v;
  }
  return out;
}

/** An alerting endpoint's filters (pickQueryParams), refused with 400 PERISCOPE_ERR_ALERT_BAD_QUERY. */
export function alertQueryParams<K extends string>(query: RawQuery, keys: readonly K[]): Partial<Record<K, string>> {
  return pickQueryParams(query, keys, (key, message) => new AlertError(ALERT_ERR.BAD_QUERY, message, 400, { key }));
}
