// @periscope/sdk entry point.
// init() validates options (the only place that may throw) and composes the pillars; today only
// logs (./logs), later issues add `tracer` and `meter` to the returned object.

import { resolveOptions, type PeriscopeOptions } from './options.ts';
import { startLogs } from './logs/index.ts';
import type { Logger } from 'pino';
import type { Stats } from './logs/stats.ts';

export type { PeriscopeOptions, LogFormat } from './options.ts';
export type { Stats, DropReason } from './logs/stats.ts';
export type { Logger } from 'pino';

export interface Periscope {
  /** A pino logger; records are shipped from a worker thread. */
  logger: Logger;
  /** Flushes and stops shipping; idempotent, never rejects, bounded by shutdownTimeoutMs. */
  shutdown: () => Promise<void>;
  /** Delivery counters, read from shared memory (cheap, synchronous). */
  stats: () => Stats;
}

export function init(options: PeriscopeOptions): Periscope {
  const resolved = resolveOptions(options);
  const logs = startLogs(resolved);
  return { logger: logs.logger, shutdown: logs.shutdown, stats: logs.stats };
}
