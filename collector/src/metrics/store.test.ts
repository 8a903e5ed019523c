import { describe, expect, it } from 'vitest';
import { which } from '../../../test/deploy/helpers.ts';
import { promtoolCheckMetrics } from '../../../test/helpers/promtool.ts';
import { PeriscopeError } from '../errors.ts';
import { MetricStore, type MetricPoint, type MetricStoreOptions, type RemoteWriteBatch } from './store.ts';

const T0 = Date.UTC(2030, 0, 1);

function harness(options: Partial<MetricStoreOptions> = {}) {
  const clock = { now: T0 };
  const store = new MetricStore({
    maxSeries: 100,
    staleAfterMs: 5 * 60_000,
    sampleWindowMs: 3_600_000,
    sampleResolutionMs: 15_000,
    onSeriesLimit: 'drop',
    exponential: { maxScale: 2, maxBuckets: 64 },
    now: () => clock.now,
    ...options,
  });
  return { store, clock };
}

const JOB = { job: 'shop', instance: 'i-1' };

function counter(value: number, extra: Partial<MetricPoint> = {}): MetricPoint {
  return { name: 'orders_total', otelName: 'orders', help: 'Orders.', type: 'counter', labels: { ...JOB }, temporality: 'cumulative', timeNs: 1n, value, ...extra };
}

/** The value lines of one family (no HELP/TYPE). */
function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(name) && !l.startsWith('#'));
}

describe('temporality', () => {
  it('cumulative points replace the value; an older point is ignored and counted', () => {
    const { store } = harness();
    store.apply([counter(5, { timeNs: 10n }), counter(8, { timeNs: 20n }), counter(6, { timeNs: 15n })]);
    expect(lines(store.render(), 'orders_total')).toEqual(['orders_total{instance="i-1",job="shop"} 8']);
    expect(store.dropped.out_of_order).toBe(1);
  });

  it('delta points are accumulated into a cumulative value; a resent point (same time) is not added twice', () => {
    const { store } = harness();
    store.apply([counter(5, { temporality: 'delta', timeNs: 10n }), counter(3, { temporality: 'delta', timeNs: 20n })]);
    store.apply([counter(3, { temporality: 'delta', timeNs: 20n })]);
    expect(lines(store.render(), 'orders_total')).toEqual(['orders_total{instance="i-1",job="shop"} 8']);
    expect(store.dropped.out_of_order).toBe(1);
  });

  it('a delta up-down counter (gauge) accumulates, going down too', () => {
    const { store } = harness();
    const p = (v: number, t: bigint): MetricPoint => ({ name: 'queue', otelName: 'queue', help: 'q', type: 'gauge', labels: {}, temporality: 'delta', timeNs: t, value: v });
    store.apply([p(5, 1n), p(-2, 2n)]);
    expect(lines(store.render(), 'queue')).toEqual(['queue 3']);
  });

  it('gauges replace', () => {
    const { store } = harness();
    const g = (v: number, t: bigint): MetricPoint => ({ name: 'temp_celsius', otelName: 'temp', help: 't', type: 'gauge', labels: {}, temporality: 'cumulative', timeNs: t, value: v });
    store.apply([g(20, 1n), g(18.5, 2n)]);
    expect(lines(store.render(), 'temp_celsius')).toEqual(['temp_celsius 18.5']);
  });
});

