import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { authConfigSchema } from './http.ts';

// Config pieces shared by the exporter slices (docs/exporters.md lists every key with its default).

/** Exporter names label metrics and key cursors, so they are short and plain. */
export const exporterName = Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$', description: 'Unique among exporters; names metrics, cursors and dead letters.' });
export const httpUrl = Type.String({ pattern: '^https?://[^\\s/]+', description: 'http(s) URL of the backend.' });
/** Prometheus/Loki label name: https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels */
export const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';
export const labelMap = Type.Record(Type.String(), Type.String(), { propertyNames: { pattern: LABEL_NAME }, default: {} });

export const retryConfigSchema = Type.Object(
  {
    initialBackoff: Type.String({ default: '500ms', format: 'duration' }),
    maxBackoff: Type.String({ default: '30s', format: 'duration' }),
    /** A backend's Retry-After longer than this is cut to it. */
    maxRetryAfter: Type.String({ default: '5m', format: 'duration' }),
    /** Retries may add this fraction of the request rate… */
    budgetRatio: Type.Number({ default: 0.2, minimum: 0, maximum: 10 }),
    /** …plus this many retries per second. */
    budgetMinPerSecond: Type.Number({ default: 5, minimum: 0 }),
  },
  { additionalProperties: false, default: {} },
);

export const circuitBreakerConfigSchema = Type.Object(
  {
    /** Consecutive retryable failures that open the circuit. */
    failureThreshold: Type.Integer({ default: 5, minimum: 1 }),
    /** First open period; doubles after each failed probe… */
    openDuration: Type.String({ default: '5s', format: 'duration' }),
    /** …up to this. */
    maxOpenDuration: Type.String({ default: '2m', format: 'duration' }),
  },
  { additionalProperties: false, default: {} },
);

/** Keys every HTTP exporter has. */
export function httpExporterKeys() {
  return {
    name: exporterName,
    url: httpUrl,
    /** One request's deadline. */
    timeout: Type.String({ default: '30s', format: 'duration' }),
    auth: Type.Optional(authConfigSchema),
    /** Extra request headers (e.g. a proxy's). Their values are treated as secrets in error texts. */
    headers: Type.Record(Type.String(), Type.String(), { default: {} }),
    retry: retryConfigSchema,
    circuitBreaker: circuitBreakerConfigSchema,
  };
}

/**
 * Keys of the log exporters (Loki, Elasticsearch): each reads the durable log with its own cursor.
 * `batchDefaults` differ per backend.
 */
export function logExporterKeys(batchDefaults: { maxRecords: number; maxBytes: string; wait: string }) {
  return {
    ...httpExporterKeys(),
    batch: Type.Object(
      {
        maxRecords: Type.Integer({ default: batchDefaults.maxRecords, minimum: 1, maximum: 100000 }),
        /** Approximate (estimated from the records before encoding and compression). */
        maxBytes: Type.String({ default: batchDefaults.maxBytes, format: 'bytes' }),
        /** A batch that is not full is sent when its oldest record has waited this long. */
        wait: Type.String({ default: batchDefaults.wait, format: 'duration' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Batches in flight at once (delivered out of order; the cursor advances in order). */
    concurrency: Type.Integer({ default: 4, minimum: 1, maximum: 16 }),
    /**
     * Worker threads, at most, that turn batches into request bodies (parse, check, map, encode,
     * compress) so the ingest thread only reads the log and sends; one runs while the exporter is
     * quiet (encode-pool.ts). 0 encodes on the ingest thread.
     */
    encodeThreads: Type.Integer({ default: 2, minimum: 0, maximum: 16 }),
    queue: Type.Object(
      {
        /** Bound of the backlog (records accepted, not yet delivered)… */
        maxRecords: Type.Integer({ default: 10_000_000, minimum: 1 }),
        /** …its estimated size… */
        maxBytes: Type.String({ default: '1GiB', format: 'bytes' }),
        /** …and the age of its oldest record. */
        maxAge: Type.String({ default: '24h', format: 'duration' }),
        /**
         * At the bound: `backpressure` refuses new records (429 + Retry-After) and keeps every
         * record this exporter needs from retention; `drop` skips records, lowest severity first
         * (debug before info … before emerg), each counted by reason.
         */
        policy: Type.Union([Type.Literal('backpressure'), Type.Literal('drop')], { default: 'backpressure' }),
      },
      { additionalProperties: false, default: {} },
    ),
    deadLetter: Type.Object(
      {
        /** Letters kept for this exporter; the oldest beyond are deleted (dropped, reason deadletter_full). */
        maxRecords: Type.Integer({ default: 100_000, minimum: 1 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** On shutdown, delivery goes on this long to flush the backlog, then stops (nothing is lost: the cursor is persisted). */
    shutdownTimeout: Type.String({ default: '10s', format: 'duration' }),
    /** Where a newly configured exporter starts: `end` (records accepted from now on) or `beginning` (everything stored). */
    startFrom: Type.Union([Type.Literal('end'), Type.Literal('beginning')], { default: 'end' }),
  };
}

export function exporterObject<T extends TProperties>(type: string, properties: T) {
  return Type.Object({ type: Type.Literal(type), ...properties }, { additionalProperties: false });
}

export type RetryConfig = Static<typeof retryConfigSchema>;
export type CircuitBreakerConfig = Static<typeof circuitBreakerConfigSchema>;
export type LogExporterCommon = Static<ReturnType<typeof exporterObject<ReturnType<typeof logExporterKeys>>>>;
