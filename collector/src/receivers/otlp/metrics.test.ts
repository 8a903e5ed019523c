import { describe, expect, it } from 'vitest';
import { decodeOtlp } from './decode.ts';
import { otlpMetricsToPoints, type OtlpMetricsResult } from './metrics.ts';
import { REQUEST_TYPES } from './schema.ts';

const MetricsRequest = REQUEST_TYPES.metrics;

function fromJson(body: unknown): OtlpMetricsResult {
  return otlpMetricsToPoints(decodeOtlp('metrics', Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), 'json'));
}

function fromProto(request: object): OtlpMetricsResult {
  const message = MetricsRequest.fromObject(request);
  const err = MetricsRequest.verify(message);
  if (err) throw new Error(`bad fixture: ${err}`);
  return otlpMetricsToPoints(decodeOtlp('metrics', Buffer.from(MetricsRequest.encode(message).finish()), 'protobuf'));
}

const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
const RESOURCE = { attributes: [kv('service.name', 'shop'), kv('service.namespace', 'acme'), kv('service.instance.id', 'i-1'), kv('host.name', 'h1')] };

function request(metrics: unknown[]) {
  return { resourceMetrics: [{ resource: RESOURCE, scopeMetrics: [{ scope: { name: 'app', version: '2' }, metrics }] }] };
}

