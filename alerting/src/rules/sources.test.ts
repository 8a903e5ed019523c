import { describe, expect, it } from 'vitest';
import { bucketIncrease } from './aggregate.ts';
import { parseSelector } from './matchers.ts';
import { InMemoryMetricSource } from './sources.ts';

const T = 1_000_000;

describe('selectors', () => {
  it.each([
    { name: 'name only', text: 'up', want: { name: 'up', matchers: [] } },
    { name: 'dotted OTel name and all operators', text: 'http.server.duration{a="1", b!="2", c=~"x|y", d!~\'z.*\'}', want: { name: 'http.server.duration', matchers: [{ name: 'a', op: '=', value: '1' }, { name: 'b', op: '!=', value: '2' }, { name: 'c', op: '=~', value: 'x|y' }, { name: 'd', op: '!~', value: 'z.*' }] } },
    { name: 'escaped quote', text: 'm{a="say \\"hi\\""}', want: { name: 'm', matchers: [{ name: 'a', op: '=', value: 'say "hi"' }] } },
    { name: 'trailing comma', text: 'm{a="1",}', want: { name: 'm', matchers: [{ name: 'a', op: '=', value: '1' }] } },
  ])('parses $name', ({ text, want }) => {
    expect(parseSelector(text)).toEqual(want);
  });

  it.each([
    { name: 'no name', text: '{a="1"}' },
    { name: 'unquoted value', text: 'm{a=1}' },
    { name: 'unterminated', text: 'm{a="1}' },
    { name: 'junk after', text: 'm{a="1"} or x' },
    { name: 'bad regex', text: 'm{a=~"["}' },
  ])('rejects $name', ({ text }) => {
    expect(() => parseSelector(text)).toThrow();
  });
});

describe('InMemoryMetricSource', () => {
  it.each([
    { name: 'equality', matchers: 'm{env="prod"}', want: ['a', 'c'] },
    { name: 'regex is anchored', matchers: 'm{host=~"a"}', want: ['a'] },
    { name: 'missing label matches ""', matchers: 'm{env=""}', want: ['ab', 'b'] },
    { name: 'label present', matchers: 'm{env!=""}', want: ['a', 'c'] },
    { name: 'negative regex is anchored too', matchers: 'm{host!~"a|b"}', want: ['ab', 'c'] },
  ])('selects with $name', ({ matchers, want }) => {
    const m = new InMemoryMetricSource();
    m.add('m', { host: 'a', env: 'prod' }, T, 1);
    m.add('m', { host: 'ab' }, T, 1);
    m.add('m', { host: 'b' }, T - 1, 1);
    m.add('m', { host: 'c', env: 'prod' }, T, 1);
    const sel = parseSelector(matchers);
    expect(m.select('m', sel.matchers, 60_000, T).map((s) => s.labels.host).sort()).toEqual(want);
  });

  it('returns the samples inside [now - window, now], in time order, including out-of-order and replaced ones', () => {
    const m = new InMemoryMetricSource();
    for (const [t, v] of [[T, 1], [T + 20, 3], [T + 10, 2], [T + 20, 4], [T + 30, 5]]) m.add('m', {}, t, v);
    expect(m.select('m', [], 20, T + 25)[0].samples).toEqual([{ t: T + 10, v: 2 }, { t: T + 20, v: 4 }]);
  });

  it('forgets samples older than the retention (on append, and for all series on prune)', () => {
    const m = new InMemoryMetricSource({ retentionMs: 100 });
    m.add('m', { s: 'old' }, T, 1);
    m.add('m', { s: 'new' }, T, 1);
    m.add('m', { s: 'new' }, T + 500, 2);
    // per series on append: "new" dropped its sample at T; "old" got no sample since
    expect(m.select('m', [], 10_000, T + 500).map((s) => [s.labels.s, s.samples.length])).toEqual([['old', 1], ['new', 1]]);
    // prune(now) applies the retention to every series and forgets empty ones
    m.prune(T + 500);
    expect(m.seriesCount()).toBe(1);
    expect(m.select('m', [], 10_000, T + 500).map((s) => [s.labels.s, s.samples.length])).toEqual([['new', 1]]);
  });

  it('sees series created after a selector was cached', () => {
    const m = new InMemoryMetricSource();
    m.add('m', { host: 'a' }, T, 1);
    expect(m.select('m', [{ name: 'host', op: '=~', value: '.*' }], 1000, T)).toHaveLength(1);
    m.add('m', { host: 'b' }, T, 1);
    expect(m.select('m', [{ name: 'host', op: '=~', value: '.*' }], 1000, T)).toHaveLength(2);
  });

  it('counts histogram resets so windows without one skip the scan, and the hint matches a full scan', () => {
    const m = new InMemoryMetricSource();
    const le = [1, 2];
    m.addHistogram('h', {}, T, le, [5, 5, 0]);
    m.addHistogram('h', {}, T + 10, le, [6, 7, 0]);
    m.addHistogram('h', {}, T + 20, le, [1, 0, 0]); // reset
    m.addHistogram('h', {}, T + 40, le, [3, 2, 1]);
    m.addHistogram('h', {}, T + 30, le, [2, 1, 0]); // out of order, between
    const snaps = m.select('h', [], 1000, T + 40)[0].buckets!;
    expect(snaps.map((s) => s.resets)).toEqual([0, 0, 1, 1, 1]);
    const hinted = bucketIncrease(snaps)!.counts;
    const scanned = bucketIncrease(snaps.map(({ resets: _r, ...s }) => s))!.counts;
    expect(hinted).toEqual(scanned);
    expect(hinted).toEqual([1 + 1 + 1 + 1, 2 + 0 + 1 + 1, 1]);
    // A window after the reset: same hint at both ends → last − first.
    expect(bucketIncrease(snaps.slice(2))!.counts).toEqual([2, 2, 1]);
  });

  it('trusts the resets hint (a source that says "no reset" gets last − first)', () => {
    const le = [1];
    const snaps = [
      { t: 0, le, counts: [10, 0], resets: 3 },
      { t: 1, le, counts: [2, 0], resets: 3 },
      { t: 2, le, counts: [12, 0], resets: 3 },
    ];
    expect(bucketIncrease(snaps)!.counts).toEqual([2, 0]);
    expect(bucketIncrease(snaps.map(({ resets: _r, ...s }) => s))!.counts).toEqual([12, 0]);
  });
});
