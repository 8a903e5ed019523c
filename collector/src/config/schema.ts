import { Type, type Static } from '@sinclair/typebox';
import { httpConfigSchema } from '../http/config.ts';
import { logConfigSchema } from '../log/config.ts';
import { storeConfigSchema } from '../store/config.ts';
import { exportersConfigSchema } from '../exporters/config.ts';
import { metricsConfigSchema } from '../metrics/config.ts';
import { tracesConfigSchema } from '../traces/config.ts';
import { configSchema as syslogConfigSchema } from '../receivers/syslog/receiver.ts';
import { alertingConfigSchema } from '../../../alerting/src/config.ts';

/**
 * The whole periscope.yaml. Each component owns its slice (schema + defaults next to its code);
 * this file only composes them. Unknown keys anywhere are errors. Reference: docs/configuration.md.
 */
export const configSchema = Type.Object(
  {
    http: httpConfigSchema,
    log: logConfigSchema,
    syslog: syslogConfigSchema,
    store: storeConfigSchema,
    exporters: exportersConfigSchema,
    traces: tracesConfigSchema,
    metrics: metricsConfigSchema,
    alerting: alertingConfigSchema,
  },
  { additionalProperties: false, default: {} },
);

export type Config = Static<typeof configSchema>;
