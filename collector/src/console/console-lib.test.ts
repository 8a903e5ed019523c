// Pure logic of the console's browser modules (static/lib), run in Node. They are plain
// JavaScript without types, so each is imported dynamically and given the type it is used with.
import { describe, expect, it } from 'vitest';
import { ERR, PeriscopeError } from '../errors.ts';
import { parseLogFilter } from '../store/log-filter.ts';

const lib = (file: string) => import(new URL(`./static/lib/${file}`, import.meta.url).href);
const format: { severityNumber(value: string | null): number | undefined } = await lib('format.js');
type Parsed = { pairs: Array<[string, string]>; error?: undefined } | { error: string; pairs?: undefined };
const filters: { parseFieldFilters(text: string): Parsed; fieldFiltersText(params: URLSearchParams): string } = await lib('filters.js');

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

describe('the Fields box', () => {
  it.each([
    { name: 'a plain value', value: 'u1' },
    { name: 'two words', value: 'two words' },
    { name: 'a quote inside a word', value: 'a"b' },
    { name: 'quotes and spaces', value: 'say "hi" now' },
    { name: 'only a quote', value: '"' },
    { name: 'a value in quotes', value: '"quoted"' },
    { name: 'a backslash', value: 'C:\\dir' },
    { name: 'a backslash and a space', value: 'C:\\my dir\\' },
    { name: 'a backslash before a quote', value: 'a\\"b' },
    { name: 'an escaped-looking quote', value: '\\" x' },
    { name: 'an equals sign', value: 'a=b' },
    { name: 'empty', value: '' },
  ])('gives back the value of a link when the form is resubmitted: $name', ({ value }) => {
    const params = new URLSearchParams([['attr.x', value], ['sd.order@1.note', value], ['service', 'not a field']]);
    const text = filters.fieldFiltersText(params);
    expect(filters.parseFieldFilters(text)).toEqual({ pairs: [['attr.x', value], ['sd.order@1.note', value]] });
  });

  it.each([
    { name: 'bare values', text: 'attr.user.id=u1  sd.order@1.currency=EUR', pairs: [['attr.user.id', 'u1'], ['sd.order@1.currency', 'EUR']] },
    { name: 'a quoted value', text: 'attr.note="two words"', pairs: [['attr.note', 'two words']] },
    { name: 'an escaped quote', text: 'attr.q="say \\"hi\\""', pairs: [['attr.q', 'say "hi"']] },
    { name: 'a quote inside a bare value', text: 'attr.q=a"b', pairs: [['attr.q', 'a"b']] },
    { name: 'a typed backslash is kept', text: 'attr.path="C:\\dir x"', pairs: [['attr.path', 'C:\\dir x']] },
  ])('reads what is typed: $name', ({ text, pairs }) => {
    expect(filters.parseFieldFilters(text)).toEqual({ pairs });
  });

  it('says which part it cannot read', () => {
    expect(filters.parseFieldFilters('attr.a=1 level=err').error).toMatch(/^cannot read "level=err"/);
  });
});
