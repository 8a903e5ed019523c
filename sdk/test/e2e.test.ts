// End-to-end: the SDK runs in a child process (fixtures/app.ts) and ships to a fake collector.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCollector } from './helpers/fake-collector.ts';
import { runFixture, startFixture } from './helpers/run-fixture.ts';
import type { LogRecord } from '../src/record.ts';
import { freePort } from '../../test/helpers/net.ts';

const RFC3339_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const T = 60_000;

let collector: FakeCollector;
beforeEach(async () => {
  collector = await new FakeCollector().start();
});
afterEach(async () => {
  await collector.stop();
});

const byMsg = (records: LogRecord[], msg: string) => records.find((r) => r.msg === msg);

describe('records arrive in the Periscope record format', () => {
  it('maps fields, levels, bindings, trace context, unicode and a 64 KiB message', { timeout: T }, async () => {
    const run = await runFixture('basic', {
      endpoint: collector.url,
      env: { PERISCOPE_LOG_LEVEL: 'trace' },
      options: { hostname: 'host-a', facility: 16 },
    });
    expect(run.exit.code, run.stderr()).toBe(0);
    const { pid } = await run.event('pid');
    const stats = await run.event('stats');
    const recs = collector.accepted;
    expect(recs).toHaveLength(11);
    expect(stats).toMatchObject({ sent: 11, retries: 0, bufferedBytes: 0, samePromise: true });

    for (const req of collector.requests) {
      expect(req.headers['content-type']).toBe('application/x-ndjson');
      expect(req.headers['content-encoding']).toBe('gzip');
    }
    for (const r of recs) {
      expect(r.timestamp).toMatch(RFC3339_MICROS);
      expect(Math.abs(Date.parse(r.timestamp) - Date.now())).toBeLessThan(120_000);
      expect(r).toMatchObject({ appName: 'checkout', hostname: 'host-a', procId: String(pid), facility: 16 });
    }
    // records keep the order they were logged in
    expect(recs.map((r) => r.msg.slice(0, 12))).toEqual([
      'at trace', 'at debug', 'at info', 'at warn', 'at error', 'at fatal',
      'order create', 'with trace', 'héllo 世界 🚀', 'x'.repeat(12), 'big numbers',
    ]);
  });

  it.each([
    { name: 'trace', severity: 7, level: 'debug' },
    { name: 'debug', severity: 7, level: 'debug' },
    { name: 'info', severity: 6, level: 'info' },
    { name: 'warn', severity: 4, level: 'warning' },
    { name: 'error', severity: 3, level: 'err' },
    { name: 'fatal', severity: 2, level: 'crit' },
  ])('pino $name → severity $severity ($level)', { timeout: T }, async ({ name, severity, level }) => {
    const run = await runFixture('basic', { endpoint: collector.url, env: { PERISCOPE_LOG_LEVEL: 'trace' } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(byMsg(collector.accepted, `at ${name}`)).toMatchObject({ severity, level, attributes: { n: name } });
  });

  it('keeps child bindings and fields as attributes, lifts trace context, keeps unicode and 64 KiB', { timeout: T }, async () => {
    const run = await runFixture('basic', { endpoint: collector.url });
    expect(run.exit.code, run.stderr()).toBe(0);
    const recs = collector.accepted;
    expect(byMsg(recs, 'order created')?.attributes).toEqual({ requestId: 'r-1', nested: { a: 1 }, orderId: 42 });
    const traced = byMsg(recs, 'with trace')!;
    expect(traced).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
    expect(traced.attributes).toEqual({ kept: true });
    expect(byMsg(recs, 'héllo 世界 🚀')?.attributes).toEqual({ text: 'ünïcödé ✓' });
    expect(byMsg(recs, 'x'.repeat(64 * 1024))?.attributes).toEqual({ big: true });
    // a BigInt keeps its digits (as a string: JSON numbers beyond 2^53 would be rounded)
    expect(byMsg(recs, 'big numbers')?.attributes).toEqual({ id: '18446744073709551616', neg: '-1152921504606846976', float: 1.5e300, safe: 9007199254740991 });
    // default hostname is os.hostname(), default facility is 1 (user)
    expect(recs[0].facility).toBe(1);
    expect(recs[0].hostname).toBeTruthy();
    // level "info" (the default) filtered trace and debug
    expect(byMsg(recs, 'at trace')).toBeUndefined();
    expect(byMsg(recs, 'at debug')).toBeUndefined();
  });
});

describe('levels and redaction', () => {
  it('applies per-module levels from PERISCOPE_LOG_LEVEL to child({ module })', { timeout: T }, async () => {
    const run = await runFixture('modules', { endpoint: collector.url, env: { PERISCOPE_LOG_LEVEL: 'info,db=debug,http=warn' } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.accepted.map((r) => r.msg).sort()).toEqual(
      ['root info', 'db debug', 'db grandchild debug', 'http warn', 'other info'].sort(),
    );
    expect(await run.event('levels')).toEqual({ root: 'info', db: 'debug', http: 'warn', other: 'info', debugEnabled: false });
  });

  it('redacts the configured paths before the line leaves the app', { timeout: T }, async () => {
    const run = await runFixture('redact', { endpoint: collector.url, options: { redact: ['password', 'user.token'] } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.accepted).toHaveLength(1);
    expect(collector.accepted[0].attributes).toEqual({ user: { name: 'ann', token: '[Redacted]' }, password: '[Redacted]' });
  });
});

describe('collector responses', () => {
  it('429 with Retry-After then 200 → delivered once, after the Retry-After', { timeout: T }, async () => {
    collector.reply({ status: 429, retryAfter: '1' });
    const run = await runFixture('count', { endpoint: collector.url, env: { FIXTURE_N: '3' } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(collector.requests[1].at - collector.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(collector.accepted.map((r) => r.msg)).toEqual(['record 0', 'record 1', 'record 2']);
    expect(await run.event('stats')).toMatchObject({ sent: 3, retries: 1 });
  });

  it('400 → not retried, counted as permanent_error', { timeout: T }, async () => {
    collector.responder = () => ({ status: 400, body: { accepted: 0, rejected: [{ index: 0, code: 'bad', message: 'bad' }] } });
    const run = await runFixture('count', { endpoint: collector.url, env: { FIXTURE_N: '3' } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.requests).toHaveLength(1);
    const stats = await run.event('stats');
    expect(stats).toMatchObject({ sent: 0, retries: 0, dropped: { permanent_error: 3 } });
  });

  it('200 with rejections → the rest counted sent, rejected ones not retried', { timeout: T }, async () => {
    collector.reply({ status: 200, reject: [1] });
    const run = await runFixture('count', { endpoint: collector.url, env: { FIXTURE_N: '3' } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.requests).toHaveLength(1);
    expect(await run.event('stats')).toMatchObject({ sent: 2, retries: 0, dropped: { rejected: 1 } });
  });
});

describe('failure modes', () => {
  it('collector absent → app keeps working, exits 0, buffer bounded, every record accounted for', { timeout: T }, async () => {
    const maxBufferBytes = 32 * 1024;
    const n = 3000;
    const run = await runFixture('absent', {
      endpoint: `http://127.0.0.1:${await freePort()}`,
      env: { FIXTURE_N: String(n) },
      options: { maxBufferBytes, shutdownTimeoutMs: 1500 },
    });
    expect(run.exit.code, run.stderr()).toBe(0);
    const alive = await run.event('alive');
    expect(alive.work).toBe(499500);
    expect(alive.maxBuffered).toBeGreaterThan(0);
    expect(alive.maxBuffered).toBeLessThanOrEqual(maxBufferBytes);
    const stats = await run.event('stats');
    expect(stats.sent).toBe(0);
    expect(stats.bufferedBytes).toBe(0);
    expect(stats.retries).toBeGreaterThan(0);
    expect(stats.dropped.buffer_full).toBeGreaterThan(0);
    expect(stats.dropped.buffer_full + stats.dropped.shutdown_timeout).toBe(n);
    expect(stats.shutdownMs).toBeLessThan(1500 + 2000);
  });

  it('collector down, then up → delivery resumes, nothing lost', { timeout: T }, async () => {
    const port = await freePort();
    await collector.stop();
    const f = startFixture('downup', { endpoint: `http://127.0.0.1:${port}` });
    const retrying = await f.event('retrying');
    expect(retrying.retried).toBe(true);
    collector = await new FakeCollector().start(port);
    f.send('go');
    expect((await f.event('delivered')).delivered).toBe(true);
    expect((await f.exited).code).toBe(0);
    const msgs = collector.accepted.map((r) => r.msg);
    expect(msgs).toEqual([0, 1, 2, 3, 4].map((i) => `down ${i}`).concat([0, 1, 2, 3, 4].map((i) => `up ${i}`)));
    expect(await f.event('stats')).toMatchObject({ sent: 10, dropped: { buffer_full: 0, shutdown_timeout: 0 } });
  });

  it('log worker thread dies → the app logs on, what it held and every line after counted as worker_exited, one warning', { timeout: T }, async () => {
    collector.responder = (records) => (records.some((r) => r.msg.startsWith('held')) ? { status: 503, retryAfter: '1' } : { status: 200 });
    const run = await runFixture('worker-exit', { endpoint: collector.url });
    expect(run.exit.code, run.stderr()).toBe(0);
    const dead = await run.event('dead');
    expect(dead.workers).toBe(1);
    expect(dead.stats).toMatchObject({ sent: 5, dropped: { worker_exited: 3 + 7 } });
    expect(dead.warnings).toEqual([{ code: 'PERISCOPE_SDK_LOG_WORKER_EXITED', message: expect.stringContaining(`no longer shipped to ${collector.url}`) }]);
    expect(collector.accepted.map((r) => r.msg)).toEqual(['before 0', 'before 1', 'before 2', 'before 3', 'before 4']);
    // The shutdown after it neither throws nor counts again.
    expect(await run.event('stats')).toMatchObject({ sent: 5, dropped: { worker_exited: 10 } });
  });

  it('full buffer drops lowest severity first (debug, then info, then the newest warnings)', { timeout: T }, async () => {
    const run = await runFixture('overflow', {
      endpoint: collector.url,
      env: { PERISCOPE_LOG_LEVEL: 'debug' },
      options: { maxBufferBytes: 96 * 1024, flushIntervalMs: 600_000, batchMaxBytes: 4 * 1024 * 1024, batchMaxRecords: 100_000 },
    });
    expect(run.exit.code, run.stderr()).toBe(0);
    const got = collector.accepted;
    const count = (level: string) => got.filter((r) => r.level === level).length;
    expect(count('err')).toBe(200);
    expect(count('debug')).toBe(0);
    expect(count('info')).toBe(0);
    const warns = got.filter((r) => r.level === 'warning').map((r) => r.attributes!.i as number);
    expect(warns.length).toBeGreaterThan(0);
    expect(warns.length).toBeLessThan(200);
    // within a severity the newest go first: what survives is the oldest, contiguous prefix
    expect(warns).toEqual([...warns.keys()]);
    const stats = await run.event('stats');
    expect(stats.dropped.buffer_full).toBe(2300 - got.length);
    expect(stats.sent).toBe(got.length);
  });
});

describe('flushing on exit', () => {
  it.each([
    { name: 'process.exit() before the worker is up', scenario: 'exit-now', expected: 50 },
    { name: 'process.exit() after the worker is up', scenario: 'exit-later', expected: 50 },
    { name: 'natural exit without shutdown()', scenario: 'natural', expected: 20 },
  ])('$name still delivers every record', { timeout: T }, async ({ scenario, expected }) => {
    const run = await runFixture(scenario, { endpoint: collector.url });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.accepted).toHaveLength(expected);
    expect(new Set(collector.accepted.map((r) => r.msg)).size).toBe(expected);
    // the exit hook waited for the worker: the app's last look at stats already shows delivery
    expect(await run.event('exit-stats')).toMatchObject({ sent: expected, bufferedBytes: 0 });
  });

  it('exit flush gives up at shutdownTimeoutMs when the collector hangs', { timeout: T }, async () => {
    collector.responder = () => ({ hang: true });
    const run = await runFixture('exit-later', { endpoint: collector.url, options: { shutdownTimeoutMs: 1000 } });
    expect(run.exit.code, run.stderr()).toBe(0);
    expect(collector.requests.length).toBeGreaterThan(0);
    // The wait in the SDK's exit hook, timed by the app itself: the whole run's time also holds
    // the process' start, which a loaded machine stretches past any fixed margin. Without the
    // deadline the hook would wait for the request timeout (10 s), or for ever.
    const exiting = (await run.event('exiting')) as { at: number };
    const exitStats = (await run.event('exit-stats')) as { at: number };
    expect(exitStats).toMatchObject({ sent: 0, bufferedBytes: 0, dropped: { shutdown_timeout: 50 } });
    expect(exitStats.at - exiting.at).toBeGreaterThanOrEqual(900);
    expect(exitStats.at - exiting.at).toBeLessThan(5000);
  });
});

describe('console formats', () => {
  it.each([
    { name: 'json', check: (out: string) => expect(JSON.parse(out.trim())).toMatchObject({ msg: 'order "created"', appName: 'checkout', severity: 6, attributes: { orderId: 42 } }) },
    { name: 'logfmt', check: (out: string) => expect(out).toMatch(/^timestamp=\S+Z level=info service=checkout msg="order \\"created\\"" orderId=42 user\.id="u 1"\n$/) },
    { name: 'pretty', check: (out: string) => expect(out).toMatch(/INFO.*\(checkout\).*order "created"/) },
    { name: 'none', check: (out: string) => expect(out).toBe('') },
  ])('PERISCOPE_LOG_FORMAT=$name writes stdout and still ships', { timeout: T }, async ({ name, check }) => {
    const run = await runFixture('format', { endpoint: collector.url, env: { PERISCOPE_LOG_FORMAT: name } });
    expect(run.exit.code, run.stderr()).toBe(0);
    check(run.stdout());
    expect(collector.accepted).toHaveLength(1);
  });
});

describe('init()', () => {
  it('throws a clear error for redact paths pino cannot compile', async () => {
    const { init } = await import('../src/index.ts');
    expect(() => init({ service: 's', redact: ['a['] })).toThrow(/^\[periscope\] init: "redact": Invalid redaction path/);
  });

  it('throws a clear error when the service given is blank (none given is OpenTelemetry\'s unknown_service, options.test.ts)', async () => {
    const { init } = await import('../src/index.ts');
    expect(() => init({ service: ' ' })).toThrow(/\[periscope\] init: "service" must not be blank/);
  });
});

