/**
 * Reading generated dashboards back: their panels, queries and variable references. Used by the
 * tests (structure, PromQL validity through promtool, metric names) — not by the generator.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface FoundQuery {
  /** Where it is, for messages: `panel "Title" target A` or `variable service`. */
  where: string;
  /** The datasource the query runs against (the target's, else its panel's). */
  datasource: DatasourceRef | undefined;
  /** PromQL/LogQL text; for a `label_values(selector, label)` variable, the selector only. */
  expr: string;
}

/** Panels in grid order, rows' nested panels included (rows themselves too). */
export function allPanels(d: dashboard.Dashboard): Array<dashboard.Panel | dashboard.RowPanel> {
  const out: Array<dashboard.Panel | dashboard.RowPanel> = [];
  for (const p of d.panels ?? []) {
    out.push(p);
    if (p.type === 'row') out.push(...((p as dashboard.RowPanel).panels ?? []));
  }
  return out;
}

export function queriesOf(d: dashboard.Dashboard): FoundQuery[] {
  const out: FoundQuery[] = [];
  for (const p of allPanels(d)) {
    if (p.type === 'row') continue;
    const panel = p as dashboard.Panel;
    for (const t of (panel.targets ?? []) as Array<{ refId?: string; expr?: string; datasource?: DatasourceRef }>) {
      out.push({ where: `panel "${panel.title}" target ${t.refId}`, datasource: t.datasource ?? panel.datasource, expr: t.expr ?? '' });
    }
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const text = typeof v.query === 'string' ? v.query : String((v.query as { query?: string } | undefined)?.query ?? '');
    const m = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(text.trim());
    out.push({ where: `variable ${v.name}`, datasource: v.datasource, expr: m ? m[1] : text });
  }
  return out;
}

/** Grafana's built-in variables (https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables). */
export const GLOBAL_VARIABLES = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms', '__auto', '__all', '__dashboard', '__from', '__to']);

const VARIABLE_RE = /\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)(?::[^\]]*)?\]\]/g;

/** Names of the template variables an expression refers to. */
export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(VARIABLE_RE)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/**
 * The expression as Grafana would send it, with sample values: interval variables become
 * durations, every other variable `x` (they only appear inside label-matcher strings).
 */
export function substituteVariables(expr: string): string {
  return expr.replace(VARIABLE_RE, (_all, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    if (name === '__range_s' || name === '__range_ms' || name === '__interval_ms') return '60';
    if (name.startsWith('__')) return '1m';
    return 'x';
  });
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan', 'atan2']);

/** Metric names a PromQL expression selects (functions, keywords, labels and literals excluded). */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![0-9.a-zA-Z_:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:]|\s*\()/g)) {
    if (!PROMQL_KEYWORDS.has(m[1].toLowerCase())) names.add(m[1]);
  }
  return [...names];
}

/** Metrics the collector renders on its own /metrics (the SDK's runtime metrics come from apps). */
export const COLLECTOR_METRIC = /^(periscope_|traces_span_metrics_)/;

/** Label names used in the stream selectors of a LogQL expression. */
export function lokiStreamLabelsIn(expr: string): string[] {
  const labels = new Set<string>();
  for (const selector of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const m of selector[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g)) labels.add(m[1]);
  }
  return [...labels];
}
