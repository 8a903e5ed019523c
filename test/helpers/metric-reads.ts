// What the shipped dashboards and Prometheus rules read from the collector's /metrics, and a check
// of those reads against an exposition a real collector rendered. A name or label the collector
// does not expose is no error anywhere: Grafana shows "No data" and an alert never fires.
import { join } from 'node:path';
import { generateDashboards } from '../../dashboards/src/index.ts';
import { COLLECTOR_METRIC, metricNamesIn, queriesOf } from '../../dashboards/src/inspect.ts';
import { DEPLOY, readYaml } from '../deploy/helpers.ts';

/** Labels Prometheus attaches at scrape time, and the bucket bound of histograms. */
const TARGET_LABELS = new Set(['instance', 'job', 'le']);

export interface ShippedQuery {
  /** For messages: the dashboard file and panel, or the rule file and rule. */
  where: string;
  expr: string;
}

export interface Family {
  type: string;
  /** Label names seen on its samples. */
  labels: Set<string>;
  sampled: boolean;
}

/** Every PromQL expression of the generated dashboards and of deploy/prometheus/rules. */
export function shippedQueries(): ShippedQuery[] {
  const out: ShippedQuery[] = [];
  for (const g of generateDashboards()) {
    for (const q of queriesOf(g.dashboard)) if (q.datasource?.type === 'prometheus') out.push({ where: `${g.file}: ${q.where}`, expr: q.expr });
  }
  for (const file of ['alerts.yml', 'recording.yml']) {
    const rules = readYaml(join(DEPLOY, 'prometheus/rules', file)) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> };
    for (const group of rules.groups) for (const r of group.rules) out.push({ where: `${file}: ${r.alert ?? r.record}`, expr: String(r.expr) });
  }
  return out;
}

/** Label names an expression reads: aggregation `by (…)` lists and selector matchers. */
export function labelsReadIn(expr: string): string[] {
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const labels = new Set<string>();
  for (const m of text.matchAll(/\bby\s*\(([^)]*)\)/g)) for (const l of m[1].split(',')) if (l.trim()) labels.add(l.trim());
  for (const m of text.matchAll(/\{([^}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]);
  return [...labels];
}

/** Families on /metrics (from `# TYPE`), with the label names seen on their samples. */
export function familiesOf(exposition: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of exposition.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) families.set(t[1], { type: t[2], labels: new Set(), sampled: false });
  }
  for (const line of exposition.split('\n')) {
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? /.exec(line);
    if (!s) continue;
    const family = familyOf(families, s[1]);
    if (!family) continue;
    family.sampled = true;
    for (const l of (s[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) family.labels.add(l[1]);
  }
  return families;
}

/** The family a sample name belongs to (a histogram's _bucket, _sum and _count included). */
export function familyOf<T extends { type: string }>(families: Map<string, T>, sample: string): T | undefined {
  const exact = families.get(sample);
  if (exact) return exact;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  const base = m ? families.get(m[1]) : undefined;
  return base && (base.type === 'histogram' || base.type === 'summary') ? base : undefined;
}

/**
 * Labels the queries select or group by that the metrics they read do not carry. Only queries
 * whose every metric is the collector's and has samples in `families` are checked (label names
 * are known only from samples); `checked` lists them.
 */
export function unknownLabelReads(queries: ShippedQuery[], families: Map<string, Family>): { wrong: string[]; checked: ShippedQuery[] } {
  const wrong: string[] = [];
  const checked: ShippedQuery[] = [];
  for (const q of queries) {
    const read = metricNamesIn(q.expr).map((n) => ({ n, f: familyOf(families, n) }));
    if (read.length === 0 || !read.every(({ n, f }) => COLLECTOR_METRIC.test(n) && f?.sampled)) continue;
    checked.push(q);
    const have = new Set(read.flatMap(({ f }) => [...f!.labels]));
    for (const label of labelsReadIn(q.expr)) if (!TARGET_LABELS.has(label) && !have.has(label)) wrong.push(`${q.where} reads label ${label} of ${read.map((r) => r.n).join(', ')}`);
  }
  return { wrong, checked };
}
