// Every PromQL expression of the generated dashboards parses in Prometheus' own parser:
// they are written (with Grafana variables replaced by sample values) as recording rules of a
// temporary file and checked with `promtool check rules`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateDashboards } from '../../dashboards/src/index.ts';
import { queriesOf, substituteVariables } from '../../dashboards/src/inspect.ts';
import { describeWithBinaries, run } from './helpers.ts';

describeWithBinaries('dashboard PromQL', ['promtool'], (bin) => {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-promql-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const queries = generateDashboards().flatMap((g) =>
    queriesOf(g.dashboard)
      .filter((q) => q.datasource?.type === 'prometheus')
      .map((q) => ({ ...q, where: `${g.file} ${q.where}`, promql: substituteVariables(q.expr) })),
  );

  it('finds the queries to check', () => {
    expect(queries.length).toBeGreaterThan(40);
  });

  it('parses each expression with promtool', () => {
    // One group per expression so a failure names exactly one of them.
    const groups = queries.map((q, i) => ({ name: `q${i}`, rules: [{ record: `periscope_dashboard_check_${i}`, expr: q.promql }] }));
    const file = join(dir, 'dashboards.rules.yml');
    writeFileSync(file, stringify({ groups }));
    const r = run(bin.promtool, ['check', 'rules', file]);
    if (r.status !== 0) {
      const bad = [...r.output.matchAll(/group "q(\d+)"/g)].map((m) => queries[Number(m[1])]);
      const detail = bad.length ? bad.map((q) => `${q.where}: ${q.promql}`).join('\n') : '';
      expect.fail(`promtool rejected dashboard PromQL:\n${r.output}\n${detail}`);
    }
    expect(r.output).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it('would catch a broken expression (the check is not vacuous)', () => {
    const file = join(dir, 'broken.rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'q0', rules: [{ record: 'x', expr: 'sum by (le (rate(x[5m]))' }] }] }));
    expect(run(bin.promtool, ['check', 'rules', file]).status).not.toBe(0);
  });
});
