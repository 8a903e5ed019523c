import { describe, expect, it } from 'vitest';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { prometheusNames, unitSuffix } from '../src/metrics/prometheus.ts';

describe('unit suffix for the app-scrape /metrics names (OTel → Prometheus compatibility)', () => {
  it.each([
    { name: 'seconds', unit: 's', gauge: false, suffix: 'seconds' },
    { name: 'bytes', unit: 'By', gauge: true, suffix: 'bytes' },
    { name: 'ratio on a gauge', unit: '1', gauge: true, suffix: 'ratio' },
    { name: 'no ratio on a counter', unit: '1', gauge: false, suffix: '' },
    { name: 'annotation only', unit: '{handle}', gauge: true, suffix: '' },
    { name: 'annotation around a unit', unit: 'By{heap}', gauge: true, suffix: 'bytes' },
    { name: 'per second', unit: 'By/s', gauge: false, suffix: 'bytes_per_second' },
    { name: 'empty', unit: '', gauge: true, suffix: '' },
    { name: 'unknown unit', unit: 'furlong', gauge: true, suffix: '' },
  ])('$name: "$unit" → "$suffix"', ({ unit, gauge, suffix }) => {
    expect(unitSuffix(unit, gauge)).toBe(suffix);
  });
});

describe('app-scrape names follow the Prometheus type, as on the collector', () => {
  const named = (metric: Partial<MetricData>) => {
    const data = { descriptor: { name: 'pool.usage', unit: '1', description: '', valueType: 1 }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPoints: [], ...metric } as unknown as MetricData;
    const rm = { resource: {}, scopeMetrics: [{ scope: { name: 't' }, metrics: [data] }] } as unknown as ResourceMetrics;
    return prometheusNames(rm).scopeMetrics[0].metrics[0].descriptor.name;
  };
  it.each([
    { name: 'gauge', metric: { dataPointType: DataPointType.GAUGE }, expected: 'pool.usage_ratio' },
    // an up-down counter is a Prometheus gauge (collector: pool_usage_ratio)
    { name: 'up-down counter', metric: { dataPointType: DataPointType.SUM, isMonotonic: false }, expected: 'pool.usage_ratio' },
    { name: 'counter', metric: { dataPointType: DataPointType.SUM, isMonotonic: true }, expected: 'pool.usage' },
  ])('$name of unit "1" → $expected', ({ metric, expected }) => {
    expect(named(metric as Partial<MetricData>)).toBe(expected);
  });
});
