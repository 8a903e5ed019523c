import { Type, type Static } from '@sinclair/typebox';
import { exporterObject, httpExporterKeys, labelMap } from '../common-config.ts';

/**
 * `exporters[] (type: prometheusRemoteWrite)` — remote write 1.0 of the metrics the collector
 * holds (self-metrics, log-derived counters, and any registered source).
 * https://prometheus.io/docs/specs/prw/remote_write_spec/
 */
export const remoteWriteConfigSchema = exporterObject('prometheusRemoteWrite', 'Prometheus remote write of the metrics the collector holds (docs/exporters.md, Prometheus).', {
  ...httpExporterKeys(),
  // 0 read and queued the metrics in a loop (about 3/4 of a core busy).
  interval: Type.String({ default: '15s', format: 'duration', unitMinimum: '1s', description: 'How often the metrics are read and queued for sending.' }),
  externalLabels: labelMap("Labels added to every series (e.g. { instance: collector-1 }); a series' own label wins."),
  queue: Type.Object(
    {
      maxSamples: Type.Integer({ default: 500_000, minimum: 1, description: 'Samples waiting to be sent (during an outage, kept in the database across restarts); the oldest requests beyond are dropped (reason queue_full).' }),
    },
    { additionalProperties: false, default: {} },
  ),
  maxSamplesPerRequest: Type.Integer({ default: 2000, minimum: 1, description: 'Most samples in one request.' }),
  shutdownTimeout: Type.String({ default: '5s', format: 'duration', description: 'On shutdown, sending goes on this long to flush the queue; 0 stops at once.' }),
});
export type RemoteWriteConfig = Static<typeof remoteWriteConfigSchema>;
