// Pure logic of the console's browser modules (static/lib), run in Node. They are plain
// JavaScript without types, so each is imported dynamically and given the type it is used with.
import { describe, expect, it } from 'vitest';
import { ERR, PeriscopeError } from '../errors.ts';
import { parseLogFilter } from '../store/log-filter.ts';

const lib = (file: string) => import(new URL(`./static/lib/${file}`, import.meta.url).href);
const format: { severityNumber(value: string | null): number | undefined } = await lib('format.js');

/** The severity the search API applies for `value`, or undefined when it answers 400. */
function apiSeverity(value: string): number | undefined {
  try {
    return parseLogFilter({ severity: value }).maxSeverity;
  } catch (err) {
    if (err instanceof PeriscopeError && err.code === ERR.BAD_QUERY) return undefined;
    throw err;
  }
}

describe('severityNumber reads `severity` as the search API does', () => {
  const names = [
    'emerg', 'emergency', 'panic', 'alert', 'crit', 'critical', 'fatal', 'err', 'error', 'warning', 'warn',
    'notice', 'info', 'informational', 'debug', 'trace', 'WARN', 'Error',
    '0', '3', '7', '8', '9', '10', '-1', '4.0', ' 4', 'bogus', 'constructor', '__proto__', 'toString',
  ];
  it.each(names.map((value) => ({ name: JSON.stringify(value), value })))('$name', ({ value }) => {
    expect(format.severityNumber(value)).toBe(apiSeverity(value));
  });

  it('absent is no level', () => {
    expect(format.severityNumber(null)).toBeUndefined();
  });
});
