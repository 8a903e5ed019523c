// periscope_log_records_total{service,level} on a real collector: the service label is a sender's
// appName, so its values are bounded (metrics.logVolume.maxServices) and the rest is counted in
// one overflow series per level; totals stay right.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess({ configYaml: 'metrics:\n  logVolume:\n    maxServices: 5\n' });
});

afterAll(async () => {
  await collector?.dispose();
});

it('holds series for at most maxServices services and counts the records of the others in the overflow series', async () => {
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) lines.push(JSON.stringify({ severity: i % 2 === 0 ? 6 : 3, appName: `svc-${i}`, msg: 'm' }));
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
  expect(res.status).toBe(200);

  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const samples = text.split('\n').filter((l) => l.startsWith('periscope_log_records_total{'));
  const services = new Set(samples.map((l) => /service="([^"]*)"/.exec(l)?.[1]).filter((s) => s !== undefined));
  expect(services.size).toBe(5);
  const total = samples.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  expect(total).toBe(2000);
  expect(samples).toContain('periscope_log_records_total{level="info",otel_metric_overflow="true"} 997');
  expect(samples).toContain('periscope_log_records_total{level="err",otel_metric_overflow="true"} 998');
  expect(text).toMatch(/^periscope_log_volume_services 5$/m);
});
