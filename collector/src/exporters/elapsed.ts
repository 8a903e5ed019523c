// The clock of the exporters' waits and bounds: the circuit breaker's open period, the retry
// budget, batch.wait, queue.maxAge and the oldest-record age. Date.now() follows the host's wall
// clock, which steps (an NTP correction, a VM resumed, `date -s`): a step back of an hour held an
// open circuit, the retry budget and a batch that was not full for that hour, and a step forward
// past queue.maxAge took every waiting record for too old and dropped it. This one counts
// milliseconds on Node's monotonic clock (performance.now(), which never steps), starting from
// the wall time at which the process began, so it reads as epoch milliseconds. Times shown to
// people (health's lastErrorAt, a dead letter's time) stay on the wall clock.
export const elapsedNow = (): number => performance.timeOrigin + performance.now();
