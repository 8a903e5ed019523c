// Shared-memory counters between the main thread and the transport worker.
// https://nodejs.org/api/worker_threads.html#new-workerfilename-options (workerData is cloned
// with the HTML structured clone algorithm; SharedArrayBuffer contents are shared, not copied).
//
// Contract: the main thread allocates one SharedArrayBuffer (createSharedState) and passes it in
// the pino transport options; workerData is structured-cloned, and a SharedArrayBuffer stays
// shared across that clone. The worker is the only writer of counters (Atomics.add/store);
// the main thread only reads them (readStats) and writes the shutdown request. No postMessage
// protocol is involved, so reading stats never waits on the worker.

import { monotonicDeadline } from '../monotonic-deadline.ts';

/** Counter slots (BigInt64, so `sent` cannot overflow in a long-running service). */
export const C = {
  sent: 0,
  buffer_full: 1,
  permanent_error: 2,
  too_large: 3,
  shutdown_timeout: 4,
  rejected: 5,
  bufferedBytes: 6,
  retries: 7,
  /** Absolute shutdown deadline (epoch ms) chosen by the main thread; 0 = none. */
  deadlineAt: 8,
  /** Records the worker holds (queued + in flight): lost with it if its thread dies. */
  bufferedRecords: 9,
} as const;
const COUNTER_SLOTS = 10;

/** Int32 flag slots (Atomics.wait/notify need Int32). */
export const F = {
  /** Main → worker: 1 once shutdown started (flushes drain to the deadline and then drop). */
  shutdownRequested: 0,
  /** Worker → main: 1 once the worker has sent (or given up on) everything it had. */
  drained: 1,
} as const;
const FLAG_SLOTS = 2;

/** Why the worker gave records up (its counters). */
export type DropReason = 'buffer_full' | 'permanent_error' | 'too_large' | 'shutdown_timeout' | 'rejected';

export interface Stats {
  /** Records the collector accepted. */
  sent: number;
  /** Records given up on, by reason; `worker_exited`: lost with a log worker thread that died. */
  dropped: Record<DropReason | 'worker_exited', number>;
  /** Serialized NDJSON bytes held by the worker (queued + in flight). */
  bufferedBytes: number;
  /** Number of retried requests (network errors, 429, 5xx). */
  retries: number;
  /** Records deliberately not logged by log sampling (counted in the main thread). */
  sampledOut: number;
}

export interface SharedState {
  counters: BigInt64Array;
  flags: Int32Array;
}

export function createSharedBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTER_SLOTS * 8 + FLAG_SLOTS * 4);
}

export function sharedState(sab: SharedArrayBuffer): SharedState {
  return {
    counters: new BigInt64Array(sab, 0, COUNTER_SLOTS),
    flags: new Int32Array(sab, COUNTER_SLOTS * 8, FLAG_SLOTS),
  };
}

export function addCounter(state: SharedState, slot: number, n: number): void {
  if (n !== 0) Atomics.add(state.counters, slot, BigInt(n));
}

export function setCounter(state: SharedState, slot: number, n: number): void {
  Atomics.store(state.counters, slot, BigInt(n));
}

export function getCounter(state: SharedState, slot: number): number {
  return Number(Atomics.load(state.counters, slot));
}

export function readStats(state: SharedState): Omit<Stats, 'sampledOut'> {
  return {
    sent: getCounter(state, C.sent),
    dropped: {
      buffer_full: getCounter(state, C.buffer_full),
      permanent_error: getCounter(state, C.permanent_error),
      too_large: getCounter(state, C.too_large),
      shutdown_timeout: getCounter(state, C.shutdown_timeout),
      rejected: getCounter(state, C.rejected),
      worker_exited: 0, // counted on the main thread (logs/index.ts): the worker is gone
    },
    bufferedBytes: getCounter(state, C.bufferedBytes),
    retries: getCounter(state, C.retries),
  };
}

/** Main thread: publish the shutdown deadline, then raise the flag (deadline is visible first). */
export function requestShutdown(state: SharedState, deadlineAt: number): void {
  if (Atomics.load(state.flags, F.shutdownRequested) === 1) return;
  Atomics.store(state.counters, C.deadlineAt, BigInt(Math.floor(deadlineAt)));
  Atomics.store(state.flags, F.shutdownRequested, 1);
  Atomics.notify(state.flags, F.shutdownRequested);
}

/** Whether the main thread has started the shutdown. */
export function shutdownRequested(state: SharedState): boolean {
  return Atomics.load(state.flags, F.shutdownRequested) === 1;
}

/** Worker: the deadline published by the main thread, or undefined before shutdown. */
export function shutdownDeadline(state: SharedState): number | undefined {
  if (Atomics.load(state.flags, F.shutdownRequested) !== 1) return undefined;
  return getCounter(state, C.deadlineAt) || undefined;
}

/** Worker: signal that everything buffered was sent or given up on. */
export function markDrained(state: SharedState): void {
  Atomics.store(state.flags, F.drained, 1);
  Atomics.notify(state.flags, F.drained);
}

/**
 * Main thread, synchronous: block until the worker marked itself drained or the deadline passed.
 * Only for the `exit` event, where the event loop is gone; the worker keeps running meanwhile.
 */
export function waitDrainedSync(state: SharedState, deadlineAt: number): boolean {
  const end = monotonicDeadline(deadlineAt);
  for (;;) {
    if (Atomics.load(state.flags, F.drained) === 1) return true;
    const left = end - performance.now();
    if (left <= 0) return false;
    Atomics.wait(state.flags, F.drained, 0, left);
  }
}
