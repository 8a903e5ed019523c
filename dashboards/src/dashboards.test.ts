// Dashboards as code: the committed JSON is what the code produces, and each dashboard is
// structurally sound (ids, layout, datasources, variables, metric and label names).
// PromQL syntax is checked with promtool in test/deploy/dashboards-promql.test.ts.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATASOURCES, GENERATED_MARKER, OUTPUT_DIR, RED, generateDashboards } from './index.ts';
import { GRAFANA_BUILTIN_DATASOURCE } from './house.ts';
import { COLLECTOR_METRIC, GLOBAL_VARIABLES, allPanels, lokiStreamLabelsIn, metricNamesIn, queriesOf, variablesIn } from './inspect.ts';

const generated = generateDashboards();

/**
 * Metrics the dashboards may read that come from elsewhere than the collector's own code: the
 * SDK's runtime metrics (relayed from apps through OTLP) and the recorded RED series. A name
 * outside this list is most likely a typo, which Grafana would only show as "No data". The
 * collector's own metrics (periscope_*, traces_span_metrics_*) are checked by name and label
 * against a running collector's /metrics in test/deploy/collector-metrics.test.ts.
 */
const KNOWN_METRICS = new Set([
  'nodejs_eventloop_delay_p50_seconds', 'nodejs_eventloop_delay_p90_seconds', 'nodejs_eventloop_delay_p99_seconds',
  'nodejs_eventloop_utilization_ratio', 'v8js_memory_heap_used_bytes', 'v8js_memory_heap_space_size_bytes', 'v8js_gc_duration_seconds_bucket',
  'v8js_gc_duration_seconds_sum', 'v8js_gc_duration_seconds_count', 'process_memory_usage_bytes', 'v8js_resource_active',
  ...Object.values(RED),
]);

/** Loki stream labels the collector's Loki exporter sets (low cardinality only). */
const LOKI_LABELS = new Set(['service_name', 'level', 'host']);

describe('generated files', () => {
  it('deploy/grafana/dashboards holds exactly what dashboards/src produces', () => {
    const stale: string[] = [];
    for (const d of generated) {
      let onDisk: string | undefined;
      try {
        onDisk = readFileSync(join(OUTPUT_DIR, d.file), 'utf8');
      } catch {
        onDisk = undefined;
      }
      if (onDisk !== d.text) stale.push(`${d.file} ${onDisk === undefined ? 'is missing' : 'differs'}`);
    }
    const wanted = new Set(generated.map((d) => d.file));
    for (const file of readdirSync(OUTPUT_DIR)) {
      if (file.endsWith('.json') && !wanted.has(file)) stale.push(`${file} is not produced by dashboards/src`);
    }
    expect(stale, `generated dashboards are stale: run \`npm run dashboards\` and commit the result\n  ${stale.join('\n  ')}`).toEqual([]);
  });

  it('generation is deterministic', () => {
    expect(generateDashboards().map((d) => d.text)).toEqual(generated.map((d) => d.text));
  });

  it('dashboard uids are unique and stable-looking', () => {
    const uids = generated.map((d) => d.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^periscope-[a-z-]{1,30}$/); // Grafana allows at most 40 characters
  });
});

