// The span retry queue in-process, in front of a scripted exporter (no collector, no child process).
import { describe, expect, it, vi } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { spanRetryQueue } from '../src/traces/retry-queue.ts';

const span = (i: number) => ({ name: `s${i}` }) as unknown as ReadableSpan;

/** Refuses with 413 every request of more than `maxSpans` spans (or of a span named in `huge`), takes the others. */
function sizeLimitedExporter(maxSpans: number, huge: Set<string> = new Set()) {
  const taken: string[] = [];
  const requests: number[] = [];
  const exporter: SpanExporter = {
    export(spans, done: (result: ExportResult) => void) {
      requests.push(spans.length);
      if (spans.length > maxSpans || spans.some((s) => huge.has(s.name))) {
        done({ code: ExportResultCode.FAILED, error: new OTLPExporterError('Payload Too Large', 413) });
        return;
      }
      taken.push(...spans.map((s) => s.name));
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };
  return { exporter, taken, requests };
}

describe('a batch the collector refuses for its size (413)', () => {
  it.each([
    { name: 'is sent again in halves until they fit, in order', maxSpans: 3, huge: [], exported: 10, failed: 0 },
    { name: 'loses only the span that fits in no request', maxSpans: 10, huge: ['s6'], exported: 9, failed: 1 },
  ])('$name', async ({ maxSpans, huge, exported, failed }) => {
    const { exporter, taken } = sizeLimitedExporter(maxSpans, new Set(huge));
    const counters = { exported: 0, failed: 0 };
    const queue = spanRetryQueue(exporter, counters);
    const spans = Array.from({ length: 10 }, (_, i) => span(i));
    queue.export(spans, () => {});
    await queue.drain(Date.now() + 10_000);
    expect(counters).toEqual({ exported, failed });
    expect(taken).toEqual(spans.map((s) => s.name).filter((n) => !huge.includes(n)));
    expect(queue.heldSpans).toBe(0);
  });
});

describe('drain at shutdown, with a collector that keeps failing', () => {
  it('ends at its deadline also when the wall clock steps back an hour meanwhile (NTP, a VM resumed, date -s)', async () => {
    const exporter: SpanExporter = {
      export(_spans, done: (result: ExportResult) => void) {
        done({ code: ExportResultCode.FAILED, error: new OTLPExporterError('retryable status') }); // 503 after the exporter's own retries
      },
      shutdown: async () => {},
    };
    const counters = { exported: 0, failed: 0 };
    const queue = spanRetryQueue(exporter, counters);
    queue.export([span(1)], () => {});
    const realNow = Date.now;
    let step = 0;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + step);
    try {
      const drained = queue.drain(Date.now() + 300);
      setTimeout(() => (step = -3_600_000), 50);
      const outcome = await Promise.race([drained.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still retrying after 5 s'), 5_000))]);
      expect(outcome).toBe('ended');
      expect(counters).toEqual({ exported: 0, failed: 1 });
    } finally {
      spy.mockRestore();
    }
  });
});
