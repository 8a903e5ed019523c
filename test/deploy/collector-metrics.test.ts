// The dashboards and the shipped Prometheus rules read the collector's own metrics by name and
// label. A name or label the collector does not expose is no error anywhere: Grafana shows
// "No data" and an alert never fires. So the names and labels they read are checked against what
// a real collector renders on /metrics, with exporters (one failing, one delivering), a log
// record, a span and an alert rule behind it, serving https (http.tls: the certificate's expiry).
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTOR_METRIC, metricNamesIn } from '../../dashboards/src/inspect.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from '../helpers/collector-process.ts';
import { familiesOf, familyOf, labelsReadIn, shippedQueries, unknownLabelReads } from '../helpers/metric-reads.ts';
import { makeTestCerts, opensslMissing } from '../helpers/tls-certs.ts';
import { startElasticsearchServer, type ElasticsearchServer } from '../servers/elasticsearch.ts';
import { startLokiServer, type LokiServer } from '../servers/loki.ts';

describe.skipIf(opensslMissing)("dashboards and rules read what the collector's /metrics has", () => {
  let loki: LokiServer;
  let es: ElasticsearchServer;
  let collector: CollectorProcess;
  let families: ReturnType<typeof familiesOf>;
  const queries = shippedQueries();
  const certs = makeTestCerts();
  const dispatcher = new Agent({ connect: { ca: certs.read(certs.ca) } });
  const fetch = (url: string, init: Parameters<typeof undiciFetch>[1] = {}) => undiciFetch(url, { ...init, dispatcher });

  beforeAll(async () => {
    loki = await startLokiServer();
    await loki.setFault({ mode: 'down' });
    es = await startElasticsearchServer();
    collector = await startCollectorProcess({
      configYaml: `http:
  tls: { certFile: ${certs.serverCert}, keyFile: ${certs.serverKey} }
exporters:
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
    certs.remove();
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
    const { wrong, checked } = unknownLabelReads(queries, families);
    expect(wrong).toEqual([]);
    // Not vacuous: the exporter, ingest and span metrics queries had samples to check against.
    // (The notification, escalation and ack metrics have samples in alerting-e2e.test.ts, which
    // runs the same check.)
    expect(checked.length).toBeGreaterThan(12);
  });

  it('would catch a wrong name or label (the checks are not vacuous)', () => {
    expect(familyOf(families, 'periscope_exporter_queue_depth_records')).toBeUndefined();
    expect(familiesOf('# TYPE x_seconds histogram\nx_seconds_bucket{le="1",channel="sms"} 1\n').get('x_seconds')!.labels).toEqual(new Set(['le', 'channel']));
    expect(labelsReadIn('sum by (exporter, reason) (rate(m{instance=~"$i", state="open"}[5m]))').sort()).toEqual(['exporter', 'instance', 'reason', 'state']);
    expect(families.get('periscope_exporter_failed_requests_total')!.labels.has('reason')).toBe(false);
  });
});
