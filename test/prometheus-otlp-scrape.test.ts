// A real Prometheus (Debian package) scrapes the collector's /metrics after an app sent OTLP
// metrics and spans: its HTTP API returns the series with the app's job (service.name) and
// instance (service.instance.id), thanks to honor_labels, and the collector's own series under
// the scrape job. https://prometheus.io/docs/prometheus/2.42/querying/api/
import { SpanKind } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithBinaries } from './deploy/helpers.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startPrometheus, type PrometheusProcess } from './helpers/prometheus.ts';

describeWithBinaries('Prometheus scrapes OTLP metrics and span metrics from the collector', ['prometheus'], (bin) => {
  const service = `scrape-check-${process.pid}`;
  const instance = `pod-${process.pid}`;
  let collector: CollectorProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let api = '';
  let dir = '';

  async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: any[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result;
  }

  /** Polls `promql` until `ok` holds for its result; returns that result. */
  async function until(promql: string, ok: (r: Awaited<ReturnType<typeof query>>) => boolean) {
    let last: Awaited<ReturnType<typeof query>> = [];
    await waitFor(async () => ok((last = await query(promql))), 20_000, 250);
    return last;
  }

  beforeAll(async () => {
    collector = await startCollectorProcess();
    const resource = resourceFromAttributes({ 'service.name': service, 'service.instance.id': instance });
    const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${collector.url}/v1/metrics` }), exportIntervalMillis: 3_600_000 });
    const meters = new MeterProvider({ resource, readers: [reader] });
    const meter = meters.getMeter('scrape-test');
    meter.createCounter('http.requests', { unit: '{request}' }).add(42, { route: '/pay' });
    meter.createHistogram('http.server.duration', { unit: 'ms' }).record(120, { route: '/pay' });
    await reader.forceFlush();
    await meters.shutdown();
    const tracer = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${collector.url}/v1/traces` }) })] });
    tracer.getTracer('scrape-test').startSpan('POST /pay', { kind: SpanKind.SERVER }).end();
    await tracer.forceFlush();
    await tracer.shutdown();

    dir = mkdtempSync(join(tmpdir(), 'periscope-scrape-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: periscope-collector',
      '    honor_labels: true',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${collector.httpPort}']`,
      '',
    ].join('\n'));
    prometheus = await startPrometheus({ bin: bin.prometheus, configFile: config, dataDir: join(dir, 'tsdb'), args: ['--log.level=warn'] });
    api = prometheus.url;
  });

  afterAll(async () => {
    await prometheus?.stop();
    await collector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the scrape is healthy', async () => {
    const up = await until('up{job="periscope-collector"}', (r) => r.length === 1 && r[0].value[1] === '1');
    expect(up[0].metric.instance).toBe(`127.0.0.1:${collector!.httpPort}`);
  });

  it('OTLP metrics keep the app\'s job and instance', async () => {
    const series = await until(`http_requests_total{route="/pay", job="${service}"}`, (r) => r.length > 0);
    expect(series).toHaveLength(1);
    expect(series[0].metric).toMatchObject({ __name__: 'http_requests_total', job: service, instance, route: '/pay', otel_scope_name: 'scrape-test' });
    expect(series[0].value[1]).toBe('42');
    const p = await query(`histogram_quantile(0.5, sum by (le) (http_server_duration_seconds_bucket{job="${service}", instance="${instance}"}))`);
    expect(p).toHaveLength(1);
    expect(Number(p[0].value[1])).toBeGreaterThan(0.1);
    expect(Number(p[0].value[1])).toBeLessThanOrEqual(0.25);
  });

  it('span metrics carry job, instance and the spanmetrics labels; the collector\'s own series keep the scrape job', async () => {
    const calls = await until(`traces_span_metrics_calls_total{service_name="${service}"}`, (r) => r.length > 0);
    expect(calls[0].metric).toMatchObject({ job: service, instance, span_name: 'POST /pay', span_kind: 'SPAN_KIND_SERVER', status_code: 'STATUS_CODE_UNSET' });
    expect(calls[0].value[1]).toBe('1');
    const own = await query('periscope_metrics_series{store="otlp"}');
    expect(own[0].metric).toMatchObject({ job: 'periscope-collector', instance: `127.0.0.1:${collector!.httpPort}` });
  });
});
