import { pickQueryParams, type RawQuery } from '../../../alerting/src/api/query-params.ts';
import { ERR, PeriscopeError } from '../errors.ts';

export type { RawQuery };

const badQuery = (key: string, message: string) => new PeriscopeError(ERR.BAD_QUERY, message, 400, { key });

/**
 * One parameter's value. A parameter given twice is refused (400 naming it): which one was meant,
 * or both, would be a guess, and SQL bound to an array fails as a 500.
 */
export function singleParam(query: RawQuery, key: string): string | undefined {
  const v = query[key];
  if (Array.isArray(v)) throw badQuery(key, `${key}: given more than once`);
  return v;
}

/** The 400 for a parameter the endpoint does not take, listing those it does. */
export function unknownParam(key: string, known: readonly string[]): PeriscopeError {
  return badQuery(key, `${key}: unknown parameter (use ${known.join(', ')})`);
}

/** An endpoint's parameters, each given at most once; any other key is a 400 PERISCOPE_ERR_BAD_QUERY naming it. */
export function queryParams<K extends string>(query: RawQuery, keys: readonly K[]): Partial<Record<K, string>> {
  return pickQueryParams(query, keys, badQuery);
}
