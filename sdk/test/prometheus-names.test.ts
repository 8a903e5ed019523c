import { describe, expect, it } from 'vitest';
import { unitSuffix } from '../src/metrics/prometheus.ts';

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
