// Delays taken from the configuration for Node timers. Node runs a timer of more than 2^31 - 1 ms
// (about 24.8 days) after 1 ms instead (TimeoutOverflowWarning), so `interval: 30d` would spin;
// such a delay is cut to the longest a timer can wait. (The alerting clock chains such waits.)
import { MAX_NODE_TIMER_MS } from '../../alerting/src/clock.ts';

/** `ms` as a timer delay: at least 0, at most MAX_NODE_TIMER_MS. */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_NODE_TIMER_MS);
}
