import { Type, type Static } from '@sinclair/typebox';

/**
 * The levels a user may pick, lowest first, with pino's numbers (the `level` field of each line).
 * Prometheus', Loki's and the OpenTelemetry Collector's `log.level` take the same four names.
 */
export const LOG_LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/** `log:` — the collector's own log: JSON lines (pino's shape) on stdout. */
export const logConfigSchema = Type.Object(
  {
    level: Type.Union(
      (Object.keys(LOG_LEVELS) as LogLevel[]).map((l) => Type.Literal(l)),
      {
        default: 'info',
        description:
          'Lowest level written: `debug`, `info`, `warn` or `error`. At `warn` the start-up and stop lines (info) are left out too: wait for GET /health/ready instead. Env PERISCOPE_COLLECTOR_LOG_LEVEL (not PERISCOPE_LOG_LEVEL, which sets the level of the SDK in an app).',
      },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type LogConfig = Static<typeof logConfigSchema>;