describe('OTLP metrics → store points', () => {
  it('maps kinds, names, units, temporality, resource and scope (same result from JSON and protobuf)', () => {
    const metrics = [
      { name: 'http.server.duration', unit: 'ms', description: 'Duration.', histogram: { aggregationTemporality: 2, dataPoints: [{ attributes: [kv('http.route', '/a')], timeUnixNano: '1000', count: '3', sum: 30, bucketCounts: ['1', '1', '1'], explicitBounds: [5, 10] }] } },
      { name: 'jobs', unit: '{job}', sum: { isMonotonic: true, aggregationTemporality: 1, dataPoints: [{ asInt: '7', timeUnixNano: '1000' }] } },
      { name: 'queue.size', sum: { isMonotonic: false, aggregationTemporality: 2, dataPoints: [{ asDouble: 2.5 }] } },
      { name: 'heap', unit: 'By', gauge: { dataPoints: [{ asInt: '1024' }] } },
      { name: 'rpc', unit: 's', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ count: '3', scale: 1, zeroCount: '1', positive: { offset: 2, bucketCounts: ['2'] } }] } },
      { name: 'gc', unit: 'ms', summary: { dataPoints: [{ count: '2', sum: 8, quantileValues: [{ quantile: 0.5, value: 4 }] }] } },
    ];
    const json = fromJson(request(metrics));
    expect(json.rejected).toEqual([]);
    const byName = Object.fromEntries(json.points.map((p) => [p.name, p]));
    expect(Object.keys(byName)).toEqual(['http_server_duration_seconds', 'jobs_total', 'queue_size', 'heap_bytes', 'rpc_seconds', 'gc_seconds']);
    expect(byName.http_server_duration_seconds).toMatchObject({
      type: 'histogram',
      help: 'Duration.',
      otelName: 'http.server.duration',
      labels: { job: 'acme/shop', instance: 'i-1', otel_scope_name: 'app', otel_scope_version: '2', http_route: '/a' },
      target: { job: 'acme/shop', instance: 'i-1', host_name: 'h1' },
      histogram: { bounds: [0.005, 0.01], counts: [1, 1, 1], count: 3, sum: 0.03 },
      timeNs: 1000n,
    });
    expect(byName.jobs_total).toMatchObject({ type: 'counter', temporality: 'delta', value: 7 });
    expect(byName.queue_size).toMatchObject({ type: 'gauge', temporality: 'cumulative', value: 2.5 });
    expect(byName.heap_bytes).toMatchObject({ type: 'gauge', value: 1024 });
    expect(byName.rpc_seconds).toMatchObject({ type: 'histogram', exponential: { scale: 1, zeroCount: 1, offset: 2, positive: [2], count: 3 } });
    expect(byName.gc_seconds).toMatchObject({ type: 'summary', summary: { quantiles: [{ quantile: 0.5, value: 0.004 }], count: 2, sum: 0.008 } });

    const proto = fromProto({
      resourceMetrics: [{
        resource: { attributes: RESOURCE.attributes },
        scopeMetrics: [{ scope: { name: 'app', version: '2' }, metrics: metrics.map((m) => JSON.parse(JSON.stringify(m))) }],
      }],
    });
    expect(proto.points).toEqual(json.points);
  });

  it.each([
    { name: 'unknown temporality enum value', metric: { name: 'a', sum: { isMonotonic: true, aggregationTemporality: 7, dataPoints: [{ asInt: '1' }, { asInt: '2' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_TEMPORALITY', count: 2 },
    { name: 'unspecified temporality', metric: { name: 'a', histogram: { dataPoints: [{ count: '0' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_TEMPORALITY', count: 1 },
    { name: 'no data kind', metric: { name: 'a', unit: 's' }, code: 'PERISCOPE_ERR_OTLP_BAD_METRIC', count: 1 },
    { name: 'empty name', metric: { name: '', gauge: { dataPoints: [{ asInt: '1' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_METRIC', count: 1 },
    { name: 'wrong field type on the metric (name a number)', metric: { name: 5, gauge: { dataPoints: [{ asInt: '1' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE', count: 1 },
    { name: 'wrong field type in a data point (asInt an object)', metric: { name: 'a', gauge: { dataPoints: [{ asInt: { x: 1 } }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE', count: 1 },
    { name: 'bucket counts do not match bounds', metric: { name: 'a', histogram: { aggregationTemporality: 2, dataPoints: [{ count: '2', bucketCounts: ['1', '1'], explicitBounds: [1, 2] }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_HISTOGRAM', count: 1 },
    { name: 'count differs from the buckets', metric: { name: 'a', histogram: { aggregationTemporality: 2, dataPoints: [{ count: '5', bucketCounts: ['1', '1'], explicitBounds: [1] }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_HISTOGRAM', count: 1 },
    { name: 'bounds not increasing', metric: { name: 'a', histogram: { aggregationTemporality: 2, dataPoints: [{ count: '2', bucketCounts: ['1', '1', '0'], explicitBounds: [2, 1] }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_HISTOGRAM', count: 1 },
    { name: 'exponential scale out of range', metric: { name: 'a', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ count: '0', scale: 99 }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_HISTOGRAM', count: 1 },
    { name: 'negative monotonic sum', metric: { name: 'a', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ asDouble: -1 }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_VALUE', count: 1 },
    // a delta point is added to the series: one NaN or infinity would stay in it until it expired
    { name: 'delta monotonic sum of +Infinity', metric: { name: 'a', sum: { isMonotonic: true, aggregationTemporality: 1, dataPoints: [{ asDouble: 'Infinity', timeUnixNano: '1' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_VALUE', count: 1 },
    { name: 'delta non-monotonic sum of NaN', metric: { name: 'a', sum: { isMonotonic: false, aggregationTemporality: 1, dataPoints: [{ asDouble: 'NaN', timeUnixNano: '1' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_VALUE', count: 1 },
    { name: 'delta histogram with a NaN sum', metric: { name: 'a', histogram: { aggregationTemporality: 1, dataPoints: [{ count: '1', bucketCounts: ['1'], explicitBounds: [], sum: 'NaN', timeUnixNano: '1' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_VALUE', count: 1 },
    { name: 'number point without a value', metric: { name: 'a', gauge: { dataPoints: [{ timeUnixNano: '1' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_VALUE', count: 1 },
    // a series keeps its latest time: one point years ahead made the series' next points out of order
    { name: 'point in 2255', metric: { name: 'a', gauge: { dataPoints: [{ asInt: '1', timeUnixNano: '9000000000000000000' }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP', count: 1 },
    { name: 'point an hour ahead', metric: { name: 'a', gauge: { dataPoints: [{ asInt: '1', timeUnixNano: String(BigInt(Date.now() + 3_600_000) * 1_000_000n) }] } }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP', count: 1 },
    { name: 'huge attribute value', metric: { name: 'a', gauge: { dataPoints: [{ asInt: '1', attributes: [kv('big', 'x'.repeat(5000))] }] } }, code: 'PERISCOPE_ERR_OTLP_LABEL_TOO_LARGE', count: 1 },
  ])('$name → $code, the valid metric around it kept', ({ metric, code, count }) => {
    const good = (v: string) => ({ name: 'ok', gauge: { dataPoints: [{ asInt: v }] } });
    const r = fromJson(request([good('1'), metric, good('2')]));
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ index: 1, code });
    expect(r.rejectedCount).toBe(count);
    expect(r.points.map((p) => p.value)).toEqual([1, 2]);
    // the point after the bad metric keeps its document-order index
    const points = Object.values(metric as unknown as Record<string, { dataPoints?: unknown[] }>).find((v) => typeof v === 'object' && v?.dataPoints)?.dataPoints?.length ?? 0;
    expect(r.pointIndex[1]).toBe(1 + points);
  });

  it('a cumulative NaN (a gauge, a non-monotonic sum) is kept: the next point replaces it', () => {
    const r = fromJson(request([{ name: 'a', gauge: { dataPoints: [{ asDouble: 'NaN' }] } }, { name: 'b', sum: { aggregationTemporality: 2, dataPoints: [{ asDouble: 'NaN' }] } }]));
    expect(r.rejected).toEqual([]);
    expect(r.points.map((p) => p.value)).toEqual([Number.NaN, Number.NaN]);
  });

  it('a point a minute ahead of the collector\'s clock (sender clock skew) is kept', () => {
    const r = fromJson(request([{ name: 'a', gauge: { dataPoints: [{ asInt: '1', timeUnixNano: String(BigInt(Date.now() + 60_000) * 1_000_000n) }] } }]));
    expect(r.rejected).toEqual([]);
    expect(r.points).toHaveLength(1);
  });

  it('FLAG_NO_RECORDED_VALUE becomes a removal, without value checks', () => {
    const r = fromJson(request([{ name: 'a', gauge: { dataPoints: [{ flags: 1 }] } }]));
    expect(r.rejected).toEqual([]);
    expect(r.points[0]).toMatchObject({ name: 'a', noRecordedValue: true });
  });

  it('a wrong type in the resource rejects every point under it', () => {
    const r = fromJson({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 5 } }] }, scopeMetrics: [{ metrics: [{ name: 'a', gauge: { dataPoints: [{ asInt: '1' }, { asInt: '2' }] } }] }] }] });
    expect(r.points).toEqual([]);
    expect(r.rejected[0].code).toBe('PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE');
    expect(r.rejectedCount).toBe(2);
  });
});
