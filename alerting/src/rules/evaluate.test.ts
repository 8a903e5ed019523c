import { describe, expect, it } from 'vitest';
import { evaluateRule, judge, type EvalResult } from './evaluate.ts';
import type { PrometheusClient } from './prometheus.ts';
import { compileRule, type Rule } from './schema.ts';
import { InMemoryLogCountSource, InMemoryMetricSource } from './sources.ts';

const NOW = Date.UTC(2025, 0, 1, 12);
const defaults = { defaultIntervalMs: 15_000, flapping: { enabled: true, window: 21, high: 20, low: 5 } };

function rule(raw: Record<string, unknown>): Rule {
  const { rule, problems } = compileRule(raw, { defaults, source: 'test' });
  if (!rule) throw new Error(JSON.stringify(problems));
  return rule;
}

function values(r: EvalResult): Array<[string, number, string]> {
  if (r.kind !== 'data') throw new Error(`expected data, got ${JSON.stringify(r)}`);
  return r.instances.map((i) => [JSON.stringify(i.labels), Math.round(i.value * 1e6) / 1e6, i.cond] as [string, number, string]).sort();
}

describe('judge (comparison + hysteresis)', () => {
  it.each([
    { name: '> fires above', c: { op: '>' as const, threshold: 90, clear: 80 }, v: 91, want: 'breach' },
    { name: '> holds between clear and threshold', c: { op: '>' as const, threshold: 90, clear: 80 }, v: 85, want: 'hold' },
    { name: '> holds at exactly the clear threshold', c: { op: '>' as const, threshold: 90, clear: 80 }, v: 80, want: 'hold' },
    { name: '> clears below', c: { op: '>' as const, threshold: 90, clear: 80 }, v: 79.9, want: 'ok' },
    { name: '> without clear threshold is ok at once', c: { op: '>' as const, threshold: 90 }, v: 85, want: 'ok' },
    { name: '< fires below, clears above', c: { op: '<' as const, threshold: 10, clear: 20 }, v: 25, want: 'ok' },
    { name: '< holds in the band', c: { op: '<' as const, threshold: 10, clear: 20 }, v: 15, want: 'hold' },
    { name: '>= at the threshold', c: { op: '>=' as const, threshold: 90 }, v: 90, want: 'breach' },
    { name: '== exact', c: { op: '==' as const, threshold: 0 }, v: 0, want: 'breach' },
    { name: '!=', c: { op: '!=' as const, threshold: 1 }, v: 1, want: 'ok' },
  ])('$name', ({ c, v, want }) => {
    expect(judge(c, v)).toBe(want);
  });
});

