import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseDuration } from './dispatch/duration.ts';
import { addUnitKeywords } from './unit-keywords.ts';

function validator(schema: object) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat('duration', (s: string) => Number.isFinite(parseDuration(s)));
  ajv.addFormat('bytes', () => true); // a format this ajv has no unit parser for
  addUnitKeywords(ajv, { duration: parseDuration });
  const validate = ajv.compile(schema);
  return (data: unknown) => (validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath}: ${e.message}`));
}

const retry = validator({
  type: 'object',
  properties: {
    list: {
      type: 'array',
      items: {
        type: 'object',
        unitOrder: [['first', 'max']],
        properties: { first: { type: 'string', format: 'duration', unitMinimum: '1ms' }, max: { type: 'string', format: 'duration', unitMinimum: '1s' } },
      },
    },
  },
});

describe('unit keywords', () => {
  it.each([
    { name: 'values in bounds and order', item: { first: '500ms', max: '30s' }, want: [] },
    { name: 'equal values', item: { first: '30s', max: '30s' }, want: [] },
    { name: 'a value under its minimum', item: { first: '0s', max: '30s' }, want: ['/list/0/first: must be at least 1ms'] },
    { name: 'a pair out of order, named on its lower key', item: { first: '1m', max: '30s' }, want: ['/list/0/first: must not be larger than max (30s)'] },
    { name: 'a pair whose upper key is under its minimum: reported once', item: { first: '1m', max: '0s' }, want: ['/list/0/max: must be at least 1s'] },
    { name: 'a malformed value: left to its format', item: { first: 'soon', max: '30s' }, want: ['/list/0/first: must match format "duration"'] },
  ])('$name', ({ item, want }) => {
    expect(retry({ list: [item] })).toEqual(want);
  });

  it('a keyword on a key of a format without a parser is a schema mistake, thrown at compile time', () => {
    expect(() => validator({ type: 'string', format: 'bytes', unitMinimum: '1KiB' })).toThrow(/unitMinimum on a key of format bytes/);
    expect(() => validator({ type: 'string', format: 'duration', unitMinimum: 'soon' })).toThrow(/not a valid duration/);
    expect(() => validator({ type: 'object', unitOrder: [['a', 'b']], properties: { a: { type: 'string', format: 'duration' }, b: { type: 'integer' } } })).toThrow(/not of one format/);
  });
});