describe.each(generated.map((g) => ({ name: g.file, d: g.dashboard })))('$name', ({ d }) => {
  const panels = allPanels(d);
  const variables = new Map((d.templating?.list ?? []).map((v) => [v.name, v]));

  it('says it is generated, and is provisionable (no numeric id)', () => {
    expect(d.description).toContain(GENERATED_MARKER);
    expect((d as { id?: unknown }).id ?? null).toBeNull();
    expect(d.tags).toContain('periscope');
  });

  it('has unique panel ids', () => {
    const ids = panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && (id as number) > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays panels out inside 24 columns without overlaps', () => {
    const cells = new Set<string>();
    for (const p of panels) {
      const g = p.gridPos!;
      expect(g.x + g.w, `panel "${p.title}"`).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const key = `${x},${y}`;
          expect(cells.has(key), `panel "${p.title}" overlaps another at ${key}`).toBe(false);
          cells.add(key);
        }
      }
    }
  });

  it('gives every panel and query a datasource that is a datasource variable of its type', () => {
    for (const p of panels) {
      if (p.type === 'row') continue;
      const panel = p as dashboard.Panel;
      expect(panel.datasource, `panel "${panel.title}"`).toBeDefined();
      expect(panel.targets?.length, `panel "${panel.title}" has no query`).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((t) => (t as { refId?: string }).refId);
      expect(new Set(refIds).size, `panel "${panel.title}" refIds`).toBe(refIds.length);
    }
    for (const q of queriesOf(d)) {
      const ds = q.datasource;
      expect(ds?.uid, q.where).toBeDefined();
      const ref = variablesIn(ds!.uid!);
      expect(ref.length, `${q.where}: datasource uid ${ds!.uid} must be a variable`).toBe(1);
      const variable = variables.get(ref[0]);
      expect(variable?.type, `${q.where}: ${ds!.uid} is not a datasource variable`).toBe('datasource');
      expect(variable?.query, `${q.where}: variable ${ref[0]} lists ${String(variable?.query)} datasources, query is ${ds!.type}`).toBe(ds!.type);
    }
  });

  it('defaults each datasource variable to the provisioned datasource', () => {
    const provisioned = new Map<string, (typeof DATASOURCES)[keyof typeof DATASOURCES]>(Object.values(DATASOURCES).map((ds) => [ds.variable, ds]));
    const dsVars = [...variables.values()].filter((v) => v.type === 'datasource');
    expect(dsVars.length).toBeGreaterThan(0);
    for (const v of dsVars) {
      const ds = provisioned.get(v.name);
      expect(ds, `datasource variable ${v.name}`).toBeDefined();
      expect(v.query).toBe(ds!.type);
      expect(v.current?.value).toBe(ds!.uid);
    }
  });

  it('only uses the built-in Grafana datasource for the built-in annotation', () => {
    for (const a of d.annotations?.list ?? []) expect(a.datasource).toEqual(GRAFANA_BUILTIN_DATASOURCE);
  });

  it('refers only to variables that exist (or are Grafana globals), defined before use', () => {
    const order = [...variables.keys()];
    for (const q of queriesOf(d)) {
      for (const name of variablesIn(q.expr)) {
        expect(variables.has(name) || GLOBAL_VARIABLES.has(name), `${q.where} uses undefined $${name}`).toBe(true);
        if (q.where.startsWith('variable ')) {
          const self = q.where.slice('variable '.length);
          expect(order.indexOf(name), `${q.where} depends on $${name}, defined after it`).toBeLessThan(order.indexOf(self));
        }
      }
    }
  });

  it('reads only known metrics', () => {
    for (const q of queriesOf(d)) {
      if (q.datasource?.type !== 'prometheus') continue;
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.where} selects no metric: ${q.expr}`).toBeGreaterThan(0);
      for (const name of names) expect(COLLECTOR_METRIC.test(name) || KNOWN_METRICS.has(name), `${q.where} reads unknown metric ${name}`).toBe(true);
    }
  });

  it('selects Loki streams only by the low-cardinality labels the exporter sets', () => {
    for (const q of queriesOf(d)) {
      if (q.datasource?.type !== 'loki') continue;
      const labels = lokiStreamLabelsIn(q.expr);
      expect(labels.length, `${q.where}: no stream selector`).toBeGreaterThan(0);
      for (const l of labels) expect(LOKI_LABELS.has(l), `${q.where}: stream label ${l}`).toBe(true);
    }
  });
});

describe('units', () => {
  // Grafana shows a number without a unit as a bare figure: 0.0012 could be seconds or
  // milliseconds, 1.5 a rate or a count. Every panel of numbers names its unit.
  it.each(generated.map((g) => ({ name: g.file, dashboard: g.dashboard })))('$name: every panel of numbers has a unit', ({ dashboard: d }) => {
    for (const panel of allPanels(d) as dashboard.Panel[]) {
      if (!['stat', 'timeseries', 'table'].includes(panel.type)) continue;
      expect(panel.fieldConfig?.defaults?.unit, `${panel.title}: no unit`).toBeTruthy();
    }
  });

  it.each([
    { name: 'a duration in seconds', re: /_seconds(_bucket)?(:[a-z0-9_]+)?[{)]/, units: ['s'] },
    { name: 'a size in bytes', re: /_bytes[{)]/, units: ['bytes'] },
  ])('a panel reading $name shows it in that unit', ({ re, units }) => {
    for (const g of generated) {
      for (const panel of allPanels(g.dashboard) as dashboard.Panel[]) {
        const exprs = ((panel.targets ?? []) as unknown as Array<{ expr?: string }>).map((t) => t.expr ?? '');
        // Panels that show the metric's own value: a gauge, or a quantile of its buckets (a rate
        // of its _sum, time spent per second, is a ratio).
        if (exprs.length === 0 || !exprs.every((e) => re.test(e))) continue;
        expect(units, `${g.file} / ${panel.title}`).toContain(panel.fieldConfig?.defaults?.unit);
      }
    }
  });
});

describe('what each dashboard must show', () => {
  const byUid = new Map(generated.map((g) => [g.dashboard.uid, g.dashboard]));
  const titles = (uid: string) => allPanels(byUid.get(uid)!).map((p) => p.title);
  const varNames = (uid: string) => (byUid.get(uid)!.templating?.list ?? []).map((v) => v.name);
  const panelOf = (uid: string, title: string) => allPanels(byUid.get(uid)!).find((p) => p.title === title) as dashboard.Panel;
  const exprsOf = (panel: dashboard.Panel) => panel.targets!.map((t) => (t as unknown as { expr: string }).expr);

  it.each([
    {
      name: 'service overview',
      uid: 'periscope-service-overview',
      vars: ['ds_prometheus', 'ds_loki', 'service', 'instance'],
      panels: ['Request rate by service', 'Error ratio by service', 'Latency p50 / p95 / p99', 'Log volume by level', 'Recent error logs', 'Event loop delay', 'Heap used / total', 'GC pause p99 by kind'],
    },
    {
      name: 'collector health',
      uid: 'periscope-collector-health',
      vars: ['ds_prometheus', 'instance', 'exporter'],
      panels: ['Ingest rate by receiver', 'Rejects by reason', 'Queue depth', 'Oldest unsent record age', 'Dropped by reason', 'Circuit breakers'],
    },
    {
      name: 'alerting',
      uid: 'periscope-alerting',
      vars: ['ds_prometheus', 'instance'],
      panels: ['Firing alerts', 'Critical firing', 'Firing now', 'Open alerts by state', 'Notification latency', 'Failures by channel', 'Escalation steps by chain', 'Acknowledgements'],
    },
  ])('$name', ({ uid, vars, panels }) => {
    expect(varNames(uid)).toEqual(expect.arrayContaining(vars));
    expect(titles(uid)).toEqual(expect.arrayContaining(panels));
  });

  it("the requests refused whole panel shows the HTTP listener's refusals too, which no receiver counts", () => {
    const exprs = exprsOf(panelOf('periscope-collector-health', 'Requests refused whole')).join('\n');
    expect(exprs).toContain('periscope_http_inflight_refused_requests_total');
    expect(exprs).toContain('periscope_http_refused_connections_total');
  });

  it('the dropped panel shows dead letters discarded with DELETE, which dropped_items_total does not count', () => {
    const exprs = exprsOf(panelOf('periscope-collector-health', 'Dropped by reason'));
    expect(exprs.some((e) => e.includes('periscope_exporter_dead_letters_discarded_total') && e.includes('reason="deleted"'))).toBe(true);
  });

  it('the recent error logs panel queries Loki for err and worse', () => {
    const panel = panelOf('periscope-service-overview', 'Recent error logs');
    expect(panel.type).toBe('logs');
    const expr = exprsOf(panel)[0];
    expect(expr).toBe('{service_name=~"$service", level=~"emerg|alert|crit|err"}');
  });

  it('the runtime panels find a service picked from span metrics, with or without a service.namespace', () => {
    // $service comes from span metrics' service_name; runtime series carry job = service.name or
    // service.namespace/service.name (docs/traces-and-metrics.md). Prometheus anchors =~ regexes.
    const overview = generated.find((g) => g.file === 'service-overview.json')!.dashboard;
    const runtime = queriesOf(overview).filter((q) => /\b(nodejs|v8js|process)_/.test(q.expr));
    expect(runtime.length).toBeGreaterThan(5);
    for (const q of runtime) {
      const pattern = /job=~"([^"]*)"/.exec(q.expr)?.[1];
      expect(pattern, q.where).toBeDefined();
      const matches = (service: string, job: string) => new RegExp(`^(?:${pattern!.replace('$service', service)})$`).test(job);
      expect(matches('nsapp', 'nsapp'), q.where).toBe(true);
      expect(matches('nsapp', 'shop/nsapp'), q.where).toBe(true);
      expect(matches('nsapp', 'shop/nsapp2'), q.where).toBe(false);
      expect(matches('(a|b)', 'b'), q.where).toBe(true); // several services picked
    }
  });
});
