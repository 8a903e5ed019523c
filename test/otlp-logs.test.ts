// OTLP/HTTP logs into the real collector, sent by the OpenTelemetry JS exporters themselves
// (protobuf and JSON), plus bad input answered per the OTLP spec.
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as OTLPLogExporterJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OTLPLogExporterProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;
beforeAll(async () => {
  // Records carry fixed 2026 dates: keep retention from deleting them mid-run.
  collector = await startCollectorProcess({ configYaml: 'store:\n  retention:\n    maxAge: 3650d\n' });
});
afterAll(async () => {
  await collector?.stop();
});

async function search(query: string): Promise<any[]> {
  return ((await (await fetch(`${collector.url}/api/v1/logs?${query}`)).json()) as { records: any[] }).records;
}

it.each([
  { name: 'protobuf', Exporter: OTLPLogExporterProto },
  { name: 'JSON', Exporter: OTLPLogExporterJson },
])('the OpenTelemetry JS $name exporter delivers logs with the mapped fields', async ({ name, Exporter }) => {
  const service = `otel-${name}-${Date.now()}`;
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'host.name': 'otel-host', 'process.pid': 4321 }),
    processors: [new SimpleLogRecordProcessor({ exporter: new Exporter({ url: `${collector.url}/v1/logs` }) })],
  });
  const logger = provider.getLogger('checkout-scope', '1.2.3');
  logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'disk almost full ✓', attributes: { disk: 'sda', pct: 91 } });
  logger.emit({ severityNumber: SeverityNumber.ERROR2, body: 'payment failed', timestamp: new Date('2026-03-01T10:00:00.123Z') });
  await provider.forceFlush();
  await provider.shutdown();

  const records = await search(`service=${service}`);
  expect(records).toHaveLength(2);
  const warn = records.find((r) => r.msg === 'disk almost full ✓');
  expect(warn).toMatchObject({ severity: 4, level: 'warning', appName: service, hostname: 'otel-host', procId: '4321', attributes: { disk: 'sda', pct: 91 } });
  expect(warn.attributes.scope).toMatchObject({ name: 'checkout-scope', version: '1.2.3' });
  const crit = records.find((r) => r.msg === 'payment failed');
  expect(crit).toMatchObject({ severity: 2, level: 'crit', timestamp: '2026-03-01T10:00:00.123000Z' });
});

it('partial success: invalid records are counted in partialSuccess, valid ones kept', async () => {
  const service = `otlp-partial-${Date.now()}`;
  const body = {
    resourceLogs: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeLogs: [{
        logRecords: [
          { timeUnixNano: '1772359200000000000', severityNumber: 9, body: { stringValue: 'good one' } },
          { timeUnixNano: '1772359200000000000', severityNumber: 9, body: { stringValue: 'bad trace' }, traceId: 'abc' },
          { timeUnixNano: '1772359200000000000', severityNumber: 99, body: { stringValue: 'bad severity' } },
          { timeUnixNano: '1772359201000000000', severityNumber: 17, body: { stringValue: 'good two' } },
        ],
      }],
    }],
  };
  const res = await fetch(`${collector.url}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify(body)),
  });
  expect(res.status).toBe(200);
  const json = (await res.json()) as { partialSuccess: { rejectedLogRecords: number; errorMessage: string } };
  expect(json.partialSuccess.rejectedLogRecords).toBe(2);
  expect(json.partialSuccess.errorMessage).toContain('#1 PERISCOPE_ERR_OTLP_BAD_TRACE_ID');
  expect(json.partialSuccess.errorMessage).toContain('#2 PERISCOPE_ERR_OTLP_BAD_SEVERITY');
  expect((await search(`service=${service}`)).map((r) => r.msg)).toEqual(['good two', 'good one']);
});

it.each([
  { name: 'garbage protobuf → 400 Status', type: 'application/x-protobuf', body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), status: 400 },
  { name: 'truncated JSON → 400 Status', type: 'application/json', body: Buffer.from('{"resourceLogs": ['), status: 400 },
  { name: 'unknown content type → 415', type: 'text/plain', body: Buffer.from('hello'), status: 415 },
])('$name', async ({ type, body, status }) => {
  const res = await fetch(`${collector.url}/v1/logs`, { method: 'POST', headers: { 'content-type': type }, body });
  expect(res.status).toBe(status);
  if (type === 'application/json') {
    const json = (await res.json()) as { code: number; message: string };
    expect(json.code).toBe(3); // google.rpc.Code INVALID_ARGUMENT
    expect(json.message.length).toBeGreaterThan(0);
  }
  expect((await fetch(`${collector.url}/health`)).status).toBe(200);
});
