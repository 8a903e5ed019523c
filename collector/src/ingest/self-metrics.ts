import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LogVolume, type LogVolumeOptions } from './log-volume.ts';

/**
 * The collector's own metrics, rendered at /metrics in the Prometheus text format.
 * Names follow https://prometheus.io/docs/practices/naming/ (base units, _total on counters).
 */
/** `logVolume`: the bound of periscope_log_records_total (metrics.logVolume; defaults as the config's). */
export function createSelfMetrics(logVolume: LogVolumeOptions = { maxServices: 1000, staleAfterMs: 3_600_000 }) {
  const registry = new Registry();
  // prom-client's names start with process_ or nodejs_: periscope_process_cpu_seconds_total,
  // periscope_nodejs_heap_size_used_bytes, …
  collectDefaultMetrics({ register: registry, prefix: 'periscope_' });
  // prom-client names these gauges *_total, which `promtool check metrics` rejects ("non-counter
  // metrics should not have _total suffix"); /metrics must stay lint-clean, so they are left out.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(`periscope_${name}`);
  }
  return {
    registry,
    accepted: new Counter({
      name: 'periscope_receiver_accepted_records_total',
      help: 'Records written to the durable log, by receiver.',
      labelNames: ['receiver'] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'periscope_receiver_rejected_records_total',
      help: 'Records refused at ingest, by receiver and reason (error code).',
      labelNames: ['receiver', 'reason'] as const,
      registers: [registry],
    }),
    refusedRequests: new Counter({
      name: 'periscope_receiver_refused_requests_total',
      help: 'Whole requests (or syslog TCP connections) refused: 413, 415, 400 undecodable, 429, 503, too many connections; by receiver and reason.',
      labelNames: ['receiver', 'reason'] as const,
      registers: [registry],
    }),
    replayedRequests: new Counter({
      name: 'periscope_receiver_replayed_requests_total',
      help: 'Requests answered from their Idempotency-Key: retries of a batch already stored, not stored again; by receiver.',
      labelNames: ['receiver'] as const,
      registers: [registry],
    }),
    logVolume: new LogVolume(registry, logVolume),
    httpRefusedConnections: new Counter({
      name: 'periscope_http_refused_connections_total',
      help: 'HTTP connections closed on accept because http.maxConnections were open.',
      registers: [registry],
    }),
    httpTlsHandshakeFailures: new Counter({
      name: 'periscope_http_tls_handshake_failures_total',
      help: 'TLS handshakes on the http.tls listener that failed (a client without the certificate clientCaFile asks for, one that does not trust the collector\'s certificate); each is logged, at most once a minute per reason.',
      registers: [registry],
    }),
    httpInflightRefused: new Counter({
      name: 'periscope_http_inflight_refused_requests_total',
      help: 'HTTP requests answered 503 because request bodies at the bound of http.maxInflightBytes were held.',
      registers: [registry],
    }),
    storeRecords: new Gauge({
      name: 'periscope_store_records',
      help: 'Records held in the embedded store.',
      registers: [registry],
    }),
    storeBytes: new Gauge({
      name: 'periscope_store_live_bytes',
      help: 'Bytes used by live rows of the embedded store.',
      registers: [registry],
    }),
    searchIndexLag: new Gauge({
      name: 'periscope_search_index_lag_records',
      help: 'Stored records not yet in the full-text index.',
      registers: [registry],
    }),
    retentionDeleted: new Counter({
      name: 'periscope_retention_deleted_records_total',
      help: 'Records deleted by retention, by rule (age, size).',
      labelNames: ['rule'] as const,
      registers: [registry],
    }),
  };
}

export type SelfMetrics = ReturnType<typeof createSelfMetrics>;
