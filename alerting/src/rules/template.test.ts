import { describe, expect, it } from 'vitest';
import { compileTemplate } from './template.ts';

const data = { value: 93.4567, labels: { host: 'web-1', 'k8s.pod': 'api-7' }, rule: 'HighCpu', severity: 'critical' };

describe('templates', () => {
  it.each([
    { name: 'plain text', tpl: 'CPU is high', want: 'CPU is high' },
    { name: 'label and value', tpl: '{{ $labels.host }} at {{ $value }}', want: 'web-1 at 93.4567' },
    { name: 'no spaces', tpl: '{{$labels.host}}', want: 'web-1' },
    { name: 'indexed label with dots', tpl: '{{ $labels["k8s.pod"] }}', want: 'api-7' },
    { name: 'missing label renders empty', tpl: '[{{ $labels.nope }}]', want: '[]' },
    { name: 'default for a missing label', tpl: '{{ $labels.nope | default "n/a" }}', want: 'n/a' },
    { name: 'printf', tpl: '{{ $value | printf "%.1f%%" }}', want: '93.5%' },
    { name: 'round with digits', tpl: '{{ $value | round 2 }}', want: '93.46' },
    { name: 'humanize', tpl: '{{ 1234567 | humanize }}', want: '1.235M' },
    { name: 'humanizePercentage', tpl: '{{ 0.256 | humanizePercentage }}', want: '25.6%' },
    { name: 'humanizeDuration', tpl: '{{ 3725 | humanizeDuration }}', want: '1h 2m 5s' },
    { name: 'rule and severity', tpl: '{{ $rule }}/{{ $severity | upper }}', want: 'HighCpu/CRITICAL' },
    { name: 'a function call with its operand last (Go template form)', tpl: '{{ printf "%.2f" $value }}', want: '93.46' },
    { name: 'a one-argument call', tpl: '{{ humanize $value }} on {{ upper $labels.host }}', want: '93.46 on WEB-1' },
    { name: 'a call piped on', tpl: '{{ printf "%.1f" $value | default "-" }}, {{ humanizePercentage 0.256 }}', want: '93.5, 25.6%' },
    { name: 'chained pipes', tpl: '{{ $labels.host | upper | lower }}', want: 'web-1' },
  ])('renders $name', ({ tpl, want }) => {
    expect(compileTemplate(tpl)(data)).toBe(want);
  });

  it('renders a missing value as NaN', () => {
    expect(compileTemplate('v={{ $value }}')({ ...data, value: null })).toBe('v=NaN');
  });

  it('default replaces a missing value (nodata, error), not a real one', () => {
    const tpl = compileTemplate('CPU {{ $value | default "no data" }}');
    expect(tpl({ ...data, value: null })).toBe('CPU no data');
    expect(tpl({ ...data, value: 0 })).toBe('CPU 0');
  });

  it.each([
    { name: 'unclosed action', tpl: 'x {{ $value', error: 'unclosed' },
    { name: 'unknown variable', tpl: '{{ $valu }}', error: 'unknown variable' },
    { name: 'unknown function', tpl: '{{ $value | frobnicate }}', error: 'unknown function' },
    { name: 'function named like an Object property', tpl: '{{ $value | constructor }}', error: 'unknown function "constructor"' },
    { name: 'wrong argument count', tpl: '{{ $value | printf }}', error: 'printf takes 1' },
    { name: 'garbage', tpl: '{{ $value ; rm }}', error: 'unexpected' },
  ])('rejects $name at compile time', ({ tpl, error }) => {
    expect(() => compileTemplate(tpl)).toThrow(error);
  });

  it('reports whether $value is used (labels must not use it)', () => {
    expect(compileTemplate('{{ $value }}').usesValue).toBe(true);
    expect(compileTemplate('{{ $labels.host }}').usesValue).toBe(false);
  });
});
