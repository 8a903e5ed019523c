import { Type, type Static } from '@sinclair/typebox';
import { exporterObject, httpExporterKeys, labelMap } from '../common-config.ts';

/**
 * `exporters[] (type: prometheusRemoteWrite)` — remote write 1.0 of the metrics the collector
 * holds (self-metrics, log-derived counters, and any registered source).
 * https://prometheus.io/docs/specs/prw/remote_write_spec/
 */
export const remoteWriteConfigSchema = exporterObject('prometheusRemoteWrite', {
  ...httpExporterKeys(),
  /** How often the sources are read and one WriteRequest is queued. */
  interval: Type.String({ default: '15s', format: 'duration' }),
  /** Labels added to every series (e.g. { instance: collector-1 }); a series' own label wins. */
  externalLabels: labelMap,
  queue: Type.Object(
    {
      /** Samples waiting to be sent (during an outage); the oldest requests beyond are dropped (queue_full). */
      maxSamples: Type.Integer({ default: 500_000, minimum: 1 }),
    },
    { additionalProperties: false, default: {} },
  ),
  /** Most samples in one request. */
  maxSamplesPerRequest: Type.Integer({ default: 2000, minimum: 1 }),
  shutdownTimeout: Type.String({ default: '5s', format: 'duration' }),
});
export type RemoteWriteConfig = Static<typeof remoteWriteConfigSchema>;
