import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRulesConfig } from '../config.ts';
import { checkRuleFiles } from './load.ts';
import { compileRule } from './schema.ts';

const defaults = { defaultIntervalMs: 15_000, flapping: { enabled: true, window: 21, high: 20, low: 5 } };
const metric = { name: 'HighCpu', kind: 'metric', selector: 'cpu{host=~"web.*"}', aggregation: 'avg', window: '5m', threshold: 90 };

function problems(raw: unknown) {
  return compileRule(raw, { prefix: 'rules[2]', defaults, source: 'test' }).problems.map((p) => `${p.key}: ${p.message}`);
}

describe('rule validation names the key', () => {
  it.each([
    { name: 'threshold of the wrong type', rule: { ...metric, threshold: 'high' }, key: 'rules[2].threshold: must be number' },
    { name: 'missing threshold (metric)', rule: { ...metric, threshold: undefined }, key: 'rules[2].threshold: missing required key' },
    { name: 'infinite threshold (1e400)', rule: { ...metric, threshold: JSON.parse('1e400') }, key: 'rules[2].threshold: must be a finite number, not Infinity' },
    { name: 'infinite clear threshold', rule: { ...metric, clearThreshold: -Infinity }, key: 'rules[2].clearThreshold: must be a finite number, not -Infinity' },
    { name: 'missing kind', rule: { name: 'x' }, key: 'rules[2].kind: missing required key' },
    { name: 'unknown kind', rule: { ...metric, kind: 'trace' }, key: 'rules[2].kind: must be one of' },
    { name: 'unknown key', rule: { ...metric, treshold: 3 }, key: 'rules[2].treshold: unknown key' },
    { name: 'bad duration', rule: { ...metric, for: '5 minutes' }, key: 'rules[2].for: invalid duration' },
    { name: 'interval under 1s', rule: { ...metric, interval: '500ms' }, key: 'rules[2].interval: must be at least 1s' },
    { name: 'bad comparison', rule: { ...metric, comparison: '=>' }, key: 'rules[2].comparison: must be one of' },
    { name: 'bad severity', rule: { ...metric, severity: 'urgent' }, key: 'rules[2].severity: must be one of' },
    { name: 'bad noData policy', rule: { ...metric, noData: 'ignore' }, key: 'rules[2].noData: must be one of' },
    { name: 'negative limit', rule: { ...metric, limit: -1 }, key: 'rules[2].limit: must be >= 0' },
    { name: 'fractional limit', rule: { ...metric, limit: 2.5 }, key: 'rules[2].limit: must be integer' },
    { name: 'bad onError policy', rule: { ...metric, onError: 'nodata' }, key: 'rules[2].onError: must be one of' },
    { name: 'bad missingSeries policy', rule: { ...metric, missingSeries: 'drop' }, key: 'rules[2].missingSeries: must be one of' },
    { name: 'clear threshold on the wrong side', rule: { ...metric, clearThreshold: 95 }, key: 'rules[2].clearThreshold: must be at most the threshold' },
    { name: 'clear threshold with == ', rule: { ...metric, comparison: '==', clearThreshold: 1 }, key: 'rules[2].clearThreshold: not allowed' },
    { name: 'bad selector', rule: { ...metric, selector: 'cpu{host=web}' }, key: 'rules[2].selector: expected a quoted value' },
    { name: 'bad regex in selector', rule: { ...metric, selector: 'cpu{host=~"("}' }, key: 'rules[2].selector: invalid regular expression' },
    { name: 'unknown aggregation', rule: { ...metric, aggregation: 'median' }, key: 'rules[2].aggregation: must be one of' },
    { name: 'percentile out of range', rule: { ...metric, aggregation: 'p10' }, key: 'rules[2].aggregation' },
    { name: 'groupBy of wrong type', rule: { ...metric, groupBy: 'host' }, key: 'rules[2].groupBy: must be array' },
    { name: 'bad groupBy label', rule: { ...metric, groupBy: ['ok', '1bad'] }, key: 'rules[2].groupBy[1]: invalid label name' },
    { name: 'bad annotation template', rule: { ...metric, annotations: { summary: '{{ $valeu }}' } }, key: 'rules[2].annotations.summary: invalid template: unknown variable' },
    { name: '$value in a label', rule: { ...metric, labels: { v: '{{ $value }}' } }, key: 'rules[2].labels.v: $value is not allowed' },
    { name: 'reserved label', rule: { ...metric, labels: { severity: 'x' } }, key: 'rules[2].labels.severity: reserved' },
    { name: 'bad label name', rule: { ...metric, labels: { 'a-b': 'x' } }, key: 'rules[2].labels.a-b: invalid label name' },
    { name: 'flapping marks reversed', rule: { ...metric, flapping: { high: 10, low: 30 } }, key: 'rules[2].flapping.low: low (30) must be lower than high (10)' },
    { name: 'log: unknown filter key', rule: { name: 'e', kind: 'log', filter: { start: '1' }, threshold: 3 }, key: 'rules[2].filter.start: unknown filter key' },
    { name: 'log: bad severity', rule: { name: 'e', kind: 'log', filter: { severity: 'loud' }, threshold: 3 }, key: 'rules[2].filter.severity' },
    { name: 'log: spike without reference', rule: { name: 'e', kind: 'log', mode: 'spike', filter: {}, threshold: 3 }, key: 'rules[2].referenceWindow: required for mode "spike"' },
    { name: 'log: frequency without threshold', rule: { name: 'e', kind: 'log', filter: {} }, key: 'rules[2].threshold: missing required key' },
    { name: 'log: bad mode', rule: { name: 'e', kind: 'log', mode: 'burst', filter: {}, threshold: 1 }, key: 'rules[2].mode: must be one of' },
    { name: 'promql: missing expr', rule: { name: 'p', kind: 'promql' }, key: 'rules[2].expr: missing required key' },
    { name: 'promql: clear threshold without threshold', rule: { name: 'p', kind: 'promql', expr: 'up', clearThreshold: 1 }, key: 'rules[2].threshold: required when clearThreshold is set' },
    { name: 'for as a YAML number', rule: { ...metric, for: 5 }, key: 'rules[2].for: must be a duration string like "5m" (quote it, with a unit)' },
    { name: 'a log window as a YAML number', rule: { name: 'e', kind: 'log', filter: {}, threshold: 3, window: 10 }, key: 'rules[2].window: must be a duration string like "5m" (quote it, with a unit)' },
    { name: 'promql: unclosed bracket', rule: { name: 'p', kind: 'promql', expr: 'rate(http_requests_total[5m' }, key: 'rules[2].expr: PromQL syntax error: the expression ends too early' },
    { name: 'promql: a typo in a function name', rule: { name: 'p', kind: 'promql', expr: 'rat(http_requests_total[5m]) > 1' }, key: 'rules[2].expr: PromQL syntax error at column 1: unknown function "rat"' },
    { name: 'promql: holt_winters, of the Prometheus 2 in use', rule: { name: 'p', kind: 'promql', expr: 'holt_winters(x[10m], 0.3, 0.3) > 2 +' }, key: 'rules[2].expr: PromQL syntax error: the expression ends too early' },
    { name: 'promql: a bad matcher operator', rule: { name: 'p', kind: 'promql', expr: 'up{job~"api"} == 0' }, key: 'rules[2].expr: PromQL syntax error at column 7' },
    { name: 'promql: a syntax error next to a shape error', rule: { name: 'p', kind: 'promql', expr: 'up ==', threshold: 'high' }, key: 'rules[2].expr: PromQL syntax error' },
    { name: 'not an object', rule: 'HighCpu', key: 'rules[2]: must be an object' },
    { name: 'name unusable as id', rule: { ...metric, name: 'High CPU!' }, key: 'rules[2].name: must be an id' },
  ])('$name', ({ rule, key }) => {
    const list = problems(rule);
    expect(list.some((p) => p.startsWith(key)), `expected "${key}" in ${JSON.stringify(list)}`).toBe(true);
  });

  it.each([
    { name: 'metric with everything', rule: { ...metric, id: 'cpu', for: '1m', keepFiringFor: '2m', clearThreshold: 80, interval: '1s', groupBy: ['host'], severity: 'critical', labels: { team: 'infra-{{ $labels.host }}' }, annotations: { summary: '{{ $value | printf "%.0f" }}' }, noData: 'keepLast', flapping: { enabled: false } } },
    { name: 'metric percentile', rule: { ...metric, aggregation: 'p99.9' } },
    { name: 'log absence with defaults', rule: { name: 'quiet', kind: 'log', mode: 'absence', filter: { service: 'checkout' } } },
    { name: 'log spike', rule: { name: 'burst', kind: 'log', mode: 'spike', filter: { severity: 'error', 'attr.region': 'eu' }, window: '5m', referenceWindow: '1h', threshold: 3, minCount: 10 } },
    { name: 'promql filter mode', rule: { name: 'down', kind: 'promql', expr: 'up == 0' } },
    { name: 'promql threshold mode', rule: { name: 'lat', kind: 'promql', expr: 'histogram_quantile(0.99, rate(x[5m]))', threshold: 1, clearThreshold: 0.8 } },
    { name: 'promql with a function of Prometheus 2 (holt_winters)', rule: { name: 'trend', kind: 'promql', expr: 'holt_winters(node_load1[10m], 0.3, 0.3) > 2' } },
    { name: 'promql over several lines, with modifiers', rule: { name: 'ratio', kind: 'promql', expr: 'sum by (job) (rate(errors_total{job=~"api|web"}[5m] offset 1m))\n  / on (job) group_left\n  sum by (job) (rate(requests_total[5m:1m]))\n> bool 0.05' } },
  ])('accepts $name', ({ rule }) => {
    expect(problems(rule)).toEqual([]);
  });

  it('metric rules: OTel attribute keys in the selector and groupBy name the labels the series carry (k8s.pod → k8s_pod)', () => {
    const { rule, problems: found } = compileRule(
      { name: 'q', kind: 'metric', selector: 'queue.ratio{k8s.pod=~"pod-.*", service.name="api"}', aggregation: 'last', groupBy: ['k8s.pod'], threshold: 0.5 },
      { defaults, source: 'test' },
    );
    expect(found).toEqual([]);
    if (rule?.kind !== 'metric') throw new Error('not a metric rule');
    expect(rule.selector.matchers.map((m) => m.name)).toEqual(['k8s_pod', 'service_name']);
    expect(rule.groupBy).toEqual(['k8s_pod']);
    expect(rule.compiledMatchers[0].name).toBe('k8s_pod');
    expect(rule.selector.name).toBe('queue.ratio'); // metric names are resolved by the metric store
  });

  it('a rule with a shape error still has its selector checked (one round of fixes, not two)', () => {
    expect(problems({ name: 'x', kind: 'metric', selector: 'foo{', threshold: 1 })).toEqual([
      'rules[2].aggregation: missing required key',
      expect.stringMatching(/^rules\[2\]\.selector: /),
    ]);
  });

  it('a promql rule without a Prometheus to query is refused up front, not an error alert at run time', () => {
    const compile = (prometheusConfigured: boolean) => compileRule({ name: 'down', kind: 'promql', expr: 'up == 0' }, { defaults: { ...defaults, prometheusConfigured }, source: 'test' }).problems;
    expect(compile(false)).toEqual([{ key: 'kind', message: 'a promql rule needs a Prometheus to query: set alerting.prometheus.url' }]);
    expect(compile(true)).toEqual([]);
  });

  it('fills defaults: interval from config, id from name, severity warning, absence threshold 1 with <', () => {
    const { rule } = compileRule({ name: 'quiet', kind: 'log', mode: 'absence', filter: {} }, { defaults, source: 'test' });
    expect(rule).toMatchObject({ id: 'quiet', intervalMs: 15_000, severity: 'warning', noData: 'nodata', condition: { op: '<', threshold: 1 } });
  });
});

