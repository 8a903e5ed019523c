// @periscope/sdk entry point.
// init() validates options (the only place that may throw) and composes the pillars: logs (./logs),
// traces (./traces), metrics (./metrics) and the opt-in instrumentations; one shutdown for all
// (./lifecycle.ts).
//
// Contract:
// - After resolveOptions and the logger are set up, nothing here throws: a pillar that cannot start
//   is replaced by the OpenTelemetry no-op (tracer/meter) and a warning is logged.
// - One SDK per process: a second init() while one is running returns the running instance (its
//   options are ignored: with `node --import @periscope/sdk/register` configure through PERISCOPE_*
//   env). After shutdown() a new init() starts afresh.

import { metrics as metricsApi, trace as traceApi, type Meter, type Tracer } from '@opentelemetry/api';
import { resolveOptions, type PeriscopeOptions } from './options.ts';
import { startLogs } from './logs/index.ts';
import type { Logger } from 'pino';
import type { Stats as LogStats } from './logs/stats.ts';
import { buildResource, createExportAgents } from './otel/common.ts';
import { startTraces, type Traces } from './traces/index.ts';
import { startMetrics, type Metrics } from './metrics/index.ts';
import { loadInstrumentations, type LoadedInstrumentations } from './instrumentations.ts';
import { createShutdown, type Stage } from './lifecycle.ts';
import { rejectionWarner } from './otel/partial-success.ts';
import { logDiagnostics } from './otel/diag.ts';
import { exportProblem, warnOnce } from './logs/delivery-problem.ts';

export type { PeriscopeOptions, LogFormat, InstrumentationName } from './options.ts';
export type { DropReason } from './logs/stats.ts';
export type { Logger } from 'pino';
export type { Tracer, Meter } from '@opentelemetry/api';

export interface Stats extends LogStats {
  /** Spans handed to the OTLP exporter: accepted by the collector, or given up on (refused, also one by one in a partial success); or dropped because the span queue (OTEL_BSP_MAX_QUEUE_SIZE, 2048) was full. */
  spans: { exported: number; failed: number; dropped: number };
  /** Metric export requests (each carries every series): succeeded, or given up on; and the data points the collector refused in the exports it took. */
  metrics: { exported: number; failed: number; rejectedPoints: number };
}

export interface Periscope {
  /** A pino logger; records are shipped from a worker thread. Inside an active span its lines carry traceId/spanId. */
  logger: Logger;
  /** OpenTelemetry tracer named after the service (a no-op tracer when traces are disabled). */
  tracer: Tracer;
  /** OpenTelemetry meter named after the service (a no-op meter when metrics are disabled). */
  meter: Meter;
  /** Flushes logs, spans, metrics (in that order) within shutdownTimeoutMs; idempotent, never rejects. */
  shutdown: () => Promise<void>;
  /** Delivery counters, cheap and synchronous. */
  stats: () => Stats;
}

let active: Periscope | undefined;

function emitConfigWarning(message: string): void {
  try {
    process.emitWarning(message, { type: 'PeriscopeWarning', code: 'PERISCOPE_CONFIG_IGNORED' });
  } catch {
    // never throw into the host
  }
}

/** The running SDK instance (e.g. the one `--import @periscope/sdk/register` started), if any. */
export function getPeriscope(): Periscope | undefined {
  return active;
}

