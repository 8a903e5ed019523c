// deploy/prometheus: the config and rule files are valid for Prometheus (promtool), the rules
// compute what they claim (promtool unit tests), and dashboards and rules agree on names.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDashboards, RED } from '../../dashboards/src/index.ts';
import { metricNamesIn, queriesOf } from '../../dashboards/src/inspect.ts';
import { DEPLOY, describeWithBinaries, readYaml, run } from './helpers.ts';

const PROM = join(DEPLOY, 'prometheus');
const ruleFiles = readdirSync(join(PROM, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join(PROM, 'rules', f));

describeWithBinaries('promtool', ['promtool'], (bin) => {
  it('check config accepts prometheus.yml and finds its rule files', () => {
    const r = run(bin.promtool, ['check', 'config', join(PROM, 'prometheus.yml')]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  it('check rules accepts every rule file', () => {
    const r = run(bin.promtool, ['check', 'rules', ...ruleFiles]);
    expect(r.status, r.output).toBe(0);
  });

  it('the rule unit tests pass (recorded values, alerts firing after `for`)', () => {
    const r = run(bin.promtool, ['test', 'rules', join(PROM, 'tests', 'rules.test.yml')]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });
});

describe('rule files', () => {
  const rules = ruleFiles.flatMap((f) => readYaml(f).groups.flatMap((g: { rules: any[] }) => g.rules));
  const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record as string));
  const alerts = rules.filter((r) => r.alert);

  it('record every series the dashboards read from recording rules', () => {
    for (const name of Object.values(RED)) expect(recorded.has(name), name).toBe(true);
    const usedRecorded = generateDashboards().flatMap((g) => queriesOf(g.dashboard).flatMap((q) => metricNamesIn(q.expr))).filter((n) => n.includes(':'));
    expect(usedRecorded.length).toBeGreaterThan(0);
    for (const name of usedRecorded) expect(recorded.has(name), `dashboards read ${name}, which no rule records`).toBe(true);
  });

  it('record names follow level:metric:operations', () => {
    for (const name of recorded) expect(name).toMatch(/^[a-z_]+:[a-z_]+:[a-z0-9_]+$/);
  });

  it('give every alert a severity Periscope routes on and a summary', () => {
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
    }
  });

  it('alerts only read recorded series that exist', () => {
    for (const a of alerts) {
      for (const name of metricNamesIn(a.expr).filter((n) => n.includes(':'))) expect(recorded.has(name), `${a.alert} reads ${name}`).toBe(true);
    }
  });
});