describe('metric rules', () => {
  function source() {
    const m = new InMemoryMetricSource();
    for (let i = 0; i <= 20; i++) {
      const t = NOW - 300_000 + i * 15_000;
      m.add('cpu', { host: 'web-1', region: 'eu', core: '0' }, t, 50 + i, 'gauge');
      m.add('cpu', { host: 'web-1', region: 'eu', core: '1' }, t, 60 + i, 'gauge');
      m.add('cpu', { host: 'web-2', region: 'us', core: '0' }, t, 95, 'gauge');
      m.add('cpu', { host: 'db-1', region: 'eu', core: '0' }, t, 99, 'gauge');
      // a counter with a reset at i = 10
      m.add('requests_total', { host: 'web-1' }, t, i < 10 ? 1000 + i * 30 : (i - 10) * 30, 'counter');
      m.add('requests_total', { host: 'web-2' }, t, i * 60, 'counter');
    }
    return m;
  }
  const base = { name: 'R', kind: 'metric', window: '5m', threshold: 90 };

  it.each([
    { name: 'last, no groupBy: one instance, series averaged', raw: { selector: 'cpu{host=~"web.*"}', aggregation: 'last' }, want: [['{}', (70 + 80 + 95) / 3, 'ok']] },
    { name: 'last grouped by host, avg over cores', raw: { selector: 'cpu{host=~"web.*"}', aggregation: 'last', groupBy: ['host'] }, want: [['{"host":"web-1"}', 75, 'ok'], ['{"host":"web-2"}', 95, 'breach']] },
    { name: 'max combine over cores', raw: { selector: 'cpu{host="web-1"}', aggregation: 'last', combine: 'max' }, want: [['{}', 80, 'ok']] },
    { name: 'min over the window', raw: { selector: 'cpu{host="web-1", core="0"}', aggregation: 'min' }, want: [['{}', 50, 'ok']] },
    { name: 'max over the window', raw: { selector: 'cpu{host="web-1", core="0"}', aggregation: 'max' }, want: [['{}', 70, 'ok']] },
    { name: 'avg over the window', raw: { selector: 'cpu{host="web-1", core="0"}', aggregation: 'avg' }, want: [['{}', 60, 'ok']] },
    { name: '!= and !~ matchers', raw: { selector: 'cpu{region!="us", host!~"web.*"}', aggregation: 'last' }, want: [['{}', 99, 'breach']] },
    { name: 'group by region', raw: { selector: 'cpu{core="0"}', aggregation: 'last', groupBy: ['region'], combine: 'max' }, want: [['{"region":"eu"}', 99, 'breach'], ['{"region":"us"}', 95, 'breach']] },
    { name: 'rate with a counter reset, summed per rule', raw: { selector: 'requests_total', aggregation: 'rate', threshold: 3 }, want: [['{}', (9 * 30 + 0 + 10 * 30) / 300 + 4, 'breach']] },
    { name: 'increase per host with a reset', raw: { selector: 'requests_total', aggregation: 'increase', groupBy: ['host'], threshold: 1000 }, want: [['{"host":"web-1"}', 570, 'ok'], ['{"host":"web-2"}', 1200, 'breach']] },
  ])('$name', async ({ raw, want }) => {
    const r = await evaluateRule(rule({ ...base, ...raw }), { metrics: source() }, NOW);
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    expect(values(r)).toEqual(want.map(([l, v, c]) => [l, round(v as number), c]).sort());
  });

  it('returns data with no instances when nothing matches (the engine makes it nodata)', async () => {
    const r = await evaluateRule(rule({ ...base, selector: 'cpu{host="nope"}', aggregation: 'last' }), { metrics: source() }, NOW);
    expect(r).toEqual({ kind: 'data', instances: [], missing: 'nodata' });
  });

  it('percentiles merge the bucket increases of a group', async () => {
    const m = new InMemoryMetricSource();
    const le = [0.1, 0.5, 1, 5];
    // Two pods; over the window pod a adds 10/40/40/10 observations, pod b adds 0/0/0/100 (slow).
    m.addHistogram('latency', { pod: 'a', svc: 'x' }, NOW - 60_000, le, [100, 100, 100, 100, 0]);
    m.addHistogram('latency', { pod: 'a', svc: 'x' }, NOW, le, [110, 140, 140, 110, 0]);
    m.addHistogram('latency', { pod: 'b', svc: 'y' }, NOW - 60_000, le, [0, 0, 0, 5, 0]);
    m.addHistogram('latency', { pod: 'b', svc: 'y' }, NOW, le, [0, 0, 0, 105, 0]);
    const bySvc = await evaluateRule(rule({ ...base, selector: 'latency', aggregation: 'p50', groupBy: ['svc'], threshold: 1 }), { metrics: m }, NOW);
    expect(values(bySvc)).toEqual([['{"svc":"x"}', 0.5, 'ok'], ['{"svc":"y"}', 3, 'breach']]);
    const merged = await evaluateRule(rule({ ...base, selector: 'latency', aggregation: 'p90', threshold: 1 }), { metrics: m }, NOW);
    // 200 observations: rank 180 → (1, 5] holds 110; 180 - 90 = 90 of 110
    expect(values(merged)).toEqual([['{}', Math.round((1 + 4 * (90 / 110)) * 1e6) / 1e6, 'breach']]);
  });

  it('merges a group whose series have different bucket layouts on the bounds they share (a rolling deploy)', async () => {
    const m = new InMemoryMetricSource();
    // old pods: le 0.1, 0.5, 1, 5; a new pod also has 0.25 and 2.5. 100 observations each in the window.
    m.addHistogram('latency', { pod: 'old', svc: 'x' }, NOW - 60_000, [0.1, 0.5, 1, 5], [0, 0, 0, 0, 0]);
    m.addHistogram('latency', { pod: 'old', svc: 'x' }, NOW, [0.1, 0.5, 1, 5], [10, 40, 40, 10, 0]);
    m.addHistogram('latency', { pod: 'new', svc: 'x' }, NOW - 60_000, [0.1, 0.25, 0.5, 1, 2.5, 5], [0, 0, 0, 0, 0, 0, 0]);
    m.addHistogram('latency', { pod: 'new', svc: 'x' }, NOW, [0.1, 0.25, 0.5, 1, 2.5, 5], [10, 20, 20, 40, 5, 5, 0]);
    m.addHistogram('latency', { pod: 'z', svc: 'y' }, NOW - 60_000, [1], [0, 0]);
    m.addHistogram('latency', { pod: 'z', svc: 'y' }, NOW, [1], [10, 0]);
    const r = await evaluateRule(rule({ ...base, selector: 'latency', aggregation: 'p90', groupBy: ['svc'], threshold: 1 }), { metrics: m }, NOW);
    // svc x on le 0.1, 0.5, 1, 5: 20/80/80/20 of 200 → rank 180 is the last of the 80 in (0.5, 1] → 1
    expect(values(r)).toEqual([['{"svc":"x"}', 1, 'ok'], ['{"svc":"y"}', 0.9, 'ok']]);
  });

  it('fails (error, not nodata) when the series of a group share no bucket bound', async () => {
    const m = new InMemoryMetricSource();
    m.addHistogram('latency', { pod: 'a' }, NOW - 60_000, [1], [1, 1]);
    m.addHistogram('latency', { pod: 'a' }, NOW, [1], [2, 2]);
    m.addHistogram('latency', { pod: 'b' }, NOW - 60_000, [2], [1, 1]);
    m.addHistogram('latency', { pod: 'b' }, NOW, [2], [2, 2]);
    const r = await evaluateRule(rule({ ...base, selector: 'latency', aggregation: 'p99' }), { metrics: m }, NOW);
    expect(r.kind).toBe('error');
  });

  it('a throwing source is an error result', async () => {
    const r = await evaluateRule(rule({ ...base, selector: 'cpu', aggregation: 'last' }), { metrics: { select: () => { throw new Error('store closed'); } } }, NOW);
    expect(r).toEqual({ kind: 'error', error: 'store closed' });
  });
});

