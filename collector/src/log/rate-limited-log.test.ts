import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOG_REPEAT_INTERVAL_MS, RateLimitedLog } from './rate-limited-log.ts';
import { lineRecorder as recorder } from './line-recorder.ts';

const refused = (n: number, reason = 'HTTP 400: bad labels') => ({
  key: 'dead-lettered',
  level: 'warn' as const,
  fields: { exporter: 'loki', reason },
  sum: { count: n },
  msg: (s: Record<string, number>) => `exporter loki: ${s.count} record(s) refused permanently`,
});

describe('RateLimitedLog', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('a line repeated every 100 ms for an hour: the first, then one summary a minute with the sums (36 000 lines before)', () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedLog(logger);
    for (let i = 0; i < 36_000; i++) {
      log.log(refused(10));
      vi.advanceTimersByTime(100);
    }
    expect(lines.length).toBe(1 + 60);
    expect(lines[0]).toEqual({ level: 'warn', fields: { exporter: 'loki', reason: 'HTTP 400: bad labels', count: 10 }, msg: 'exporter loki: 10 record(s) refused permanently' });
    const summary = lines[1];
    expect(summary.level).toBe('warn');
    expect(summary.fields).toMatchObject({ exporter: 'loki', reason: 'HTTP 400: bad labels', count: 5990, suppressed: 599, suppressedForSeconds: 60 });
    expect(summary.msg).toMatch(/^exporter loki: 5990 record\(s\) refused permanently — summary of 599 such line\(s\) in the last 60 s/);
    // Nothing is lost from the count: every record refused is in a written line.
    expect(lines.reduce((n, l) => n + (l.fields.count as number), 0)).toBe(360_000);
  });

  it('the count of the last repeats is written within an interval after they stop, and the next line goes out at once', () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedLog(logger);
    log.log(refused(1));
    log.log(refused(2));
    log.log(refused(3, 'HTTP 400: line too long'));
    expect(lines.length).toBe(1);
    vi.advanceTimersByTime(LOG_REPEAT_INTERVAL_MS);
    expect(lines.length).toBe(2);
    expect(lines[1].fields).toMatchObject({ count: 5, suppressed: 2, reason: 'HTTP 400: line too long' });
    vi.advanceTimersByTime(LOG_REPEAT_INTERVAL_MS); // a window with none: closes, writes nothing
    expect(lines.length).toBe(2);
    log.log(refused(4));
    expect(lines.length).toBe(3);
    expect(lines[2].fields).toEqual({ exporter: 'loki', reason: 'HTTP 400: bad labels', count: 4 });
  });

  it('keys are limited apart; a summary takes the worst level of the lines it stands for', () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedLog(logger);
    const state = (level: 'info' | 'warn', msg: string) => ({ key: 'state', level, fields: { exporter: 'loki' }, msg: () => msg });
    log.log(state('info', 'answering'));
    log.log(refused(1));
    log.log(state('warn', 'failing'));
    log.log(state('info', 'answering'));
    expect(lines.map((l) => l.msg)).toEqual(['answering', 'exporter loki: 1 record(s) refused permanently']);
    vi.advanceTimersByTime(LOG_REPEAT_INTERVAL_MS);
    expect(lines.length).toBe(3);
    expect(lines[2]).toMatchObject({ level: 'warn', fields: { suppressed: 2 } });
    expect(lines[2].msg).toMatch(/^answering — summary of 2 such line\(s\)/);
  });

  it('flush() writes the pending summaries at once (a shutdown), and once', () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedLog(logger);
    log.log(refused(1));
    log.log(refused(7));
    vi.advanceTimersByTime(20_000);
    log.flush();
    log.flush();
    expect(lines.length).toBe(2);
    expect(lines[1].fields).toMatchObject({ count: 7, suppressed: 1, suppressedForSeconds: 20 });
    vi.advanceTimersByTime(5 * LOG_REPEAT_INTERVAL_MS);
    expect(lines.length).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});
