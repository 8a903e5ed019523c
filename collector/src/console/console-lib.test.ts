// Pure logic of the console's browser modules (static/lib), run in Node. They are plain
// JavaScript without types, so each is imported dynamically and given the type it is used with.
import { describe, expect, it } from 'vitest';
import { ERR, PeriscopeError } from '../errors.ts';
import { parseLogFilter, parseTimeBound } from '../store/log-filter.ts';
import { LEVEL_ALIASES } from '../../../sdk/src/record.ts';

const lib = (file: string) => import(new URL(`./static/lib/${file}`, import.meta.url).href);
const format: {
  severityNumber(value: string | null): number | undefined;
  formatInterval(ms: number): string;
  axisLabels(fromMs: number, toMs: number): [string, string];
} = await lib('format.js');
type Parsed = { pairs: Array<[string, string]>; error?: undefined } | { error: string; pairs?: undefined };
const filters: { parseFieldFilters(text: string): Parsed; fieldFiltersText(params: URLSearchParams): string } = await lib('filters.js');
interface SearchParams { errors: string[]; range: string; startMs?: number; endMs?: number; limit: string; cursor: string; page: number; api: URLSearchParams }
const spanTree: { orderSpans(spans: object[]): Array<{ span: { spanId: string }; depth: number }> } = await lib('span-tree.js');
const params: {
  readSearchParams(params: URLSearchParams, nowMs: number): SearchParams;
  readTailParams(params: URLSearchParams): { errors: string[]; api: URLSearchParams };
  parseTimeParam(text: string): number;
} = await lib('params.js');

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
  // every name the API knows (the browser module keeps a copy of the table), and more
  const names = [
    ...Object.keys(LEVEL_ALIASES), 'WARN', 'Error',
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

describe('search page links', () => {
  const NOW = Date.parse('2026-05-01T12:00:00Z');
  const read = (hash: string) => params.readSearchParams(new URLSearchParams(hash), NOW);
  const HOUR = 3_600_000;
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

  // Links the console and the notifications write keep working.
  it.each([
    { name: 'no parameters: the last hour', hash: '', range: '1h', api: `start=${NOW - HOUR}&end=${NOW}` },
    { name: 'the form', hash: 'service=api&severity=err&q=payment+failed&range=15m&limit=100', range: '15m', limit: '100', api: `service=api&severity=err&q=payment+failed&start=${NOW - 15 * 60_000}&end=${NOW}` },
    { name: 'a severity alias', hash: 'severity=warn&range=all', range: 'all', api: 'severity=warn' },
    { name: 'fields', hash: 'attr.user.id=u1&sd.order%401.currency=EUR&range=all', range: 'all', api: 'attr.user.id=u1&sd.order%401.currency=EUR' },
    { name: 'the trace page\'s link', hash: `traceId=${TRACE}&range=all`, range: 'all', api: `traceId=${TRACE}` },
    { name: 'a notification\'s Logs link (start and end, no range)', hash: 'service=api&start=2026-05-01T10%3A00%3A00.000Z&end=2026-05-01T11%3A00%3A00.000Z', range: 'custom', api: `service=api&start=${NOW - 2 * HOUR}&end=${NOW - HOUR}` },
    { name: 'a custom range with an offset and microseconds', hash: 'range=custom&start=2026-05-01T12:00:00.123456%2B02:00', range: 'custom', api: `start=${NOW - 2 * HOUR + 123}` },
    { name: 'a custom range in epoch milliseconds', hash: `range=custom&end=${NOW}`, range: 'custom', api: `end=${NOW}` },
    { name: 'a histogram bar (custom, both ends)', hash: 'range=custom&start=2026-05-01T11:00:00.000Z&end=2026-05-01T11:01:00.000Z', range: 'custom', api: `start=${NOW - HOUR}&end=${NOW - HOUR + 60_000}` },
    { name: 'a later page: the relative range pinned by now', hash: `range=1h&limit=50&now=${NOW - HOUR}&page=3&cursor=abc`, range: '1h', page: 3, cursor: 'abc', api: `start=${NOW - 2 * HOUR}&end=${NOW - HOUR}` },
    { name: 'a page number without a cursor is the first page', hash: 'range=1h&page=3', range: '1h', page: 1, api: `start=${NOW - HOUR}&end=${NOW}` },
    { name: 'empty values are no filter', hash: 'service=&q=&severity=&range=all', range: 'all', api: '' },
  ])('$name', ({ hash, range, api, limit = '50', page = 1, cursor = '' }) => {
    const got = read(hash);
    expect(got.errors).toEqual([]);
    expect({ range: got.range, api: got.api.toString(), limit: got.limit, page: got.page, cursor: got.cursor }).toEqual({ range, api, limit, page, cursor });
  });

  // A link that cannot be read gives errors naming the problem: nothing is searched.
  it.each([
    { name: 'level is not a filter', hash: 'range=all&level=error', error: /^level: unknown parameter \(did you mean severity\?\); this page takes service, severity, q, traceId, attr.<key>, sd.<sdid>.<param>, range, start/ },
    { name: 'an unknown range', hash: 'range=bogus&service=billing', error: /^range=bogus: expected 15m, 1h, 6h, 24h, 7d, all or custom$/ },
    { name: 'a custom start that is no time', hash: 'range=custom&start=garbage', error: /^start=garbage: expected RFC 3339/ },
    { name: 'an end that is no time', hash: 'end=tomorrow', error: /^end=tomorrow: expected RFC 3339/ },
    { name: 'a date that does not exist', hash: 'start=2026-02-31T00:00:00Z', error: /^start=2026-02-31T00:00:00Z: expected/ },
    { name: 'a date without a time zone', hash: 'start=2026-05-01T10:00:00', error: /^start=2026-05-01T10:00:00: expected/ },
    { name: 'a custom range without ends', hash: 'range=custom', error: /^range=custom: give start, end or both$/ },
    { name: 'start after end', hash: 'start=2026-05-01T11:00:00Z&end=2026-05-01T10:00:00Z', error: /is not before end/ },
    { name: 'start with a relative range', hash: 'range=1h&start=2026-05-01T10:00:00Z', error: /^start=2026-05-01T10:00:00Z: only with range=custom/ },
    { name: 'end with all time', hash: 'range=all&end=2026-05-01T10:00:00Z', error: /^end=.*: only with range=custom \(range=all is all time\)/ },
    { name: 'now that is no time', hash: 'range=1h&now=yesterday', error: /^now=yesterday: expected epoch milliseconds$/ },
    { name: 'now with all time', hash: 'range=all&now=1', error: /^now=1: only with a relative range/ },
    { name: 'a page size the page does not offer', hash: 'limit=7', error: /^limit=7: expected 50, 100, 200 or 500$/ },
    { name: 'a page that is no number', hash: 'page=two&cursor=c', error: /^page=two: expected a page number$/ },
    { name: 'a bad severity', hash: 'severity=loud', error: /^severity=loud: expected 0-7 or a level name/ },
    { name: 'severity 8', hash: 'severity=8', error: /^severity=8:/ },
    { name: 'a bad trace id', hash: 'traceId=abc', error: /^traceId=abc: expected 32 hex characters$/ },
    { name: 'an sd key without a parameter', hash: 'sd.order=1', error: /^sd.order: expected sd.<sdid>.<param>$/ },
    { name: 'an attr key without a name', hash: 'attr.=1', error: /^attr.: expected attr.<key>$/ },
    { name: 'a filter given twice', hash: 'service=a&service=b', error: /^service: given more than once$/ },
    { name: 'Grafana\'s from', hash: 'from=now-1h', error: /^from: unknown parameter \(did you mean start\?\)/ },
    { name: 'an unknown key with an empty value', hash: 'bogus=', error: /^bogus: unknown parameter; / },
  ])('$name', ({ hash, error }) => {
    expect(read(hash).errors).toEqual([expect.stringMatching(error)]);
  });

  it('names every problem of a link', () => {
    expect(read('level=error&range=custom&start=garbage&limit=7').errors).toHaveLength(3);
  });
});

describe('live tail links', () => {
  it('takes the filters', () => {
    const got = params.readTailParams(new URLSearchParams('service=api&severity=warn&q=&attr.user.id=u1'));
    expect(got).toEqual({ errors: [], api: new URLSearchParams('service=api&severity=warn&attr.user.id=u1') });
  });

  it.each([
    { name: 'level is not a filter', hash: 'level=error', error: /^level: unknown parameter \(did you mean severity\?\); this page takes service, severity, q, traceId, attr.<key>, sd.<sdid>.<param>$/ },
    { name: 'the search page\'s keys are not the tail\'s', hash: 'range=1h', error: /^range: unknown parameter; / },
    { name: 'nor is a time window (records come as they are committed)', hash: 'start=2026-05-01T10:00:00Z', error: /^start: unknown parameter; / },
    { name: 'a bad severity', hash: 'severity=loud', error: /^severity=loud:/ },
  ])('$name', ({ hash, error }) => {
    expect(params.readTailParams(new URLSearchParams(hash)).errors).toEqual([expect.stringMatching(error)]);
  });
});

describe('parseTimeParam reads start and end as the API does', () => {
  it.each([
    { text: '2026-05-01T10:00:00Z', ms: Date.UTC(2026, 4, 1, 10) },
    { text: '2026-05-01 10:00:00z', ms: Date.UTC(2026, 4, 1, 10) },
    { text: '2026-05-01T10:00:00.987654321-01:30', ms: Date.UTC(2026, 4, 1, 11, 30) + 987 },
    { text: '2024-02-29T00:00:00Z', ms: Date.UTC(2024, 1, 29) },
    { text: '1777629600000', ms: 1777629600000 },
    { text: '1777629600', ms: 1777629600000 }, // Grafana's and `date +%s`'s seconds
    { text: '1777629600.25', ms: 1777629600250 },
    { text: '1777629600000123', ms: 1777629600000 }, // microseconds
    { text: '1777629600000123456', ms: 1777629600000 }, // nanoseconds
    { text: '12345678901234567890', ms: NaN },
    { text: '2025-02-29T00:00:00Z', ms: NaN },
    { text: '2026-13-01T00:00:00Z', ms: NaN },
    { text: '2026-05-01', ms: NaN },
    { text: 'Fri, 01 May 2026 10:00:00 GMT', ms: NaN },
    { text: '-1', ms: NaN },
  ])('$text', ({ text, ms }) => {
    expect(params.parseTimeParam(text)).toBe(ms);
    // the API's reading of the same text, to the millisecond
    let api = Number.NaN;
    try {
      api = Math.floor(parseTimeBound(text, 'start') / 1000);
    } catch {
      // a 400: NaN
    }
    expect(api).toBe(ms);
  });
});

describe('histogram captions', () => {
  it.each([
    { ms: 129_600_000, text: '36 h' }, // a merged bucket of range "all"
    { ms: 3_600_000, text: '1 h' },
    { ms: 172_800_000, text: '2 d' },
    { ms: 900_000, text: '15 min' },
    { ms: 5_400_000, text: '90 min' },
    { ms: 30_000, text: '30 s' },
    { ms: 1500, text: '1500 ms' },
  ])('an interval of $ms ms is "$text"', ({ ms, text }) => {
    expect(format.formatInterval(ms)).toBe(text);
  });

  // Local times: the page shows the browser's time zone.
  const at = (day: number, hour: number, minute = 0) => new Date(2026, 4, day, hour, minute).getTime();
  it.each([
    { name: 'within a day: times', from: at(1, 10), to: at(1, 16, 30), labels: ['10:00:00', '16:30:00'] },
    { name: 'across midnight: dates', from: at(1, 22), to: at(2, 2), labels: ['2026-05-01 22:00', '2026-05-02 02:00'] },
    { name: 'more than a day: dates', from: at(1, 10), to: at(12, 10), labels: ['2026-05-01 10:00', '2026-05-12 10:00'] },
  ])('axis labels $name', ({ from, to, labels }) => {
    expect(format.axisLabels(from, to)).toEqual(labels);
  });
});

describe('orderSpans (the trace waterfall)', () => {
  const span = (spanId: string, parentSpanId: string, startMs: number) => ({ spanId, parentSpanId, startTime: new Date(startMs).toISOString() });

  it('lists depth-first from the roots, siblings by start time, orphans as roots', () => {
    const order = spanTree.orderSpans([
      span('c2', 'r', 30), span('r', '', 0), span('c1', 'r', 10), span('g', 'c1', 20), span('orphan', 'missing', 5),
    ]);
    expect(order.map((o) => `${o.span.spanId}:${o.depth}`)).toEqual(['r:0', 'c1:1', 'g:2', 'c2:1', 'orphan:0']);
  });

  it('a chain 20 000 spans deep (past what recursion survives) is ordered root to leaf', () => {
    const chain = Array.from({ length: 20_000 }, (_, i) => span(`s${i}`, i === 0 ? '' : `s${i - 1}`, i)).reverse();
    const order = spanTree.orderSpans(chain);
    expect(order).toHaveLength(20_000);
    expect(order[0]).toEqual({ span: chain.at(-1), depth: 0 });
    expect(order.at(-1)).toEqual({ span: chain[0], depth: 19_999 });
  });

  it('lists each span once when parent links loop, the loop after the rooted spans', () => {
    const order = spanTree.orderSpans([span('b', 'a', 1), span('a', 'b', 0), span('root', '', 2)]);
    expect(order.map((o) => `${o.span.spanId}:${o.depth}`)).toEqual(['root:0', 'a:0', 'b:1']);
  });
});