describe('histograms', () => {
  const hist = (counts: number[], sum: number, extra: Partial<MetricPoint> = {}): MetricPoint => ({
    name: 'latency_seconds',
    otelName: 'latency',
    help: 'Latency.',
    type: 'histogram',
    labels: { route: '/a' },
    temporality: 'cumulative',
    timeNs: 1n,
    histogram: { bounds: [0.1, 0.5, 1], counts, count: counts.reduce((a, b) => a + b, 0), sum },
    ...extra,
  });

  it('explicit buckets render cumulative _bucket{le}, +Inf = count, _sum and _count', () => {
    const { store } = harness();
    store.apply([hist([1, 2, 3, 4], 12.5)]);
    expect(lines(store.render(), 'latency_seconds')).toEqual([
      'latency_seconds_bucket{route="/a",le="0.1"} 1',
      'latency_seconds_bucket{route="/a",le="0.5"} 3',
      'latency_seconds_bucket{route="/a",le="1"} 6',
      'latency_seconds_bucket{route="/a",le="+Inf"} 10',
      'latency_seconds_sum{route="/a"} 12.5',
      'latency_seconds_count{route="/a"} 10',
    ]);
  });

  it('delta histograms add bucket-wise; a new bucket layout restarts the accumulation', () => {
    const { store } = harness();
    store.apply([hist([1, 0, 0, 0], 0.05, { temporality: 'delta', timeNs: 1n }), hist([0, 1, 0, 1], 2.2, { temporality: 'delta', timeNs: 2n })]);
    expect(lines(store.render(), 'latency_seconds_count')).toEqual(['latency_seconds_count{route="/a"} 3']);
    expect(lines(store.render(), 'latency_seconds_sum')).toEqual(['latency_seconds_sum{route="/a"} 2.25']);
    store.apply([{ ...hist([0, 0], 1, { temporality: 'delta', timeNs: 3n }), histogram: { bounds: [5], counts: [2, 0], count: 2, sum: 1 } }]);
    expect(lines(store.render(), 'latency_seconds_bucket')).toEqual(['latency_seconds_bucket{route="/a",le="5"} 2', 'latency_seconds_bucket{route="/a",le="+Inf"} 2']);
    expect(store.dropped.bucket_layout_changed).toBe(1);
  });

  it('a histogram without sum renders no _sum line', () => {
    const { store } = harness();
    store.apply([{ ...hist([1, 0, 0, 0], 0), histogram: { bounds: [0.1, 0.5, 1], counts: [1, 0, 0, 0], count: 1, sum: undefined } }]);
    expect(lines(store.render(), 'latency_seconds_sum')).toEqual([]);
  });

  it('exponential histograms render classic buckets in the unit of the name', () => {
    const { store } = harness();
    store.apply([{
      name: 'rpc_duration_seconds', otelName: 'rpc.duration', help: 'RPC.', type: 'histogram', labels: {}, temporality: 'cumulative', timeNs: 1n,
      // scale 0 in ms: (1,2] ms ×1, (2,4] ms ×0, (4,8] ms ×2; one zero
      exponential: { scale: 0, zeroThreshold: 0, zeroCount: 1, negativeCount: 0, offset: 0, positive: [1, 0, 2], count: 4, sum: 13 },
      factor: 1e-3,
    }]);
    expect(lines(store.render(), 'rpc_duration_seconds')).toEqual([
      'rpc_duration_seconds_bucket{le="0"} 1',
      'rpc_duration_seconds_bucket{le="0.001"} 1', // the lowest bucket's lower edge
      'rpc_duration_seconds_bucket{le="0.002"} 2',
      'rpc_duration_seconds_bucket{le="0.004"} 2',
      'rpc_duration_seconds_bucket{le="0.008"} 4',
      'rpc_duration_seconds_bucket{le="+Inf"} 4',
      'rpc_duration_seconds_sum 0.013',
      'rpc_duration_seconds_count 4',
    ]);
  });
});

