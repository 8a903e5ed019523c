import { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { Sleep } from './retry.ts';
import type { Logger } from './sink.ts';

/** Wait before an exporter's loop starts again after an unexpected error. */
export const LOOP_RESTART_MS = 1000;

export interface RestartingLoop {
  /** The exporter's name, for the log line. */
  name: string;
  /** One run of the loop, from the persisted cursor; returns when the exporter stops. */
  run(): Promise<void>;
  /** Back to the persisted cursor before a run again (state the run kept outside itself). */
  rewind?(): void;
  stopped(): boolean;
}

/**
 * Runs an exporter's loop (log delivery, span export) until it returns. An unexpected error (the
 * database failing a read, or a dead letter's write on a full disk) ended the loop for good: nothing
 * more was delivered until the collector restarted, while its health said up. The error is logged
 * and the loop starts again from its cursor after LOOP_RESTART_MS, unless the exporter stops
 * meanwhile. What was read or in flight since the cursor is sent again (at-least-once, as after a
 * crash).
 */
export async function runRestartingAfterErrors(loop: RestartingLoop, deps: { logger: Logger; sleep: Sleep; signal: AbortSignal }): Promise<void> {
  // A cause that lasts (a full disk) fails the loop again at each start, once a second: the
  // line is rate-limited (log/rate-limited-log.ts), the count of the others in its summary.
  const log = new RateLimitedLog(deps.logger);
  try {
    for (let failed = false; ; ) {
      try {
        if (failed) loop.rewind?.();
        await loop.run();
        return;
      } catch (err) {
        failed = true;
        log.log({
          key: 'loop failed',
          level: 'error',
          fields: { exporter: loop.name, err: (err as Error).message },
          msg: () => `exporter ${loop.name}: delivery loop failed; starting again from the cursor in ${LOOP_RESTART_MS} ms`,
        });
        if (loop.stopped() || !(await deps.sleep(LOOP_RESTART_MS, deps.signal))) return;
      }
    }
  } finally {
    log.flush();
  }
}
