// Shutdown and process-exit flushing (main thread).
// Node process events: https://nodejs.org/api/process.html#event-beforeexit , #event-exit
// (`exit` listeners must be synchronous; worker threads keep running until they return).
//
// Contract:
// - shutdown(deadlineAt?): idempotent (same promise), never rejects, resolves when the worker has
//   sent everything or at deadlineAt (default now + shutdownTimeoutMs; + a short grace for the
//   worker to count what it dropped). The SDK-wide shutdown (../lifecycle.ts) passes its one
//   deadline here. Steps: publish the deadline (stats.ts requestShutdown) → transport.flush(cb)
//   makes the worker drain to that deadline without blocking this thread → transport.end()
//   (thread-stream blocks until the worker's close; quick, as it is already drained).
// - beforeExit is NOT handled here: ../lifecycle.ts calls the SDK-wide shutdown on beforeExit
//   (the flushes keep the loop alive until done), which calls this shutdown first.
// - exit (synchronous, e.g. process.exit()): flushSync() hands every pending line to the worker,
//   end() blocks until the worker closed (its close drains to the deadline), then Atomics.wait on
//   the `drained` flag until the deadline as a backstop.
//   The transport is created with worker.autoEnd = false, so pino's on-exit-leak-free hooks are
//   not installed and this handler is the one that flushes. Only before the worker is ready does
//   pino keep a hook of its own (registered before ours, so it runs first); flushSync/end are
//   idempotent, so whichever runs first does the work and the other finds nothing left.

import { MAX_TIMER_MS } from '../otel-env.ts';
import { requestShutdown, shutdownDeadline, waitDrainedSync, type SharedState } from './stats.ts';

/** The part of pino's ThreadStream used here. */
export interface TransportStream {
  flush(cb: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
  readonly destroyed: boolean;
  readonly closed: boolean;
}

const GRACE_MS = 250;

export function createLifecycle(
  transport: TransportStream,
  state: SharedState,
  shutdownTimeoutMs: number,
): (deadlineAt?: number) => Promise<void> {
  let shutdownPromise: Promise<void> | undefined;
  let finished = false;

  function endTransport(): void {
    try {
      if (transport.destroyed || transport.closed) return;
      transport.flushSync();
      transport.end();
    } catch {
      // worker gone or wedged: nothing more we can do
    }
  }

  function removeHooks(): void {
    process.removeListener('exit', onExit);
  }

  async function run(requestedDeadline: number): Promise<void> {
    requestShutdown(state, requestedDeadline);
    const deadlineAt = shutdownDeadline(state) ?? requestedDeadline;
    await new Promise<void>((resolve) => {
      // Capped: the longest shutdownTimeoutMs (MAX_TIMER_MS) plus the grace overflowed, and Node
      // fires a timer over 2^31-1 ms at once, so shutdown resolved before the worker sent anything.
      const timer = setTimeout(resolve, Math.min(Math.max(0, deadlineAt - Date.now()) + GRACE_MS, MAX_TIMER_MS));
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        transport.flush(done);
      } catch {
        done();
      }
    });
    endTransport();
    finished = true;
    removeHooks();
  }

  function shutdown(deadlineAt: number = Date.now() + shutdownTimeoutMs): Promise<void> {
    shutdownPromise ??= run(deadlineAt).catch(() => {
      finished = true;
      removeHooks();
    });
    return shutdownPromise;
  }

  function onExit(): void {
    if (finished) return;
    finished = true;
    try {
      requestShutdown(state, Date.now() + shutdownTimeoutMs);
      const deadlineAt = shutdownDeadline(state) ?? Date.now() + shutdownTimeoutMs;
      endTransport();
      waitDrainedSync(state, deadlineAt + GRACE_MS);
    } catch {
      // never throw from an exit handler
    }
  }

  process.on('exit', onExit);
  return shutdown;
}