describe('series lifecycle and limits', () => {
  it('a series not updated for staleAfter disappears (its target_info too); a fresh one stays', () => {
    const { store, clock } = harness();
    store.apply([counter(1, { target: { ...JOB, host_name: 'h1' } })]);
    clock.now += 4 * 60_000;
    store.apply([counter(1, { labels: { ...JOB, route: '/b' } })]);
    expect(store.render()).toContain('target_info{host_name="h1",instance="i-1",job="shop"} 1');
    clock.now += 2 * 60_000; // first series and target_info: 6 min old; second: 2 min
    const text = store.render();
    expect(lines(text, 'orders_total')).toEqual(['orders_total{instance="i-1",job="shop",route="/b"} 1']);
    expect(text).not.toContain('target_info');
    expect(store.expired).toBe(2);
    expect(store.seriesCount).toBe(1);
  });

  it('FLAG_NO_RECORDED_VALUE removes the series at once', () => {
    const { store } = harness();
    store.apply([counter(3)]);
    store.apply([counter(0, { noRecordedValue: true, timeNs: 2n })]);
    expect(store.render()).toBe('');
  });

  it('drop mode: points of series beyond maxSeries are rejected and counted, existing series still update', () => {
    const { store } = harness({ maxSeries: 2 });
    const p = (route: string, v: number) => counter(v, { labels: { route }, timeNs: BigInt(v) });
    const first = store.apply([p('/a', 1), p('/b', 1), p('/c', 1)]);
    expect(first.rejected).toEqual([{ index: 2, code: 'PERISCOPE_ERR_METRICS_SERIES_LIMIT', message: expect.stringContaining('series limit of 2') }]);
    const second = store.apply([p('/a', 5), p('/d', 1)]);
    expect(second.rejected.map((r) => r.index)).toEqual([1]);
    expect(lines(store.render(), 'orders_total')).toEqual(['orders_total{route="/a"} 5', 'orders_total{route="/b"} 1']);
    expect(store.dropped.series_limit).toBe(2);
  });

  it('drop mode: a target_info with no room left is counted as dropped for the series limit, not left out silently', () => {
    const { store } = harness({ maxSeries: 3 });
    store.apply([counter(1, { target: { ...JOB, host_name: 'h1' } })]); // a series and its target_info
    const other = { job: 'shop', instance: 'i-2' };
    // The new instance's series takes the last slot; its target_info finds none.
    expect(store.apply([counter(1, { labels: other, target: { ...other, host_name: 'h2' } })]).rejected).toEqual([]);
    expect(lines(store.render(), 'orders_total')).toEqual(['orders_total{instance="i-1",job="shop"} 1', 'orders_total{instance="i-2",job="shop"} 1']);
    expect(store.render()).not.toContain('host_name="h2"');
    expect(store.dropped.series_limit).toBe(1);
  });

  it('reject mode: 429 with Retry-After until the oldest series expires, and nothing of the request applied', () => {
    const { store, clock } = harness({ maxSeries: 2, onSeriesLimit: 'reject' });
    store.apply([counter(1, { labels: { route: '/a' } }), counter(1, { labels: { route: '/b' } })]);
    clock.now += 60_000;
    let error: unknown;
    try {
      store.apply([counter(7, { labels: { route: '/a' }, timeNs: 2n }), counter(1, { labels: { route: '/c' } })]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PeriscopeError);
    expect((error as PeriscopeError).statusCode).toBe(429);
    expect((error as PeriscopeError).details).toEqual({ retryAfterSeconds: 240 });
    expect(lines(store.render(), 'orders_total{route="/a"}')).toEqual(['orders_total{route="/a"} 1']);
  });

  it('a family keeps its type: a point of another type under the same name is rejected', () => {
    const { store } = harness();
    const r = store.apply([counter(1), { name: 'orders_total', otelName: 'x', help: '', type: 'gauge', labels: {}, temporality: 'cumulative', timeNs: 1n, value: 1 }]);
    expect(r.rejected.map((x) => x.code)).toEqual(['PERISCOPE_ERR_OTLP_METRIC_TYPE_CONFLICT']);
  });

  it('reserved names (target_info and the isReserved hook) are refused', () => {
    const { store } = harness({ isReserved: (n) => n.startsWith('periscope_') });
    const g = (name: string): MetricPoint => ({ name, otelName: name, help: '', type: 'gauge', labels: {}, temporality: 'cumulative', timeNs: 1n, value: 1 });
    expect(store.apply([g('target_info'), g('periscope_x'), g('ok')]).rejected.map((r) => r.index)).toEqual([0, 1]);
  });
});

describe('read interfaces', () => {
  it('select: by Prometheus name, OTel name, without _total, and a histogram _count; matchers; samples at the resolution', () => {
    const { store, clock } = harness();
    for (let i = 0; i < 8; i++) {
      store.apply([counter(i * 10, { timeNs: BigInt(i + 1) }), counter(i, { timeNs: BigInt(i + 1), labels: { job: 'other' } })]);
      clock.now += 10_000; // two points per 15 s slot at most → the later one is kept
    }
    const now = clock.now;
    const [a] = store.select('orders_total', [{ name: 'job', op: '=', value: 'shop' }], 3_600_000, now);
    expect(a.type).toBe('counter');
    expect(a.labels).toEqual(JOB);
    expect(a.samples.map((s) => s.v)).toEqual([10, 20, 40, 50, 70]);
    expect(a.samples.every((s, i) => i === 0 || s.t > a.samples[i - 1].t)).toBe(true);
    expect(store.select('orders', [{ name: 'job', op: '=~', value: 'sh.*' }], 3_600_000, now)).toHaveLength(1);
    expect(store.select('orders', [], 3_600_000, now)).toHaveLength(2);
    expect(store.select('orders_total', [{ name: 'instance', op: '!=', value: '' }], 3_600_000, now)).toHaveLength(1);
    expect(store.select('orders_total', [], 25_000, now)[0].samples.map((s) => s.v)).toEqual([70]);
    expect(store.select('nope', [], 3_600_000, now)).toEqual([]);
  });

  it('select: histograms give count samples and bucket snapshots (OTel layout, not cumulative)', () => {
    const { store, clock } = harness();
    const h = (counts: number[], t: bigint): MetricPoint => ({
      name: 'lat_seconds', otelName: 'lat', help: '', type: 'histogram', labels: { a: '1' }, temporality: 'cumulative', timeNs: t,
      histogram: { bounds: [0.1, 1], counts, count: counts.reduce((x, y) => x + y, 0), sum: 1 },
    });
    store.apply([h([1, 1, 0], 1n)]);
    clock.now += 30_000;
    store.apply([h([2, 3, 1], 2n)]);
    const [s] = store.select('lat_seconds', [], 600_000, clock.now);
    expect(s.type).toBe('histogram');
    expect(s.samples.map((x) => x.v)).toEqual([2, 6]);
    expect(s.buckets?.map((b) => b.counts)).toEqual([[1, 1, 0], [2, 3, 1]]);
    expect(s.buckets?.[0].le).toEqual([0.1, 1]);
    const [c] = store.select('lat_seconds_count', [], 600_000, clock.now);
    expect(c.type).toBe('counter');
    expect(c.samples.map((x) => x.v)).toEqual([2, 6]);
  });

  it('the exponential histograms of one service (job) render on one le list, so sum by (le) over its instances adds like buckets', () => {
    const { store } = harness();
    const e = (instance: string, scale: number, offset: number, positive: number[], job = 'shop'): MetricPoint => ({
      name: 'e_seconds', otelName: 'e', help: '', type: 'histogram', labels: { job, instance }, temporality: 'cumulative', timeNs: 1n,
      exponential: { scale, zeroThreshold: 0, zeroCount: 0, negativeCount: 0, offset, positive, count: positive.reduce((a, b) => a + b, 0), sum: 1 },
    });
    // i-1 saw (1, 2] s once and (2, 4] s twice at scale 0; i-2 saw 4 in (2^4.5, 32] s at scale 1
    // (bounds 2^(k/2)): one grid at scale 0 from 1 to 32 for both
    store.apply([e('i-1', 0, 0, [1, 2]), e('i-2', 1, 8, [0, 4]), e('i-3', 1, 0, [5], 'other')]);
    const buckets = (instance: string) =>
      lines(store.render(), `e_seconds_bucket{instance="${instance}"`).map((l) => {
        const [, le, v] = /le="([^"]+)"\} (\S+)$/.exec(l)!;
        return [le, Number(v)] as const;
      });
    const one = buckets('i-1');
    const two = buckets('i-2');
    expect(one.map(([le]) => le)).toEqual(two.map(([le]) => le));
    expect(one.map(([le]) => le)).toEqual(['0', '1', '2', '4', '8', '16', '32', '+Inf']);
    // Summed by le, the cumulative counts never fall: every instance is in every bucket.
    const summed = one.map(([, v], i) => v + two[i][1]);
    expect(summed).toEqual([0, 0, 1, 3, 3, 3, 7, 7]);
    // Another service keeps its own grid: the shop's range does not widen its buckets.
    expect(buckets('i-3').map(([le]) => le)).toEqual(['0', '1', '1.4142135623730951', '+Inf']);
  });

  it('select: exponential snapshots in a window share one le list', () => {
    const { store, clock } = harness();
    const e = (offset: number, positive: number[], t: bigint): MetricPoint => ({
      name: 'e_seconds', otelName: 'e', help: '', type: 'histogram', labels: {}, temporality: 'cumulative', timeNs: t,
      exponential: { scale: 0, zeroThreshold: 0, zeroCount: 0, negativeCount: 0, offset, positive, count: positive.reduce((a, b) => a + b, 0), sum: 1 },
    });
    store.apply([e(1, [1], 1n)]);
    clock.now += 30_000;
    store.apply([e(0, [1, 1, 1], 2n)]);
    const [s] = store.select('e_seconds', [], 600_000, clock.now);
    expect(s.buckets?.[0].le).toEqual(s.buckets?.[1].le);
    expect(s.buckets?.map((b) => b.counts)).toEqual([[0, 0, 0, 1, 0, 0], [0, 0, 1, 1, 1, 0]]);
  });

  it('samples(): the exposition series as remote-write samples with metadata', () => {
    const { store } = harness();
    store.apply([counter(4)]);
    const batch = store.samples(T0 + 5);
    expect(batch.metadata).toEqual([{ name: 'orders_total', type: 'counter', help: 'Orders.' }]);
    expect(batch.samples).toEqual([{ labels: { __name__: 'orders_total', job: 'shop', instance: 'i-1' }, value: 4, timestampMs: T0 + 5 }]);
  });

  it('render escapes label values and HELP text', () => {
    const { store } = harness();
    store.apply([{ name: 'g', otelName: 'g', help: 'line1\nback\\slash', type: 'gauge', labels: { v: 'a"b\\c\nd' }, temporality: 'cumulative', timeNs: 1n, value: Number.NaN }]);
    expect(store.render()).toBe('# HELP g line1\\nback\\\\slash\n# TYPE g gauge\ng{v="a\\"b\\\\c\\nd"} NaN\n');
  });
});