export function init(options: PeriscopeOptions = {}): Periscope {
  if (active) return active;
  const resolved = resolveOptions(options);
  const logs = startLogs(resolved, {
    // Whoever traces (the SDK, or with traces.enabled: false an OpenTelemetry provider of the
    // app's own), lines inside its active span carry the ids; with no span it costs one lookup.
    traceContext: true,
    sampling: resolved.logSampling,
  });
  const warn = (msg: string, details: Record<string, unknown> = {}) => {
    try {
      logs.internalLogger.warn({ module: 'periscope', ...details }, msg);
    } catch {
      // never throw into the host
    }
  };
  // Logged only, a warning about the very settings that keep the logs from the collector (an
  // endpoint or protocol it does not speak, its TLS) would reach no one: without a console `format`
  // it is also a Node process warning on stderr, as libraries report misconfiguration
  // (https://nodejs.org/api/process.html#processemitwarningwarning-options). So it is when the
  // level (PERISCOPE_LOG_LEVEL=error, silent) leaves warnings out: the record is never written, and
  // the setting would be ignored without a word.
  const onStderr = resolved.format === 'none' || !logs.internalLogger.isLevelEnabled('warn');
  for (const warning of resolved.warnings) {
    warn(warning);
    if (onStderr) emitConfigWarning(warning);
  }
  // before the pillars start, so what they tell diag (a global registered, …) is logged too
  const stopDiagnostics = resolved.diagLevel !== undefined && !resolved.disabled ? logDiagnostics(logs.internalLogger, resolved.diagLevel) : undefined;

  const agents = createExportAgents();
  const resource = buildResource(resolved);
  // Each OTLP export's timeout (traces.timeoutMs, metrics.timeoutMs) covers the exporter's own
  // retries. Not cut to shutdownTimeoutMs: a collector answering in 6 s would then never succeed;
  // the shutdown deadline ends exports itself (lifecycle.ts).

  // A refused export or an untrusted collector certificate: one process warning per cause.
  const deliveryWarning = warnOnce();
  const tellExportFailure = (url: string, signal: 'spans' | 'metrics') => (error: unknown) => {
    const problem = exportProblem(url, error, signal);
    if (problem) deliveryWarning(problem);
  };
  let traces: Traces | undefined;
  if (resolved.traces.enabled) {
    try {
      traces = startTraces(resolved, resource, agents, resolved.traces.timeoutMs, rejectionWarner(warn, 'spans'), tellExportFailure(resolved.traces.url, 'spans'));
    } catch (err) {
      warn('tracing not started', { error: String((err as Error)?.message ?? err) });
    }
  }
  let metrics: Metrics | undefined;
  if (resolved.metrics.enabled) {
    try {
      metrics = startMetrics(resolved, resource, agents, resolved.metrics.timeoutMs, { onWarning: warn, onExportFailure: tellExportFailure(resolved.metrics.url, 'metrics') });
    } catch (err) {
      warn('metrics not started', { error: String((err as Error)?.message ?? err) });
    }
  }
  let instrumentations: LoadedInstrumentations | undefined;
  if (resolved.instrumentations.length > 0) {
    try {
      instrumentations = loadInstrumentations(resolved.instrumentations, {
        tracerProvider: traces?.provider,
        meterProvider: metrics?.provider,
        endpoints: [resolved.endpoint, resolved.traces.url, resolved.metrics.url],
        prometheusPort: resolved.prometheus?.port,
      });
    } catch (err) {
      warn('instrumentations not loaded', { names: resolved.instrumentations, error: String((err as Error)?.message ?? err) });
    }
  }

  const stages: Stage[] = [{ name: 'logs', run: (deadlineAt) => logs.shutdown(deadlineAt) }];
  if (traces) stages.push({ name: 'traces', run: traces.flush });
  if (metrics) stages.push({ name: 'metrics', run: metrics.flush });
  const instance: Periscope = {
    logger: logs.logger,
    tracer: traces?.tracer ?? traceApi.getTracerProvider().getTracer(resolved.service),
    meter: metrics?.meter ?? metricsApi.getMeterProvider().getMeter(resolved.service),
    shutdown: createShutdown(stages, resolved.shutdownTimeoutMs, () => {
      instrumentations?.disable();
      agents.close();
      stopDiagnostics?.();
      if (active === instance) active = undefined;
    }),
    stats: () => ({
      ...logs.stats(),
      spans: { ...(traces?.counters ?? { exported: 0, failed: 0, dropped: 0 }) },
      metrics: { ...(metrics?.counters ?? { exported: 0, failed: 0, rejectedPoints: 0 }) },
    }),
  };
  active = instance;
  return instance;
}
