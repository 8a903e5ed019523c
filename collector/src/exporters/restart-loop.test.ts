import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOOP_RESTART_MS, runRestartingAfterErrors } from './restart-loop.ts';

describe('runRestartingAfterErrors: the log of a loop that keeps failing', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('a loop failing at every start for 10 minutes (a full disk): one line, then a summary a minute (600 lines before)', async () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const at = (level: string) => (fields: object, msg?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
    let runs = 0;
    const loop = {
      name: 'loki',
      async run() {
        if (++runs <= 600) throw new Error('database or disk is full');
      },
      stopped: () => false,
    };
    // The restart's wait advances the fake clock: ten minutes of restarts run at once.
    const sleep = async (ms: number) => {
      vi.advanceTimersByTime(ms);
      return true;
    };
    await runRestartingAfterErrors(loop, { logger: { info: at('info'), warn: at('warn'), error: at('error') }, sleep, signal: new AbortController().signal });
    expect(runs).toBe(601);
    expect(lines.length).toBeLessThanOrEqual(1 + (600 * LOOP_RESTART_MS) / 60_000 + 1);
    expect(lines.every((l) => l.level === 'error' && l.fields.exporter === 'loki' && l.fields.err === 'database or disk is full')).toBe(true);
    expect(lines[0].msg).toBe('exporter loki: delivery loop failed; starting again from the cursor in 1000 ms');
    // Every failure is in a line: its own, or a summary's count (the last one written when the loop ends).
    expect(lines.reduce((n, l) => n + ((l.fields.suppressed as number | undefined) ?? 1), 0)).toBe(600);
    expect(vi.getTimerCount()).toBe(0);
  });
});
