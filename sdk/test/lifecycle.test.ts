import { describe, expect, it } from 'vitest';
import { createLifecycle, type TransportStream } from '../src/logs/lifecycle.ts';
import { createSharedBuffer, sharedState } from '../src/logs/stats.ts';

describe('logs lifecycle', () => {
  it('waits for the worker with the longest shutdownTimeoutMs accepted (2^31-1 ms): its timer plus the grace must not overflow', async () => {
    // Node fires a timer over 2^31-1 ms at once: shutdown() resolved (and the app exited) before
    // the worker had sent anything.
    let flushed: ((err?: Error) => void) | undefined;
    let ended = false;
    const stream: TransportStream = {
      flush: (cb) => (flushed = cb),
      flushSync: () => {},
      end: () => (ended = true),
      destroyed: false,
      closed: false,
    };
    const shutdown = createLifecycle(stream, sharedState(createSharedBuffer()), 2 ** 31 - 1);
    let resolved = false;
    const done = shutdown().then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(resolved).toBe(false);
    expect(ended).toBe(false);
    flushed!();
    await done;
    expect(ended).toBe(true);
  });
});
