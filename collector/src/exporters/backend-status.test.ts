// The lines an exporter writes about its backend over a long outage and a flapping backend,
// counted on a fake clock (vi.useFakeTimers: Date, and the rate limit's timers).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendStatus } from './backend-status.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import type { ExportResult } from './result.ts';
import { lineRecorder as recorder } from '../log/line-recorder.ts';

const HOUR = 3_600_000;
const FAILED: ExportResult = { status: 'retryable', error: 'HTTP 503: upstream unavailable', httpStatus: 503 };
const OK: ExportResult = { status: 'success' };
/** The defaults of circuitBreaker: 5 failures, 5 s doubling up to 2 min. */
const POLICY = { failureThreshold: 5, openMs: 5000, maxOpenMs: 120_000 };
/** The breaker's waits advance the fake clock: the retry loop runs an hour in a moment. */
const fakeSleep = async (ms: number) => {
  vi.advanceTimersByTime(ms);
  return true;
};

describe('BackendStatus: the lines of a backend in trouble', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('down for an hour under load: a line when it starts, then one per open period with the next probe and the time failing; back: two', async () => {
    const { lines, logger } = recorder();
    const status = new BackendStatus('loki', logger);
    const breaker = new CircuitBreaker(POLICY, { now: Date.now, sleep: fakeSleep });
    status.watch(breaker);
    const end = Date.now() + HOUR;
    let requests = 0;
    while (Date.now() < end) {
      const permit = (await breaker.acquire())!;
      requests++;
      status.note(FAILED);
      permit.done(FAILED);
      vi.advanceTimersByTime(100);
    }
    const outage = lines.filter((l) => l.level !== 'debug');
    // Before: the same, plus an info line "circuit half-open" per probe (about 65 lines);
    // one per request would be `requests`.
    expect(requests).toBeGreaterThan(30);
    expect(outage.length).toBeLessThanOrEqual(35);
    expect(outage[0]).toEqual({ level: 'warn', fields: { exporter: 'loki', error: 'HTTP 503: upstream unavailable' }, msg: 'exporter loki: backend failing, retrying' });
    expect(outage[1].msg).toBe('exporter loki: circuit open: sending paused, next probe in 5 s (backend failing for 0 s)');
    const last = outage.at(-1)!;
    expect(last.level).toBe('warn');
    expect(last.fields).toMatchObject({ exporter: 'loki', circuit: 'open', lastError: 'HTTP 503: upstream unavailable', nextProbeInSeconds: 120 });
    expect(last.fields.failingForSeconds).toBeGreaterThan(3400);
    expect(outage.every((l) => l.fields.exporter === 'loki')).toBe(true);

    const permit = (await breaker.acquire())!;
    status.note(OK);
    permit.done(OK);
    const back = lines.slice(lines.length - 2);
    expect(back.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'exporter loki: backend answering again'],
      ['info', 'exporter loki: circuit closed: sending again'],
    ]);
  });

  it('flapping for an hour (a failure every 2 s, the circuit opening and closing): the first lines, then a summary per kind and minute (9000 lines before)', async () => {
    const { lines, logger } = recorder();
    const status = new BackendStatus('es', logger);
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 500, maxOpenMs: 1000 }, { now: Date.now, sleep: fakeSleep });
    status.watch(breaker);
    const end = Date.now() + HOUR;
    let flaps = 0;
    while (Date.now() < end) {
      for (const r of [FAILED, OK]) {
        const permit = (await breaker.acquire())!;
        status.note(r);
        permit.done(r);
      }
      flaps++;
      vi.advanceTimersByTime(2000 - 500);
    }
    status.flushLog();
    const written = lines.filter((l) => l.level !== 'debug');
    expect(flaps).toBeGreaterThan(1700);
    // Four kinds (failing, circuit open, answering again, circuit closed): the first of each,
    // then at most one summary per kind and minute, the last ones at the flush.
    expect(written.length).toBeLessThanOrEqual(4 + 4 * 61);
    expect(written.length).toBeGreaterThanOrEqual(4 * 60);
    // Every flap is accounted for: in a line of its own or in a summary's count.
    const failing = written.filter((l) => /^exporter es: backend failing, retrying/.test(l.msg));
    expect(failing.reduce((n, l) => n + ((l.fields.suppressed as number | undefined) ?? 1), 0)).toBe(flaps);
    expect(failing[1].msg).toMatch(/^exporter es: backend failing, retrying — summary of \d+ such line\(s\) in the last 60 s/);
    expect(failing[1].level).toBe('warn');
    const answering = written.filter((l) => /answering again/.test(l.msg));
    expect(answering.every((l) => l.level === 'info')).toBe(true);
  });

  it("a backend's long answer is cut in the log line, kept whole for /health/dependencies", () => {
    const { lines, logger } = recorder();
    const status = new BackendStatus('loki', logger);
    const page = `HTTP 502: <html><body>${'bad gateway '.repeat(200)}</body></html>`.slice(0, 2000);
    status.note({ status: 'retryable', error: page, httpStatus: 502 });
    const error = lines[0].fields.error as string;
    expect(error.startsWith(page.slice(0, 500))).toBe(true);
    expect(error).toMatch(/… \(1500 more characters: GET \/health\/dependencies, GET \/api\/v1\/deadletter\)$/);
    expect(status.dependency('loki', 'http://loki', 'closed').lastError).toBe(page);
  });
});