describe('log rules', () => {
  function logs() {
    const l = new InMemoryLogCountSource();
    // reference hour before the window: 12 errors (1 per 5 min); window (last 5 min): per case
    for (let i = 0; i < 12; i++) l.add(NOW - 300_000 - (i + 1) * 300_000 + 1000, { service: 'checkout', severity: 'error' });
    return l;
  }

  it.each([
    { name: 'frequency: more than N fires', mode: 'frequency', inWindow: 6, extra: { threshold: 5 }, want: [6, 'breach'] },
    { name: 'frequency: N or fewer is ok', mode: 'frequency', inWindow: 5, extra: { threshold: 5 }, want: [5, 'ok'] },
    { name: 'absence: none fires (default < 1)', mode: 'absence', inWindow: 0, extra: {}, want: [0, 'breach'] },
    { name: 'absence: one record is ok', mode: 'absence', inWindow: 1, extra: {}, want: [1, 'ok'] },
    { name: 'flatline: fewer than 3 fires', mode: 'absence', inWindow: 2, extra: { threshold: 3 }, want: [2, 'breach'] },
    { name: 'spike: 5× the reference rate fires at 3', mode: 'spike', inWindow: 5, extra: { referenceWindow: '1h', threshold: 3 }, want: [5, 'breach'] },
    { name: 'spike: 2× does not', mode: 'spike', inWindow: 2, extra: { referenceWindow: '1h', threshold: 3 }, want: [2, 'ok'] },
    { name: 'spike: below minCount never fires', mode: 'spike', inWindow: 5, extra: { referenceWindow: '1h', threshold: 3, minCount: 10 }, want: [5, 'ok'] },
  ])('$name', async ({ mode, inWindow, extra, want }) => {
    const l = logs();
    l.add(NOW - 1000, { service: 'checkout', severity: 'error' }, inWindow);
    l.add(NOW - 1000, { service: 'other', severity: 'error' }, 50); // not matched by the filter
    const r = await evaluateRule(rule({ name: 'L', kind: 'log', mode, filter: { service: 'checkout' }, window: '5m', ...extra }), { logs: l }, NOW);
    expect(r.kind).toBe('data');
    if (r.kind === 'data') expect([r.instances[0].value, r.instances[0].cond]).toEqual(want);
  });

  it('spike from a silent reference counts the reference as one record', async () => {
    const l = new InMemoryLogCountSource();
    l.add(NOW - 1000, {}, 2);
    const r = await evaluateRule(rule({ name: 'L', kind: 'log', mode: 'spike', filter: {}, window: '5m', referenceWindow: '1h', threshold: 3 }), { logs: l }, NOW);
    expect(r.kind === 'data' && r.instances[0].value).toBe(24); // (2 / 5 min) / (1 / 60 min)
  });

  it('a failing log store is an error result', async () => {
    const l = new InMemoryLogCountSource();
    l.failWith = new Error('database is locked');
    const r = await evaluateRule(rule({ name: 'L', kind: 'log', filter: {}, threshold: 1 }), { logs: l }, NOW);
    expect(r).toEqual({ kind: 'error', error: 'database is locked' });
  });
});

