import { ERR, PeriscopeError } from '../errors.ts';

/** A parsed query string: a key given twice arrives as an array (Fastify's querystring parser). */
export type RawQuery = Record<string, string | string[] | undefined>;

/**
 * One parameter's value. A parameter given twice is refused (400 naming it): which one was meant,
 * or both, would be a guess, and SQL bound to an array fails as a 500.
 */
export function singleParam(query: RawQuery, key: string): string | undefined {
  const v = query[key];
  if (Array.isArray(v)) throw new PeriscopeError(ERR.BAD_QUERY, `${key}: given more than once`, 400, { key });
  return v;
}

/** The 400 for a parameter the endpoint does not take, listing those it does. */
export function unknownParam(key: string, known: readonly string[]): PeriscopeError {
  return new PeriscopeError(ERR.BAD_QUERY, `${key}: unknown parameter (use ${known.join(', ')})`, 400, { key });
}

/**
 * An endpoint's parameters, each given at most once; any other key is a 400 naming it: a
 * misspelt parameter must not become a filter silently left out.
 */
export function queryParams<K extends string>(query: RawQuery, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of Object.keys(query)) {
    if (!(keys as readonly string[]).includes(key)) throw unknownParam(key, keys);
    const value = singleParam(query, key);
    if (value !== undefined) out[key as K] = value;
  }
  return out;
}
