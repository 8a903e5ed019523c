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

describe('waitDrainedSync (the exit handler: the event loop is gone)', () => {
  it('gives up at its deadline also when the wall clock steps back an hour meanwhile (NTP, a VM resumed, date -s)', async () => {
    // It blocks its thread: run in a child, which a broken version would keep for an hour.
    const stats = new URL('../src/logs/stats.ts', import.meta.url).href;
    const script = `
      import { createSharedBuffer, sharedState, waitDrainedSync } from ${JSON.stringify(stats)};
      const realNow = Date.now;
      let calls = 0;
      Date.now = () => realNow() - (calls++ > 0 ? 3_600_000 : 0); // stepped back after the first reading
      const started = performance.now();
      const drained = waitDrainedSync(sharedState(createSharedBuffer()), realNow() + 200);
      console.log(JSON.stringify({ drained, ms: Math.round(performance.now() - started) }));`;
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (err, stdout) => (err ? reject(new Error(`the wait did not end: ${err.message}`)) : resolve(stdout)));
    });
    const result = JSON.parse(out) as { drained: boolean; ms: number };
    expect(result.drained).toBe(false);
    expect(result.ms).toBeGreaterThanOrEqual(150);
  });
});
