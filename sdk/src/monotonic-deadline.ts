/**
 * An epoch deadline (a shutdown's deadlineAt) as a time of performance.now(), read once: compared
 * with Date.now() at each turn, a step of the host's wall clock back (NTP, a VM resumed, `date -s`)
 * put the deadline off by the step, and a shutdown or the app's exit waited that long.
 */
export function monotonicDeadline(deadlineAt: number): number {
  return performance.now() + Math.max(0, deadlineAt - Date.now());
}
