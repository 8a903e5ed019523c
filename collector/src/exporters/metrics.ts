import { Counter, Gauge, type Registry } from 'prom-client';
import { CIRCUIT_STATES, type CircuitState } from './circuit-breaker.ts';

/** Live figures of one exporter, read when /metrics is scraped. */
export interface ExporterGauges {
  /** Items (log records or samples) waiting to be delivered. */
  queueItems: number;
  /** Estimated bytes of those items. */
  queueBytes: number;
  /** Seconds since the oldest waiting item was accepted (0 when none waits). */
  oldestAgeSeconds: number;
  circuit: CircuitState;
  /** Items currently held in the dead-letter store. */
  deadLetters: number;
}

/**
 * Exporter metrics on the collector's registry (rendered at /metrics). An "item" is a log record
 * for the log exporters and a sample for remote write. Names follow
 * https://prometheus.io/docs/practices/naming/ (base units, _total on counters).
 */
export function createExporterMetrics(registry: Registry) {
  const sources = new Map<string, { type: string; read: () => ExporterGauges }>();
  const eachSource = (fn: (name: string, type: string, g: ExporterGauges) => void) => {
    for (const [name, s] of sources) fn(name, s.type, s.read());
  };
  const labelNames = ['exporter', 'type'] as const;
  return {
    sent: new Counter({
      name: 'periscope_exporter_sent_items_total',
      help: 'Items delivered to the backend (log records, or samples for remote write), by exporter.',
      labelNames,
      registers: [registry],
    }),
    /**
     * Of the sent items, those the backend already had: an Elasticsearch item answered 409 on its
     * deterministic `_id`, delivered by an earlier attempt (a retry after a timeout, the batches
     * re-sent from the cursor after a crash). A separate counter, not a label on `sent`, so that
     * queries of `sent` keep their meaning: new deliveries are `sent` less these.
     */
    duplicates: new Counter({
      name: 'periscope_exporter_duplicate_items_total',
      help: 'Items the backend already had (Elasticsearch 409 on the deterministic _id: delivered by an earlier attempt), by exporter; included in periscope_exporter_sent_items_total.',
      labelNames,
      registers: [registry],
    }),
    failedRequests: new Counter({
      name: 'periscope_exporter_failed_requests_total',
      help: 'Requests to the backend that failed, by exporter and class (retryable, permanent).',
      labelNames: ['exporter', 'type', 'class'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'periscope_exporter_retried_requests_total',
      help: 'Requests sent again after a retryable failure, by exporter.',
      labelNames,
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'periscope_exporter_dropped_items_total',
      help: 'Items that will never be delivered, by exporter and reason (overflow, max_age, retention, deadletter_full, queue_full, rejected).',
      labelNames: ['exporter', 'type', 'reason'] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'periscope_exporter_dead_lettered_items_total',
      help: 'Items the backend refused permanently, moved to the dead-letter store, by exporter.',
      labelNames,
      registers: [registry],
    }),
    /**
     * Letters that left the dead-letter store without being delivered, by how: `deleted` (DELETE
     * /api/v1/deadletter), `deadletter_full` (the oldest, over deadLetter.maxRecords or maxBytes;
     * also in `dropped`). With `deadLettered` and `sent` (a replay's deliveries), where the letters
     * went. `type` is empty for an exporter no longer configured.
     */
    discarded: new Counter({
      name: 'periscope_exporter_dead_letters_discarded_total',
      help: 'Dead letters deleted without being delivered, by exporter and reason (deleted: DELETE /api/v1/deadletter; deadletter_full: over the dead-letter bounds).',
      labelNames: ['exporter', 'type', 'reason'] as const,
      registers: [registry],
    }),
    queueItems: new Gauge({
      name: 'periscope_exporter_queue_items',
      help: 'Items accepted but not yet delivered (the exporter backlog), by exporter.',
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        eachSource((exporter, type, g) => this.set({ exporter, type }, g.queueItems));
      },
    }),
    queueBytes: new Gauge({
      name: 'periscope_exporter_queue_bytes',
      help: 'Estimated bytes of the exporter backlog, by exporter.',
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        eachSource((exporter, type, g) => this.set({ exporter, type }, g.queueBytes));
      },
    }),
    oldestAge: new Gauge({
      name: 'periscope_exporter_oldest_unsent_age_seconds',
      help: 'Age of the oldest item not yet delivered, by exporter (0 when caught up).',
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        eachSource((exporter, type, g) => this.set({ exporter, type }, g.oldestAgeSeconds));
      },
    }),
    circuit: new Gauge({
      name: 'periscope_exporter_circuit_state',
      help: 'Circuit breaker state of each exporter: 1 for the current state (closed, open, half-open), 0 for the others.',
      labelNames: ['exporter', 'type', 'state'] as const,
      registers: [registry],
      collect() {
        this.reset();
        eachSource((exporter, type, g) => {
          for (const state of CIRCUIT_STATES) this.set({ exporter, type, state }, g.circuit === state ? 1 : 0);
        });
      },
    }),
    deadLetters: new Gauge({
      name: 'periscope_exporter_dead_letters',
      help: 'Items held in the dead-letter store, by exporter.',
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        eachSource((exporter, type, g) => this.set({ exporter, type }, g.deadLetters));
      },
    }),
    /** Registers the live figures of one exporter (its gauges are read at scrape time). */
    register(name: string, type: string, read: () => ExporterGauges): void {
      sources.set(name, { type, read });
    },
    unregister(name: string): void {
      sources.delete(name);
    },
  };
}

export type ExporterMetrics = ReturnType<typeof createExporterMetrics>;