describe('promql rules (fake client; the real server is in promql.test.ts)', () => {
  const client = (series: Array<{ labels: Record<string, string>; value: number }>): PrometheusClient => ({ query: async () => series });

  it.each([
    { name: 'filter mode: every series breaches, absence is ok', raw: { expr: 'up == 0' }, series: [{ labels: { job: 'a' }, value: 0 }], want: { conds: ['breach'], missing: 'ok' } },
    { name: 'threshold mode: compared, absence is nodata', raw: { expr: 'x', threshold: 5, clearThreshold: 3 }, series: [{ labels: { i: '1' }, value: 6 }, { labels: { i: '2' }, value: 4 }, { labels: { i: '3' }, value: 2 }], want: { conds: ['breach', 'hold', 'ok'], missing: 'nodata' } },
    { name: 'NaN samples are skipped', raw: { expr: 'x', threshold: 5 }, series: [{ labels: {}, value: Number.NaN }], want: { conds: [], missing: 'nodata' } },
  ])('$name', async ({ raw, series, want }) => {
    const r = await evaluateRule(rule({ name: 'P', kind: 'promql', ...raw }), { prometheus: client(series) }, NOW);
    expect(r.kind === 'data' && { conds: r.instances.map((i) => i.cond), missing: r.missing }).toEqual(want);
  });

  it('no Prometheus configured is an error, not an empty result', async () => {
    const r = await evaluateRule(rule({ name: 'P', kind: 'promql', expr: 'up' }), {}, NOW);
    expect(r.kind).toBe('error');
  });
});

describe('group cache', () => {
  it('gives the same groups when the source hands out new label objects at every select', async () => {
    const m = new InMemoryMetricSource();
    for (let j = 0; j < 50; j++) m.add('cpu', { host: `h${j % 5}`, core: String(j) }, NOW, j);
    const fresh = { select: (...a: Parameters<InMemoryMetricSource['select']>) => m.select(...a).map((s) => ({ ...s, labels: { ...s.labels } })) };
    const r = rule({ name: 'R', kind: 'metric', selector: 'cpu', aggregation: 'last', window: '1m', groupBy: ['host'], combine: 'sum', threshold: 1 });
    const want = values(await evaluateRule(r, { metrics: m }, NOW));
    for (let i = 0; i < 5; i++) expect(values(await evaluateRule(r, { metrics: fresh }, NOW))).toEqual(want);
    expect(want).toHaveLength(5);
  });
});
