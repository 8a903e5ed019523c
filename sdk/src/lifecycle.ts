// SDK-wide shutdown: one deadline for every pillar.
//
// Contract:
// - shutdown(): idempotent (the same promise every time), never rejects, resolves by
//   start + shutdownTimeoutMs (plus the logs pillar's short grace to count its drops).
// - Stages start in order — logs, then spans, then metrics — under the one shared deadline. The
//   logs stage drains in its worker thread, so it runs alongside the others instead of before them:
//   waiting for it first would let a slow log path eat the whole deadline and lose every span.
//   The main-thread stages run strictly one after the other (spans, then metrics), so the final
//   metric collection comes after the span flush. A stage still running at the deadline is
//   abandoned there, and a stage whose turn comes after the deadline is not started: its exports
//   could only keep the process alive past it. At the end the exporters' HTTP agents are closed
//   (otel/common.ts), so an abandoned export or its retry cannot either.
// - `beforeExit` (the event loop ran dry: a natural exit) runs shutdown(), so nothing buffered is
//   lost when an app simply ends. The synchronous `exit` event (process.exit()) can only flush
//   logs — their worker thread keeps running while the main thread blocks (logs/lifecycle.ts);
//   spans and metrics are exported from the main thread's event loop, gone by then.

import { untilDeadline } from './otel/common.ts';

export interface Stage {
  name: string;
  run(deadlineAt: number): Promise<void>;
}

export function createShutdown(stages: Stage[], timeoutMs: number, after: () => void): () => Promise<void> {
  let promise: Promise<void> | undefined;

  async function run(): Promise<void> {
    process.removeListener('beforeExit', onBeforeExit);
    const deadlineAt = Date.now() + timeoutMs;
    const start = (stage: Stage): Promise<void> => {
      try {
        return stage.run(deadlineAt).catch(() => {});
      } catch {
        return Promise.resolve();
      }
    };
    const [first, ...rest] = stages;
    // the logs pillar publishes the deadline to its worker and adds a short grace for its drop counts
    const logs = first ? start(first) : Promise.resolve();
    for (const stage of rest) {
      if (Date.now() >= deadlineAt) break; // it could only run past the deadline
      await untilDeadline(start(stage), deadlineAt);
    }
    await logs;
    try {
      after();
    } catch {
      // never reject
    }
  }

  function shutdown(): Promise<void> {
    promise ??= run().catch(() => {});
    return promise;
  }

  function onBeforeExit(): void {
    void shutdown();
  }

  process.on('beforeExit', onBeforeExit);
  return shutdown;
}
