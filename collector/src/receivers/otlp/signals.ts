import type { FastifyInstance } from 'fastify';
import { ERR, PeriscopeError } from '../../errors.ts';
import type { TelemetryMetrics } from '../../metrics/self-metrics.ts';
import type { MetricStore } from '../../metrics/store.ts';
import type { SpanRecord } from '../../traces/span.ts';
import type { OtlpRejection } from './decode.ts';
import { otlpMetricsToPoints, type OtlpMetricsOptions } from './metrics.ts';
import { registerOtlpRoute } from './route.ts';
import { otlpTracesToSpans, type OtlpTracesOptions } from './traces.ts';

export interface OtlpTracesSink {
  /** Commits the spans durably and returns those that were new (throws when the store fails). */
  append(spans: SpanRecord[]): SpanRecord[];
}

/**
 * POST /v1/traces — spans into the span store; 200 only after the commit (DESIGN: acknowledge
 * only what is durable). A store failure is 503 + Retry-After, so the sender retries and nothing
 * is half-applied (derived span metrics are updated only after the commit, for new spans only).
 */
export function registerOtlpTracesRoute(
  app: FastifyInstance,
  options: { sink: OtlpTracesSink; onStored: (spans: SpanRecord[]) => void; metrics: TelemetryMetrics; limits: OtlpTracesOptions },
): void {
  registerOtlpRoute(app, '/v1/traces', 'traces', (request) => {
    const { spans, rejected } = otlpTracesToSpans(request, options.limits);
    for (const r of rejected) options.metrics.spansRejected.inc({ reason: r.code });
    let stored: SpanRecord[];
    try {
      stored = options.sink.append(spans);
    } catch (err) {
      options.metrics.otlpRequestsRefused.inc({ signal: 'traces', reason: ERR.STORE_UNAVAILABLE });
      throw new PeriscopeError(ERR.STORE_UNAVAILABLE, `span store write failed: ${(err as Error).message}`, 503, { retryAfterSeconds: 1 }, 1);
    }
    options.metrics.spansAccepted.inc(stored.length);
    try {
      options.onStored(stored);
    } catch {
      // A bug in a derived view must not turn an acknowledged write into an error.
    }
    return { rejected };
  }, (reason) => options.metrics.otlpRequestsRefused.inc({ signal: 'traces', reason }));
}

/**
 * POST /v1/metrics — data points into the metric store. Rejections of the decoder and of the
 * store (series limit, type conflict) are merged into one partial-success answer; the store's
 * 429 (onSeriesLimit: reject) passes through with its Retry-After.
 */
export function registerOtlpMetricsRoute(
  app: FastifyInstance,
  options: { store: MetricStore; metrics: TelemetryMetrics; limits: OtlpMetricsOptions },
): void {
  registerOtlpRoute(app, '/v1/metrics', 'metrics', (request) => {
    const result = otlpMetricsToPoints(request, options.limits);
    let applied;
    try {
      applied = options.store.apply(result.points);
    } catch (err) {
      if (err instanceof PeriscopeError) options.metrics.otlpRequestsRefused.inc({ signal: 'metrics', reason: err.code });
      throw err;
    }
    const rejected: OtlpRejection[] = result.rejected.slice();
    for (const r of applied.rejected) rejected.push({ index: result.pointIndex[r.index], code: r.code, message: r.message });
    rejected.sort((a, b) => a.index - b.index);
    for (const r of rejected) options.metrics.pointsRejected.inc({ reason: r.code });
    options.metrics.pointsAccepted.inc(result.points.length - applied.rejected.length);
    return { rejected, rejectedCount: result.rejectedCount + applied.rejected.length };
  }, (reason) => options.metrics.otlpRequestsRefused.inc({ signal: 'metrics', reason }));
}
