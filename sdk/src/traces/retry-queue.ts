// Span batches that outlive a collector outage.
//
// The OTLP exporter retries one request only within its timeout (OTel's RetryingTransport:
// 5 attempts), and BatchSpanProcessor then drops the batch: every span ended during an outage
// longer than that was lost. This exporter sits between the two: every batch is held here and one
// send loop sends them in order. A batch that fails for a transient reason (connection refused or
// reset, timeout, 429/502/503/504 after the exporter's own retries) stays first and is sent again
// with backoff until the collector takes it, as the OTel Collector's exporters do with
// retry_on_failure; later batches wait behind it. The processor is told at once that its batch is
// done, so its queue keeps taking spans; the caller bounds held + queued spans (traces/index.ts),
// so memory stays bounded during an outage. A refusal (any other HTTP status) fails the batch at
// once, except a 413 (the request was over the collector's http.bodyLimit): the batch is split
// in halves that are sent in its place, as log batches are, so one huge span does not take up to
// 511 others with it; a single span the collector finds too large fails. The backoff timer is
// unref'd: a held batch never keeps the process alive; shutdown sends what is held within its
// deadline (drain).
//
// Counters: a span is `exported` when the collector took it and `failed` when given up on
// (refused — the whole batch, or one by one in a partial success — or still held, a send in
// flight included, when the shutdown deadline came: abandon(), so that stats() is final when
// shutdown() resolves, as the logs' shutdown_timeout is).

import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { backoffMs } from '../logs/retry.ts';
import type { ExportCounters } from '../otel/common.ts';
import type { ObservedExportResult, Rejection } from '../otel/partial-success.ts';
import { monotonicDeadline } from '../monotonic-deadline.ts';

/** Error codes of Node's network errors the OTLP exporter itself treats as transient. */
const TRANSIENT_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Whether a failed export may succeed later. Read from the error the OTLP exporter reports
 * (@opentelemetry/otlp-exporter-base, http-transport-utils and otlp-export-delegate): an
 * OTLPExporterError with an HTTP status is a refusal; one without is "retryable status" (429, 502,
 * 503, 504); a request timeout and the network errors above are transient too.
 */
export function isTransientExportError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'OTLPExporterError') return typeof (error as { code?: unknown }).code !== 'number';
  if (error.message === 'Request timed out') return true;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code);
}

/** The collector refused the request for its size (413): halves of the batch may fit. */
function isTooLarge(error: unknown): boolean {
  return error instanceof Error && error.name === 'OTLPExporterError' && (error as { code?: unknown }).code === 413;
}

export interface SpanRetryQueue extends SpanExporter {
  /** Spans held, not yet taken by the collector nor given up on. */
  readonly heldSpans: number;
  /** Sends what is held, one batch after the other, until done or `deadlineAt`; what is left then counts as failed. */
  drain(deadlineAt: number): Promise<void>;
  /** The shutdown deadline came: what is held counts as failed now, and so does what comes later; late answers change nothing. */
  abandon(): void;
}

/**
 * `onRejection`: the collector took a batch but refused some of its spans (partial success).
 * `onFailure`: an export failed, with the exporter's error (told to the app once per cause:
 * logs/delivery-problem.ts).
 */
export function spanRetryQueue(
  inner: SpanExporter,
  counters: ExportCounters,
  onRejection: (rejection: Rejection) => void = () => {},
  onFailure: (error: unknown) => void = () => {},
): SpanRetryQueue {
  const held: ReadableSpan[][] = [];
  let heldSpans = 0;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  /** The running send loop; it resolves true when it emptied the queue, false after a transient failure. */
  let sending: Promise<boolean> | undefined;
  let abandoned = false;

  const send = (spans: ReadableSpan[]): Promise<ObservedExportResult> => new Promise((resolve) => inner.export(spans, resolve));

  async function sendHeld(): Promise<boolean> {
    while (held.length > 0) {
      const batch = held[0];
      const result = await send(batch);
      if (abandoned) return true; // already counted as failed
      if (result.code !== ExportResultCode.SUCCESS) onFailure(result.error);
      if (result.code !== ExportResultCode.SUCCESS && isTransientExportError(result.error)) return false;
      if (result.code !== ExportResultCode.SUCCESS && batch.length > 1 && isTooLarge(result.error)) {
        const half = Math.ceil(batch.length / 2);
        held.splice(0, 1, batch.slice(0, half), batch.slice(half));
        continue;
      }
      held.shift();
      heldSpans -= batch.length;
      attempt = 0;
      if (result.code === ExportResultCode.SUCCESS) {
        const refused = Math.min(batch.length, result.rejection?.rejected ?? 0);
        counters.exported += batch.length - refused;
        counters.failed += refused;
        if (result.rejection) onRejection(result.rejection);
      } else {
        counters.failed += batch.length;
      }
    }
    return true;
  }

  /** Starts the send loop unless it runs or waits for its backoff; after a transient failure it starts again after one. */
  function kick(): void {
    if (sending || timer) return;
    sending = sendHeld().finally(() => (sending = undefined));
    void sending.then((emptied) => {
      if (emptied) return;
      timer = setTimeout(() => {
        timer = undefined;
        kick();
      }, backoffMs(attempt++));
      timer.unref();
    });
  }

  function cancelBackoff(): void {
    clearTimeout(timer);
    timer = undefined;
  }

  return {
    get heldSpans() {
      return heldSpans;
    },
    export(spans, done) {
      if (abandoned) {
        counters.failed += spans.length;
        done({ code: ExportResultCode.SUCCESS });
        return;
      }
      held.push(spans);
      heldSpans += spans.length;
      done({ code: ExportResultCode.SUCCESS });
      kick();
    },
    async drain(deadlineAt) {
      const end = monotonicDeadline(deadlineAt);
      while (held.length > 0 && performance.now() < end) {
        cancelBackoff();
        kick();
        if (await sending) continue; // emptied (the loop ends unless more came meanwhile)
        // a transient failure: a backoff, but not past the deadline (ref'd: shutdown waits for it)
        cancelBackoff();
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(backoffMs(attempt), end - performance.now()))));
      }
      cancelBackoff();
      // (a send still in flight settles its batch itself: the agents are closed at the deadline)
      if (!sending) {
        counters.failed += heldSpans;
        held.length = 0;
        heldSpans = 0;
      }
    },
    abandon() {
      abandoned = true;
      cancelBackoff();
      counters.failed += heldSpans;
      held.length = 0;
      heldSpans = 0;
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