const promtool = which('promtool');
describe('exposition validity', () => {
  it('the rendered text of every kind of family passes promtool check metrics', (ctx) => {
    if (!promtool) {
      if (process.env.CI === 'true') throw new Error('promtool not found (Debian package "prometheus"); CI installs it in .ci/run');
      ctx.skip('promtool not found on PATH (Debian package "prometheus")');
      return;
    }
    const { store } = harness();
    store.apply([
      counter(3, { target: { ...JOB, host_name: 'h' } }),
      { name: 'up_ratio', otelName: 'u', help: '', type: 'gauge', labels: { q: 'x"y' }, temporality: 'cumulative', timeNs: 1n, value: 0.5 },
      { name: 'lat_seconds', otelName: 'lat', help: 'L', type: 'histogram', labels: {}, temporality: 'cumulative', timeNs: 1n, histogram: { bounds: [1], counts: [1, 1], count: 2, sum: 3 } },
      { name: 'e_seconds', otelName: 'e', help: 'E', type: 'histogram', labels: {}, temporality: 'cumulative', timeNs: 1n, exponential: { scale: 3, zeroThreshold: 0, zeroCount: 1, negativeCount: 0, offset: -3, positive: [1, 2], count: 4, sum: 1 } },
      { name: 'rpc_seconds', otelName: 'rpc', help: 'S', type: 'summary', labels: {}, temporality: 'cumulative', timeNs: 1n, summary: { quantiles: [{ quantile: 0.5, value: 1 }, { quantile: 0.99, value: 2 }], count: 5, sum: 6 } },
    ]);
    const r = promtoolCheckMetrics(promtool, store.render());
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});

/** 100 routes, each a counter series and a histogram series of 3 buckets (5 lines or samples). */
function routePoints(): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (let i = 0; i < 100; i++) {
    points.push(counter(i, { labels: { ...JOB, route: `/${i}` } }));
    points.push({ name: 'latency_seconds', otelName: 'latency', help: 'Latency.', type: 'histogram', labels: { ...JOB, route: `/${i}` }, temporality: 'cumulative', timeNs: 1n, histogram: { bounds: [0.1, 1], counts: [1, 1, 0], count: 2, sum: 0.6 } });
  }
  return points;
}

/** A cumulative exponential histogram point of e_seconds for `route`. */
function expPoint(route: string, scale: number, offset: number, positive: number[], t: bigint): MetricPoint {
  return {
    name: 'e_seconds', otelName: 'e', help: '', type: 'histogram', labels: { ...JOB, route }, temporality: 'cumulative', timeNs: t,
    exponential: { scale, zeroThreshold: 0, zeroCount: 0, negativeCount: 0, offset, positive, count: positive.reduce((a, b) => a + b, 0), sum: 1 },
  };
}

describe('render in pieces', () => {
  // GET /metrics lets ingest run between pieces (api/metrics.ts): rendered at once, 350 000 lines held it for seconds.
  it('cuts the text after a whole series once a piece has linesPerPiece lines, and the pieces make render()', () => {
    const { store } = harness({ maxSeries: 1000 });
    store.apply(routePoints());
    const pieces = [...store.renderPieces(T0, 10)];
    expect(pieces.join('')).toBe(store.render(T0));
    // A histogram series is 5 lines (3 buckets, _sum, _count): a piece ends at the series that reaches 10.
    const valueLines = pieces.map((p) => p.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length);
    expect(Math.max(...valueLines)).toBeLessThanOrEqual(10 + 4);
    expect(pieces.length).toBeGreaterThanOrEqual((100 * 5 + 100) / 14);
    for (const p of pieces) expect(p.endsWith('\n')).toBe(true);
    expect(pieces.every((p) => !/_bucket\{[^}]*le="\+Inf"\} \d+\n$/.test(p))).toBe(true); // no piece ends inside a histogram
  });
});

