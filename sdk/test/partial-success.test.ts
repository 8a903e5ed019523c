import { describe, expect, it } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { observePartialSuccess, rejectionWarner, type ObservedExportResult } from '../src/otel/partial-success.ts';

/** An exporter shaped as OTLPExporterBase 0.301: its delegate decodes the answer, then calls back. */
function fakeExporter(response: unknown) {
  const delegate = { _serializer: { serializeRequest: (r: unknown) => r, deserializeResponse: (_: Uint8Array) => response } };
  return {
    _delegate: delegate,
    export(_items: never, done: (result: ExportResult) => void) {
      delegate._serializer.deserializeResponse(new Uint8Array());
      done({ code: ExportResultCode.SUCCESS });
    },
  };
}

const exportOnce = (exporter: ReturnType<typeof fakeExporter>) =>
  new Promise<ObservedExportResult>((resolve) => exporter.export(undefined as never, resolve));

describe('observePartialSuccess', () => {
  it('finds the serializer of the OpenTelemetry exporters the SDK uses (their internals did not move)', () => {
    expect(observePartialSuccess(new OTLPTraceExporter({ url: 'http://127.0.0.1:1/v1/traces' }))).toBe(true);
    expect(observePartialSuccess(new OTLPMetricExporter({ url: 'http://127.0.0.1:1/v1/metrics' }))).toBe(true);
    expect(observePartialSuccess({ export: () => {} })).toBe(false);
  });

  it.each([
    { name: 'rejected spans', response: { partialSuccess: { rejectedSpans: 2, errorMessage: 'Rejected 2 spans: #0 X' } }, rejection: { rejected: 2, message: 'Rejected 2 spans: #0 X' } },
    { name: 'rejected data points', response: { partialSuccess: { rejectedDataPoints: 3 } }, rejection: { rejected: 3, message: '' } },
    { name: 'an empty answer', response: {}, rejection: undefined },
    { name: 'only a warning (0 rejected)', response: { partialSuccess: { rejectedSpans: 0, errorMessage: 'slow down' } }, rejection: undefined },
  ])('$name', async ({ response, rejection }) => {
    const exporter = fakeExporter(response);
    expect(observePartialSuccess(exporter)).toBe(true);
    const result = await exportOnce(exporter);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(result.rejection).toEqual(rejection);
    expect((await exportOnce(fakeExporter({}))).rejection).toBeUndefined();
  });
});

describe('rejectionWarner', () => {
  it('warns at once, then at most once per interval with the count since the last warning', () => {
    const warnings: unknown[] = [];
    const warn = rejectionWarner((msg, details) => warnings.push({ msg, ...details }), 'spans', 60_000);
    warn({ rejected: 1, message: 'a' });
    warn({ rejected: 2, message: 'b' });
    expect(warnings).toEqual([{ msg: 'the collector refused spans', msgId: 'otlp-partial-success', rejected: 1, error: 'a' }]);
  });
});
