// Delays taken from the configuration for Node timers. Node runs a timer of more than 2^31 - 1 ms
// (about 24.8 days) after 1 ms instead (TimeoutOverflowWarning), so `interval: 30d` would spin;
// such a delay is cut to the longest a timer can wait. (The alerting clock chains such waits.)
// The alerting side's notifiers and Prometheus client use the same one.
export { timerDelay } from '../../alerting/src/clock.ts';