describe('samples in pieces', () => {
  // Remote write lets ingest run between pieces (MetricsSources.collect): at once, 342 000 samples held it for 0.4-2 s.
  it('cuts after a whole series once a piece has samplesPerPiece samples, and the pieces make samples()', () => {
    const { store } = harness({ maxSeries: 1000 });
    store.apply(routePoints());
    const pieces = [...store.samplePieces(T0, 10)];
    expect({ samples: pieces.flatMap((p) => p.samples), metadata: pieces.flatMap((p) => p.metadata) }).toEqual(store.samples(T0));
    // A histogram series is 5 samples (3 buckets, _sum, _count): a piece ends at the series that reaches 10.
    expect(Math.max(...pieces.map((p) => p.samples.length))).toBeLessThanOrEqual(10 + 4);
    expect(pieces.length).toBeGreaterThanOrEqual((100 * 5 + 100) / 14);
    for (const p of pieces) expect(p.samples.at(-1)?.labels.__name__).not.toMatch(/_bucket$|_sum$/); // no piece ends inside a histogram
  });

  it('an exponential histogram updated while the pieces are taken is given as its family layout was made from', () => {
    const { store } = harness();
    store.apply([expPoint('/a', 2, 0, [1, 1], 1n), expPoint('/b', 2, 1, [2], 1n)]);
    const before = store.samples(T0).samples.filter((s) => s.labels.route === '/b');
    const pieces = store.samplePieces(T0, 1);
    const first = (pieces.next().value as RemoteWriteBatch).samples;
    // A point for /b on a coarser scale and a far wider range than the layout was made for: put on
    // it, its 5 observations in (16, 32] s were counted at le="1.189…" and the one at 0.1 s lost.
    store.apply([expPoint('/b', 0, -4, [1, 0, 0, 0, 0, 0, 0, 0, 5], 2n)]);
    const second = (pieces.next().value as RemoteWriteBatch).samples;
    expect(first.every((s) => s.labels.route === '/a')).toBe(true);
    expect(second).toEqual(before);
  });
});

describe('render in pieces while points arrive', () => {
  it('an exponential histogram updated while the pieces are rendered is shown as its family layout was made from', () => {
    const { store } = harness();
    store.apply([expPoint('/a', 2, 0, [1, 1], 1n), expPoint('/b', 2, 1, [2], 1n)]);
    const before = lines(store.render(T0), 'e_seconds').filter((l) => l.includes('route="/b"'));
    const pieces = store.renderPieces(T0, 1);
    expect(pieces.next().value).not.toContain('route="/b"');
    // Put on the layout made for /a and /b's first point, this one's 5 observations in (16, 32] s
    // were shown as e_seconds_bucket{le="1.189…"} and its one at 0.1 s in no finite bucket.
    store.apply([expPoint('/b', 0, -4, [1, 0, 0, 0, 0, 0, 0, 0, 5], 2n)]);
    expect(lines(pieces.next().value as string, 'e_seconds')).toEqual(before);
  });
});