describe('rule files and check-config', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  function files(contents: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-rules-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it.each([
    { name: 'key inside a file', text: 'rules:\n  - name: A\n    kind: metric\n    selector: cpu\n    aggregation: avg\n    threshold: 1\n  - name: B\n    kind: metric\n    selector: cpu\n    aggregation: avg\n    threshold: high\n', want: 'a.yaml: rules[1].threshold: must be number' },
    { name: 'unknown top-level key', text: 'rulez: []\n', want: 'a.yaml: rulez: unknown key' },
    { name: 'empty file', text: '', want: 'a.yaml: rules: missing required key' },
    { name: 'not YAML', text: 'rules: [unclosed\n', want: 'a.yaml: (yaml):' },
    { name: 'duplicate ids', text: 'rules:\n  - name: A\n    kind: promql\n    expr: up\n  - name: A\n    kind: promql\n    expr: up\n', want: 'a.yaml: rules[1].name: duplicate rule id "A"' },
    {
      name: 'two rules whose alerts would have the same labels (one alert for both)',
      text: 'rules:\n  - { id: errors-checkout, name: ServiceErrors, kind: log, filter: { service: checkout }, window: 1m, threshold: 5 }\n  - { id: errors-payments, name: ServiceErrors, kind: log, filter: { service: payments }, window: 1m, threshold: 5 }\n',
      want: 'a.yaml: rules[1].name: its alerts would have the same labels as those of rule "errors-checkout"',
    },
  ])('reports $name with file and key', ({ text, want }) => {
    const dir = files({ 'a.yaml': text });
    const res = checkRuleFiles(['a.yaml'], { baseDir: dir });
    expect(res.ok).toBe(false);
    expect(res.problems.some((p) => p.includes(want)), JSON.stringify(res.problems)).toBe(true);
  });

  it.each([
    { name: 'other labels', second: 'labels: { service: payments }' },
    { name: 'another severity', second: 'severity: critical' },
    { name: 'disabled', second: 'enabled: false' },
  ])('rules with one name are fine when their alerts differ: $name', ({ second }) => {
    const dir = files({ 'a.yaml': `rules:\n  - { id: a, name: Errors, kind: log, filter: { service: checkout }, window: 1m, threshold: 5 }\n  - { id: b, name: Errors, kind: log, filter: { service: payments }, window: 1m, threshold: 5, ${second} }\n` });
    expect(checkRuleFiles(['a.yaml'], { baseDir: dir }).problems).toEqual([]);
  });

  it('reports a missing file', () => {
    const res = checkRuleFiles(['/nonexistent/rules.yaml']);
    expect(res.ok).toBe(false);
    expect(res.problems[0]).toContain('cannot read');
  });

  it('expands globs and counts rules across files', () => {
    const dir = files({
      'a.yaml': 'rules:\n  - name: A\n    kind: promql\n    expr: up == 0\n',
      'b.yaml': 'rules:\n  - name: B\n    kind: log\n    filter: { service: x }\n    threshold: 5\n',
      'c.txt': 'ignored',
    });
    expect(checkRuleFiles(['*.yaml'], { baseDir: dir })).toMatchObject({ ok: true, rules: 2, problems: [], warnings: [] });
  });

  it('warns about a glob that matches no file, without refusing it', () => {
    const dir = files({ 'a.yaml': 'rules:\n  - name: A\n    kind: promql\n    expr: up == 0\n' });
    expect(checkRuleFiles(['*.yml', 'a.yaml', 'later/*.yaml'], { baseDir: dir })).toMatchObject({
      ok: true, rules: 1, problems: [], warnings: ['*.yml: matches no file', 'later/*.yaml: matches no file'],
    });
  });

  it.each([
    { name: 'unknown key', raw: { ruleFiles: [], colour: 1 }, key: 'alerting.colour: unknown key' },
    { name: 'bad duration', raw: { evaluation: { defaultInterval: 'soon' } }, key: 'alerting.evaluation.defaultInterval: invalid duration' },
    { name: 'interval under 1s', raw: { evaluation: { defaultInterval: '100ms' } }, key: 'alerting.evaluation.defaultInterval: must be at least 1s' },
    { name: 'bad prometheus url', raw: { prometheus: { url: 'localhost:9090' } }, key: 'alerting.prometheus.url' },
    { name: 'ruleFiles not a list', raw: { ruleFiles: 'a.yaml' }, key: 'alerting.ruleFiles: must be array' },
  ])('config slice: $name', ({ raw, key }) => {
    expect(() => parseRulesConfig(raw)).toThrow(key);
  });

  it('config slice defaults', () => {
    expect(parseRulesConfig({})).toMatchObject({ ruleFiles: [], defaultIntervalMs: 15_000, resolvedRetentionMs: 900_000, flapping: { enabled: true, window: 21, high: 20, low: 5 } });
  });
});
