// The dashboards and the shipped Prometheus rules read the collector's own metrics by name and
// label. A name or label the collector does not expose is no error anywhere: Grafana shows
// "No data" and an alert never fires. So the names and labels they read are checked against what
// a real collector renders on /metrics, with exporters (one failing, one delivering), a log
// record, a span and an alert rule behind it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDashboards } from '../../dashboards/src/index.ts';
import { COLLECTOR_METRIC, metricNamesIn, queriesOf } from '../../dashboards/src/inspect.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from '../helpers/collector-process.ts';
import { startElasticsearchServer, type ElasticsearchServer } from '../servers/elasticsearch.ts';
import { startLokiServer, type LokiServer } from '../servers/loki.ts';
import { DEPLOY, readYaml } from './helpers.ts';

/** Labels Prometheus attaches at scrape time, and the bucket bound of histograms. */
const TARGET_LABELS = new Set(['instance', 'job', 'le']);

interface Query {
  where: string;
  expr: string;
}

function shippedQueries(): Query[] {
  const out: Query[] = [];
  for (const g of generateDashboards()) {
    for (const q of queriesOf(g.dashboard)) if (q.datasource?.type === 'prometheus') out.push({ where: `${g.file}: ${q.where}`, expr: q.expr });
  }
  for (const file of ['alerts.yml', 'recording.yml']) {
    for (const group of readYaml(join(DEPLOY, 'prometheus/rules', file)).groups as Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>) {
      for (const r of group.rules) out.push({ where: `${file}: ${r.alert ?? r.record}`, expr: String(r.expr) });
    }
  }
  return out;
}

/** Label names an expression reads: aggregation `by (…)` lists and selector matchers. */
function labelsReadIn(expr: string): string[] {
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const labels = new Set<string>();
  for (const m of text.matchAll(/\bby\s*\(([^)]*)\)/g)) for (const l of m[1].split(',')) if (l.trim()) labels.add(l.trim());
  for (const m of text.matchAll(/\{([^}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]);
  return [...labels];
}

/** Families on /metrics (from `# TYPE`), with the label names seen on their samples. */
function familiesOf(exposition: string): Map<string, { type: string; labels: Set<string>; sampled: boolean }> {
  const families = new Map<string, { type: string; labels: Set<string>; sampled: boolean }>();
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

function familyOf<T extends { type: string }>(families: Map<string, T>, sample: string): T | undefined {
  const exact = families.get(sample);
  if (exact) return exact;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  const base = m ? families.get(m[1]) : undefined;
  return base && (base.type === 'histogram' || base.type === 'summary') ? base : undefined;
}

describe("dashboards and rules read what the collector's /metrics has", () => {
  let loki: LokiServer;
  let es: ElasticsearchServer;
  let collector: CollectorProcess;
  let families: ReturnType<typeof familiesOf>;
  const queries = shippedQueries();

  beforeAll(async () => {
    loki = await startLokiServer();
    await loki.setFault({ mode: 'down' });
    es = await startElasticsearchServer();
    collector = await startCollectorProcess({
      configYaml: `exporters:
  - type: loki
    name: loki-down
    url: ${loki.url}
    batch: { wait: 50ms }
    retry: { initialBackoff: 50ms, maxBackoff: 200ms }
  - type: elasticsearch
    name: es
    url: ${es.url}
    batch: { wait: 50ms }
`,
    });
    const log = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"msg":"metrics check","appName":"checkout"}\n' });
    expect(log.status).toBe(200);
    const start = BigInt(Date.now()) * 1_000_000n;
    const span = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceSpans: [{
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
          scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'GET /orders', kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 2_000_000n) }] }],
        }],
      }),
    });
    expect(span.status).toBe(200);
    // A rule, so the per-rule alert series exist.
    const rule = await fetch(`${collector.url}/api/v1/alerts/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'MetricsCheck', kind: 'log', filter: { service: 'checkout' }, mode: 'frequency', window: '1m', threshold: 1000, interval: '1s', severity: 'critical' }),
    });
    expect(rule.status, await rule.text()).toBe(201);
    const exposition = await waitFor(async () => {
      const text = await (await fetch(`${collector.url}/metrics`)).text();
      const ready = text.includes('periscope_exporter_sent_items_total{exporter="es"') && text.includes('periscope_exporter_failed_requests_total{exporter="loki-down"') && text.includes('periscope_alerts_open{rule=');
      return ready ? text : undefined;
    });
    families = familiesOf(exposition);
  });

  afterAll(async () => {
    await collector?.dispose();
    await loki?.close();
    await es?.close();
  });

  it('finds the queries to check', () => {
    const read = queries.flatMap((q) => metricNamesIn(q.expr)).filter((n) => COLLECTOR_METRIC.test(n));
    expect(new Set(read).size).toBeGreaterThan(20);
    expect(read).toContain('periscope_exporter_queue_items');
  });

  it('every collector metric they read is exposed', () => {
    const missing: string[] = [];
    for (const q of queries) {
      for (const name of metricNamesIn(q.expr)) {
        if (COLLECTOR_METRIC.test(name) && !familyOf(families, name)) missing.push(`${q.where} reads ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every label they select or group by is on the metrics they read', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const q of queries) {
      const read = metricNamesIn(q.expr).map((n) => ({ n, f: familyOf(families, n) }));
      // Only queries whose every metric is the collector's and has samples here (label names known).
      if (read.length === 0 || !read.every(({ n, f }) => COLLECTOR_METRIC.test(n) && f?.sampled)) continue;
      checked++;
      const have = new Set(read.flatMap(({ f }) => [...f!.labels]));
      for (const label of labelsReadIn(q.expr)) if (!TARGET_LABELS.has(label) && !have.has(label)) wrong.push(`${q.where} reads label ${label} of ${read.map((r) => r.n).join(', ')}`);
    }
    expect(wrong).toEqual([]);
    // Not vacuous: the exporter, ingest and span metrics queries had samples to check against.
    expect(checked).toBeGreaterThan(12);
  });

  it('would catch a wrong name or label (the checks are not vacuous)', () => {
    expect(familyOf(families, 'periscope_exporter_queue_depth_records')).toBeUndefined();
    expect(familiesOf('# TYPE x_seconds histogram\nx_seconds_bucket{le="1",channel="sms"} 1\n').get('x_seconds')!.labels).toEqual(new Set(['le', 'channel']));
    expect(labelsReadIn('sum by (exporter, reason) (rate(m{instance=~"$i", state="open"}[5m]))').sort()).toEqual(['exporter', 'instance', 'reason', 'state']);
    expect(families.get('periscope_exporter_failed_requests_total')!.labels.has('reason')).toBe(false);
  });
});
