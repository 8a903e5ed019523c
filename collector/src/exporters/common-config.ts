import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { HEADER_NAME_PATTERN } from '../../../alerting/src/http-header.ts';
import { authConfigSchema } from './http.ts';
import { tlsConfigSchema } from './tls.ts';
import { proxyProperties } from '../../../alerting/src/proxy.ts';

// Config pieces shared by the exporter slices (docs/exporters.md lists every key with its default).

/** Exporter names label metrics and key cursors, so they are short and plain. */
export const exporterName = Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$', description: 'Unique among exporters; names metrics, cursors and dead letters.' });
export const httpUrl = Type.String({ format: 'url', description: 'http(s) URL of the backend. An https backend with a private CA, or one that asks for a client certificate: `tls` (docs/exporters.md, TLS).' });
/** Prometheus/Loki label name: https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels */
export const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';
/** A map of label names (validated) to values, empty by default. */
export function labelMap(description: string) {
  return Type.Record(Type.String(), Type.String(), { propertyNames: { pattern: LABEL_NAME }, default: {}, description });
}

export const retryConfigSchema = Type.Object(
  {
    initialBackoff: Type.String({ default: '500ms', format: 'duration', unitMinimum: '1ms', description: "Bound of the first retry's delay; it doubles per retry, and each delay is random below its bound (full jitter)." }),
    maxBackoff: Type.String({ default: '30s', format: 'duration', unitMinimum: '1ms', description: "Largest bound of a retry's delay." }),
    // Retry-After is in whole seconds (RFC 9110 §10.2.3): a cap below 1s turns it into "at once".
    maxRetryAfter: Type.String({ default: '5m', format: 'duration', unitMinimum: '1s', description: "A backend's Retry-After longer than this is cut to it." }),
    budgetRatio: Type.Number({ default: 0.2, minimum: 0, maximum: 10, description: 'Retry budget: retries may add this fraction of the request rate…' }),
    // Above 0: with 0, once every batch in flight waited to be retried no first attempt refilled
    // the budget, and delivery stayed stuck after the backend came back (until a restart).
    budgetMinPerSecond: Type.Number({ default: 5, exclusiveMinimum: 0, description: '…plus this many retries per second (more than 0).' }),
  },
  { additionalProperties: false, default: {}, unitOrder: [['initialBackoff', 'maxBackoff']] },
);

export const circuitBreakerConfigSchema = Type.Object(
  {
    failureThreshold: Type.Integer({ default: 5, minimum: 1, description: 'Consecutive retryable failures that open the circuit.' }),
    // At 0 (doubled, still 0) the circuit was never open: a dead backend got a probe after each failure.
    openDuration: Type.String({ default: '5s', format: 'duration', unitMinimum: '100ms', description: 'First open period (then one probe request); doubles after each failed probe…' }),
    maxOpenDuration: Type.String({ default: '2m', format: 'duration', unitMinimum: '100ms', description: '…up to this.' }),
  },
  { additionalProperties: false, default: {}, unitOrder: [['openDuration', 'maxOpenDuration']] },
);


/** Keys every HTTP exporter has. */
export function httpExporterKeys() {
  return {
    name: exporterName,
    url: httpUrl,
    timeout: Type.String({ default: '30s', format: 'duration', unitMinimum: '100ms', description: "One request's deadline." }),
    auth: Type.Optional(authConfigSchema),
    // Names are RFC 9110 tokens, values without line breaks: Node's HTTP client refuses others.
    headers: Type.Record(Type.String(), Type.String({ format: 'header-value' }), { default: {}, propertyNames: { pattern: HEADER_NAME_PATTERN }, description: "Extra request headers (e.g. a proxy's); their values are kept out of logs and error texts, like secrets. Not Authorization beside `auth`, X-Scope-OrgID beside `tenant`, nor the ones the exporter sets (Content-Type, Content-Encoding, Content-Length, Host)." }),
    tls: Type.Optional(tlsConfigSchema),
    ...proxyProperties('the backend'),
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
        maxRecords: Type.Integer({ default: batchDefaults.maxRecords, minimum: 1, maximum: 100000, description: 'Most records per request.' }),
        maxBytes: Type.String({ default: batchDefaults.maxBytes, format: 'bytes', unitMinimum: '1KiB', description: 'About this many bytes per request (estimated from the stored records\' UTF-8 size, before encoding and compression).' }),
        wait: Type.String({ default: batchDefaults.wait, format: 'duration', description: 'A batch that is not full is sent when its oldest record has waited this long; 0 sends what there is at once.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    concurrency: Type.Integer({ default: 4, minimum: 1, maximum: 16, description: 'Batches in flight at once (they may complete out of order; the cursor advances in log order).' }),
    // Worker threads of encode-pool.ts.
    encodeThreads: Type.Integer({
      default: 2,
      minimum: 0,
      maximum: 16,
      description: 'Worker threads, at most, that turn batches into request bodies (parse, check, map, encode, compress), so the ingest thread only reads the log and sends; one runs while the exporter is quiet. 0 encodes on the ingest thread.',
    }),
    queue: Type.Object(
      {
        maxRecords: Type.Integer({ default: 10_000_000, minimum: 1, description: 'Bound of the backlog (records accepted, not yet delivered)…' }),
        maxBytes: Type.String({ default: '1GiB', format: 'bytes', unitMinimum: '1MiB', description: '…its estimated size…' }),
        maxAge: Type.String({ default: '24h', format: 'duration', unitMinimum: '1m', description: '…and the age of its oldest record.' }),
        policy: Type.Union([Type.Literal('backpressure'), Type.Literal('drop')], {
          default: 'backpressure',
          description: 'At the bound: `backpressure` refuses new records (429 + Retry-After) and keeps every record this exporter needs from retention; `drop` skips records, lowest severity first (debug before info … before emerg), each counted by reason.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    deadLetter: Type.Object(
      {
        maxRecords: Type.Integer({ default: 100_000, minimum: 1, description: 'Dead letters kept for this exporter; the oldest beyond are deleted (counted as dropped, reason deadletter_full)…' }),
        // Backends refuse the large records for good (Loki's 256 KB line limit), each kept whole:
        // 100 000 of them were tens of GB in periscope.db, and retention, which never deletes a
        // dead letter, deleted every record to stay under store.retention.maxBytes.
        maxBytes: Type.String({ default: '1GiB', format: 'bytes', unitMinimum: '1MiB', description: '…and the most bytes of their records (or span documents), counted in store.retention.maxBytes; the oldest beyond are deleted the same way (the newest letter always stays). Both bounds apply at start too, once the collector listens and in slices, to letters kept under larger ones or by a version without maxBytes.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    shutdownTimeout: Type.String({ default: '10s', format: 'duration', description: 'On shutdown, delivery goes on this long to flush the backlog, then stops (nothing is lost: the cursor is persisted); 0 stops at once.' }),
    startFrom: Type.Union([Type.Literal('end'), Type.Literal('beginning')], {
      default: 'end',
      description: 'Where a newly configured exporter starts: `end` (records accepted from now on) or `beginning` (everything stored).',
    }),
  };
}

/** One exporter type's keys; `description` says where they are explained (docs/configuration.md shows it). */
export function exporterObject<T extends TProperties>(type: string, description: string, properties: T) {
  return Type.Object({ type: Type.Literal(type), ...properties }, { additionalProperties: false, description });
}

export type RetryConfig = Static<typeof retryConfigSchema>;
export type CircuitBreakerConfig = Static<typeof circuitBreakerConfigSchema>;
export type LogExporterCommon = Static<ReturnType<typeof exporterObject<ReturnType<typeof logExporterKeys>>>>;
