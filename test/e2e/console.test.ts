// The web console end to end: the real collector process, headless Chromium (Debian package,
// driven by playwright-core), real HTTP and WebSocket. Screenshots go to test-artifacts/console/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { init } from '../../sdk/src/index.ts';
import { startStandIn } from '../helpers/alerting.ts';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from '../helpers/collector-process.ts';
import { CHROMIUM, haveChromium, launchChromium } from '../helpers/chromium.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'console');

describe.skipIf(!haveChromium)(`web console in headless Chromium${haveChromium ? '' : ` (skipped: ${CHROMIUM} not installed)`}`, () => {
  let collector: CollectorProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Console errors, uncaught exceptions and CSP violations of the current test's page. */
  let problems: string[];

  const run = `r${Date.now().toString(36)}`;
  const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

  async function postLogs(records: object[]): Promise<void> {
    const res = await fetch(`${collector.url}/api/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: records.map((r) => JSON.stringify(r)).join('\n'),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { rejected: unknown[] }).rejected).toEqual([]);
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    // expect.poll gives up after 1 s by default: on a loaded 2-core machine a page's first
    // search or a WebSocket round trip can take longer. A passing poll returns at once.
    vi.setConfig({ expect: { poll: { timeout: 15_000 } } });
    mkdirSync(ARTIFACTS, { recursive: true });
    [collector, browser] = await Promise.all([
      startCollectorProcess({ configYaml: 'store:\n  search:\n    indexInterval: 50ms\n' }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    if (collector) expect(await collector.stop()).toBe(0);
  });

  beforeEach(async () => {
    problems = [];
    context = await browser.newContext({ viewport: { width: 1360, height: 900 }, baseURL: collector.url });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      // The console probes optional APIs; their 404s are expected and handled in the page.
      const url = msg.location().url;
      if (/status of 404/.test(msg.text()) && /\/api\/v1\/(traces|alerts)|\/health\/dependencies/.test(url)) return;
      problems.push(`console: ${msg.text()} (${url})`);
    });
  });

  afterEach(async () => {
    await context?.close();
    expect(problems).toEqual([]); // no CSP violation, no script error
  });

  it('serves the page with no-cache HTML, immutable fingerprinted assets and a strict CSP', async () => {
    const res = await fetch(`${collector.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//); // nothing from the internet
    expect(html).not.toMatch(/<script>|<style>|style=/); // nothing inline

    const etag = res.headers.get('etag')!;
    expect((await fetch(`${collector.url}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const app = /src="(\/console\/([0-9a-f]{12})\/app\.js)"/.exec(html)!;
    expect(app).not.toBeNull();
    const asset = await fetch(collector.url + app[1]);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(collector.url + app[1], { headers: { 'if-none-match': asset.headers.get('etag')! } })).status).toBe(304);
    expect((await fetch(`${collector.url}/console/000000000000/app.js`)).status).toBe(404);
    expect((await fetch(`${collector.url}/console/${app[2]}/..%2f..%2fplugin.ts`)).status).toBe(404); // only known files
  });

  it('live tail: records logged with the SDK appear within a second, markup in a message stays text', async () => {
    const svc = `tail-${run}`;
    // The SDK ships from a worker thread in batches; flushIntervalMs bounds how long a record
    // waits in the app before it is sent (the default is 1 s).
    const sdk = init({ service: svc, endpoint: collector.url, flushIntervalMs: 200 });
    const hostile = `<img src=x onerror="document.title='pwned'"> ${run}`;
    try {
      sdk.logger.info('warm-up'); // the first request also starts the worker thread
      await waitFor(() => sdk.stats().sent >= 1, 10_000);
      await page.goto(`/#/tail?service=${svc}`);
      await page.locator('.tail-state[data-state="live"]').waitFor();
      const t0 = Date.now();
      sdk.logger.info(`first tail record ${run}`);
      sdk.logger.error({ traceId: TRACE_ID, spanId: '00f067aa0ba902b7' }, `second tail record ${run}`);
      sdk.logger.warn(hostile);
      await postLogs([{ appName: `other-${run}`, msg: `must not appear ${run}` }]);
      await page.locator('table.tail td.msg', { hasText: `second tail record ${run}` }).waitFor({ timeout: 1000 });
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await sdk.shutdown();
    }
    await expect.poll(() => page.locator('table.tail tr.record').count()).toBe(3);
    expect(await page.locator('table.tail td.msg').nth(2).textContent()).toBe(hostile);
    expect(await page.locator('table.tail img').count()).toBe(0);
    expect(await page.title()).not.toBe('pwned');
    expect(await page.locator('.tail-received').textContent()).toBe('3');
    await shot('tail');
  });

  it('live tail: pause drops and counts records, resume continues', async () => {
    const svc = `pause-${run}`;
    await page.goto(`/#/tail?service=${svc}`);
    await page.locator('.tail-state[data-state="live"]').waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.tail-state[data-state="paused"]').waitFor(); // acknowledged by the collector
    await postLogs([1, 2, 3, 4].map((i) => ({ appName: svc, msg: `while paused ${i} ${run}` })));
    await expect.poll(() => page.locator('.tail-dropped').textContent()).toBe('4');
    expect(await page.locator('.tail-dropped-detail').textContent()).toContain('paused 4');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.tail-state[data-state="live"]').waitFor();
    await postLogs([{ appName: svc, msg: `after resume ${run}` }]);
    await page.locator('table.tail td.msg', { hasText: `after resume ${run}` }).waitFor();
    expect(await page.locator('table.tail tr.record').count()).toBe(1);
    await shot('tail-paused-dropped');
  });

  it('live tail: a record too large for the tail is counted as such, not as slow; the records after it arrive', async () => {
    const svc = `huge-${run}`;
    await page.goto(`/#/tail?service=${svc}`);
    await page.locator('.tail-state[data-state="live"]').waitFor();
    await postLogs([
      { appName: svc, msg: `huge ${'x'.repeat(1100 * 1024)}` }, // over the 1 MiB per-connection bound on its own
      { appName: svc, msg: `after the huge one ${run}` },
    ]);
    await page.locator('table.tail td.msg', { hasText: `after the huge one ${run}` }).waitFor();
    await expect.poll(() => page.locator('.tail-dropped').textContent()).toBe('1');
    expect(await page.locator('.tail-dropped-detail').textContent()).toBe(' (paused 0, slow 0, too large 1)');
  });

  it('search: filters find the records, the histogram shows their volume, the cursor pages through all of them', async () => {
    const svc = `search-${run}`;
    const N = 120;
    const now = Date.now();
    await postLogs(
      Array.from({ length: N }, (_, i) => ({
        timestamp: now - (N - i) * 1000,
        appName: svc,
        level: i % 10 === 0 ? 'err' : 'info',
        msg: `${i % 10 === 0 ? 'payment failed' : 'request served'} #${i} ${run}`,
        attributes: { i },
      })),
    );
    await page.goto(`/#/search?service=${svc}&range=1h&limit=50`);
    const msgs = () => page.locator('table.logs td.msg').allTextContents();
    await expect.poll(() => page.locator('table.logs tr.record').count()).toBe(50);
    expect(await page.locator('.page-info').first().textContent()).toBe('Page 1 · 50 records');
    // Histogram: one bar per minute bucket that has records, with the error share drawn.
    expect(await page.locator('svg.histogram g.bar').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('svg.histogram rect.error').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('figure.histogram figcaption').textContent()).toContain(`${N} records`);
    await shot('search');

    const seen: string[] = [...(await msgs())];
    await page.locator('button.page-older').first().click();
    await expect.poll(() => page.locator('.page-info').first().textContent()).toBe('Page 2 · 50 records');
    const page2 = await msgs();
    seen.push(...page2);
    await page.locator('button.page-older').first().click();
    await expect.poll(() => page.locator('.page-info').first().textContent()).toBe('Page 3 · 20 records · end of results');
    const page3 = await msgs();
    seen.push(...page3);
    const page3Url = page.url();
    expect(await page.locator('button.page-older').first().isDisabled()).toBe(true);
    expect(new Set(seen).size).toBe(N);
    expect(seen[0]).toBe(`request served #${N - 1} ${run}`); // newest first
    await page.locator('button.page-newer').first().click();
    await expect.poll(() => page.locator('.page-info').first().textContent()).toBe('Page 2 · 50 records');
    expect(await msgs()).toEqual(page2);
    const page1 = seen.slice(0, 50);

    // Page 3 opened from a bookmark: the cursors before it are unknown, so the way back is to the newest page.
    await page.goto('about:blank');
    await page.goto(page3Url);
    await expect.poll(() => page.locator('.page-info').first().textContent()).toBe('Page 3 · 20 records · end of results');
    expect(await msgs()).toEqual(page3);
    expect(await page.locator('button.page-newer').first().textContent()).toBe('⇤ Newest');
    await page.locator('button.page-newer').first().click();
    await expect.poll(() => page.locator('.page-info').first().textContent()).toBe('Page 1 · 50 records');
    expect(await msgs()).toEqual(page1);
    // A page number without a cursor is the first page, whatever it says.
    await page.goto(page3Url.replace(/&cursor=[^&]*/, ''));
    await expect.poll(() => page.locator('.page-info').first().textContent()).toBe('Page 1 · 50 records');
    expect(await msgs()).toEqual(page1);

    // The form: severity + full-text (indexed behind ingest, so wait until the API sees it).
    await waitFor(async () => ((await (await fetch(`${collector.url}/api/v1/logs?service=${svc}&q=payment`)).json()) as { records: unknown[] }).records.length === 12);
    await page.goto(`/#/search?service=${svc}`);
    await page.locator('select[name="severity"]').selectOption('err');
    await page.locator('input[name="q"]').fill('payment failed');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('table.logs tr.record').count()).toBe(12);
    expect(new Set((await msgs()).map((m) => m.replace(/#\d+/, '#')))).toEqual(new Set([`payment failed # ${run}`]));
    expect(page.url()).toContain('severity=err');
    // A row click shows the whole record.
    await page.locator('table.logs tr.record').first().click();
    expect(JSON.parse((await page.locator('table.logs tr.detail:not([hidden]) pre').textContent())!)).toMatchObject({ appName: svc, attributes: { i: 110 } });
    await shot('search-filtered');
  });

  it('search and tail: a message of megabytes shows its start and how much more there is; the row opens the whole record', async () => {
    const svc = `longmsg-${run}`;
    const long = `start ${run} ${'z'.repeat(3 * 1024 * 1024)} end`;
    await page.goto(`/#/tail?service=${svc}`);
    await page.locator('.tail-state[data-state="live"]').waitFor();
    await postLogs([{ appName: svc, msg: long }]); // over the tail's 1 MiB bound: not tailed (too_large)
    await postLogs([{ appName: svc, msg: `medium ${'m'.repeat(500 * 1024)}` }]); // tailed
    const tailMsg = page.locator('table.tail td.msg').first();
    await tailMsg.waitFor();
    expect((await tailMsg.textContent())!.length).toBeLessThan(2200);
    expect(await tailMsg.locator('.msg-more').textContent()).toContain('more characters');

    await page.goto(`/#/search?service=${svc}&range=all`);
    await expect.poll(() => page.locator('table.logs tr.record').count(), { timeout: 10_000 }).toBe(2);
    const shown = (await page.locator('table.logs td.msg').allTextContents()).map((t) => t.length);
    expect(Math.max(...shown)).toBeLessThan(2200);
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThan(5000);
    const more = page.locator('table.logs tr.record').nth(1).locator('.msg-more');
    expect(Number((await more.textContent())!.replace(/[^\d]/g, ''))).toBe(long.length - 2000);
    expect(await more.textContent()).toMatch(/more characters \(open the row for the whole record\)$/);
    await page.locator('table.logs tr.record').nth(1).locator('td.level').click();
    expect(JSON.parse((await page.locator('table.logs tr.detail:not([hidden]) pre').textContent())!).msg).toBe(long);
  });

  it('search and tail: a link with an unknown key or a bad value shows what is wrong and runs nothing', async () => {
    const svc = `badlink-${run}`;
    await postLogs([{ appName: svc, level: 'info', msg: `fine ${run}` }, { appName: svc, level: 'err', msg: `broken ${run}` }]);
    const fetched: string[] = [];
    page.on('request', (req) => {
      if (/\/api\/v1\/logs/.test(req.url())) fetched.push(req.url());
    });
    page.on('websocket', (ws) => fetched.push(ws.url()));
    const cases = [
      { hash: `#/search?range=all&level=error&service=${svc}`, where: '.results', error: 'level: unknown parameter (did you mean severity?)' },
      { hash: '#/search?range=bogus&service=billing', where: '.results', error: 'range=bogus: expected 15m, 1h, 6h, 24h, 7d, all or custom' },
      { hash: `#/search?range=custom&start=garbage&service=${svc}`, where: '.results', error: 'start=garbage: expected RFC 3339' },
      { hash: `#/tail?level=error&service=${svc}`, where: '.tail-message', error: 'level: unknown parameter (did you mean severity?)' },
    ];
    for (const { hash, where, error } of cases) {
      await page.goto(`/${hash}`);
      await expect.poll(() => page.locator(`${where} .notice.error`).textContent(), { timeout: 5000 }).toContain(error);
      await new Promise((resolve) => setTimeout(resolve, 300)); // time for a request that should not come
      expect(fetched, hash).toEqual([]);
      expect(await page.locator('table.logs tr.record').count(), hash).toBe(0);
    }
    expect(await page.locator('.tail-state').getAttribute('data-state')).toBe('error');
    await shot('tail-bad-link');

    // The form holds what the link said that could be read; fixing it searches.
    await page.goto(`/#/search?range=all&level=err&service=${svc}`);
    await page.locator('.results .notice.error').waitFor();
    await shot('search-bad-link');
    expect(await page.locator('select[name="range"]').inputValue()).toBe('all');
    expect(await page.locator('input[name="service"]').inputValue()).toBe(svc);
    await page.locator('select[name="severity"]').selectOption('err');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('table.logs td.msg').allTextContents()).toEqual([`broken ${run}`]);
  });

  it('search: a severity given as a number or an alias in the link shows its level in the selector', async () => {
    const svc = `alias-${run}`;
    await postLogs(['info', 'warning', 'err'].map((level) => ({ appName: svc, level, msg: `${level} ${run}` })));
    for (const [given, shown, count] of [['warn', 'warning', 2], ['ERROR', 'err', 1], ['6', 'info', 3]] as const) {
      await page.goto(`/#/search?service=${svc}&severity=${given}&range=all`);
      await expect.poll(() => page.locator('table.logs tr.record').count()).toBe(count);
      expect(await page.locator('select[name="severity"]').inputValue()).toBe(shown);
    }
  });

  it('search: a field value with quotes survives resubmitting the form', async () => {
    const svc = `quotes-${run}`;
    const value = 'say "hi" to a"b';
    await postLogs([{ appName: svc, msg: `quoted ${run}`, attributes: { note: value } }, { appName: svc, msg: `unquoted ${run}`, attributes: { note: 'say hi to ab' } }]);
    await page.goto(`/#/search?service=${svc}&attr.note=${encodeURIComponent(value)}&range=all`);
    await expect.poll(() => page.locator('table.logs td.msg').allTextContents()).toEqual([`quoted ${run}`]);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/limit=/); // the form's own hash
    expect(new URLSearchParams(new URL(page.url()).hash.replace(/^#\/search\?/, '')).get('attr.note')).toBe(value);
    await expect.poll(() => page.locator('table.logs td.msg').allTextContents()).toEqual([`quoted ${run}`]);
  });

  it('search: the histogram of a long range names its merged interval as a duration and dates its axis', async () => {
    const svc = `histo-${run}`;
    // Stats of range "all" over ~296 days in 1 h buckets (as the API answers them, mocked: the
    // collector's retention keeps 7 days). Drawn at most ~200 bars, so 36 one-hour buckets a bar.
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    const buckets = [0, 1, 7100].map((h, i) => ({ start: new Date(t0 + h * 3_600_000).toISOString(), service: svc, severity: i === 2 ? 3 : 6, count: 1 }));
    await page.route('**/api/v1/logs/stats?*', (route) => route.fulfill({ json: { interval: '1h', buckets } }));
    await page.goto(`/#/search?service=${svc}&range=all`);
    const caption = page.locator('figure.histogram figcaption');
    await expect.poll(() => caption.locator('.center').textContent()).toBe('3 records · max 2 per 36 h');
    expect(await caption.locator('span').first().textContent()).toMatch(/^2024-12-3\d \d\d:\d\d$|^2025-01-0\d \d\d:\d\d$/);
    expect(await caption.locator('span').last().textContent()).toMatch(/^2025-10-2\d \d\d:\d\d$/);
    expect(await page.locator('svg.histogram g.bar').count()).toBe(2);
    await shot('search-histogram-long');
  });

  it('a trace ID links to the trace view (falls back to the trace\'s logs while the trace API answers 404)', async () => {
    const svc = `trace-${run}`;
    const TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4736';
    await postLogs([
      { appName: svc, msg: `checkout started ${run}`, traceId: TRACE_ID, spanId: '00f067aa0ba902b7' },
      { appName: svc, level: 'err', msg: `card declined ${run}`, traceId: TRACE_ID, spanId: '00f067aa0ba902b8' },
    ]);
    await page.goto(`/#/search?service=${svc}`);
    await page.locator('table.logs a.trace-link').first().click();
    await page.waitForURL(`**/#/traces/${TRACE_ID}`);
    expect(await page.locator('h1 .trace-id').textContent()).toBe(TRACE_ID);
    await page.locator('section.trace-logs table.logs').waitFor();
    expect(await page.locator('section.trace-logs td.msg').allTextContents()).toEqual([`checkout started ${run}`, `card declined ${run}`]);
    const traceApi = await fetch(`${collector.url}/api/v1/traces/${TRACE_ID}`);
    if (traceApi.status === 404) {
      expect(await page.locator('section.waterfall-section .notice.info').textContent()).toContain('No spans for this trace');
    } else {
      await page.locator('.waterfall .span-row[data-span-id]').first().waitFor();
    }
    await shot('trace-fallback');
  });

  it('the trace view draws the span waterfall of the trace API contract, with each span\'s logs', async () => {
    const t = Date.parse('2026-05-01T10:00:00Z');
    const log = (msg: string, spanId: string) => ({ timestamp: new Date(t + 5).toISOString(), severity: 6, level: 'info', facility: 1, appName: 'api', msg, traceId: TRACE_ID, spanId });
    const spans = [
      { spanId: 'a1', parentSpanId: null, name: 'GET /checkout', service: 'api', startTime: new Date(t).toISOString(), endTime: new Date(t + 200).toISOString(), durationMs: 200, status: 'ok', attributes: { 'http.method': 'GET' }, logs: [log('handling checkout', 'a1')] },
      { spanId: 'b2', parentSpanId: 'a1', name: 'SELECT cart', service: 'db', startTime: new Date(t + 20).toISOString(), endTime: new Date(t + 60).toISOString(), durationMs: 40, status: 'ok', attributes: {}, logs: [] },
      { spanId: 'c3', parentSpanId: 'a1', name: 'POST /charge <b>', service: 'payments', startTime: new Date(t + 70).toISOString(), endTime: new Date(t + 190).toISOString(), durationMs: 120, status: { code: 'ERROR', message: 'declined' }, attributes: { amount: 42 }, logs: [log('card declined', 'c3')] },
    ];
    await page.route(`**/api/v1/traces/${TRACE_ID}`, (route) => route.fulfill({ json: { traceId: TRACE_ID, spans } }));
    await page.goto(`/#/traces/${TRACE_ID}`);
    const rows = page.locator('.waterfall .span-row[data-span-id]');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.locator('.span-name').allTextContents()).toEqual(['GET /checkout 1 log', 'SELECT cart', 'POST /charge <b> 1 log']);
    expect(await page.locator('.span-row.error').getAttribute('data-span-id')).toBe('c3');
    // Bars are placed on the trace's time axis: the child starting at 70 ms of 200 ms sits at 35 %.
    const style = await page.locator('.span-row[data-span-id="c3"] .span-bar').getAttribute('style');
    expect(style).toMatch(/left: 35%; width: 60%/);
    await page.locator('.span-row[data-span-id="c3"]').click();
    const detail = page.locator('.span-detail:not([hidden])');
    expect(await detail.locator('td.msg').allTextContents()).toEqual(['card declined']);
    expect(await detail.locator('dd').allTextContents()).toContain('error: declined');
    await shot('trace-waterfall');
  });

  it('the waterfall places spans shorter than a millisecond by their nanosecond times', async () => {
    // Bars were placed by startTime/endTime read with Date.parse (whole milliseconds): every span
    // of a 0.8 ms request started and ended at the same instant, and each bar was drawn at 0 %
    // and hundreds of times the row's width.
    const traceId = '6c'.repeat(16);
    const t0 = 1796611800000000000n;
    const ns = (us: number) => String(t0 + BigInt(us) * 1000n);
    const spans = [
      { traceId, spanId: 'a1'.repeat(8), name: 'GET /cached', startTimeUnixNano: ns(0), endTimeUnixNano: ns(800) },
      { traceId, spanId: 'b2'.repeat(8), parentSpanId: 'a1'.repeat(8), name: 'redis GET', startTimeUnixNano: ns(100), endTimeUnixNano: ns(300) },
      { traceId, spanId: 'c3'.repeat(8), parentSpanId: 'a1'.repeat(8), name: 'render', startTimeUnixNano: ns(400), endTimeUnixNano: ns(700) },
    ];
    const res = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: `sub-ms-${run}` } }] }, scopeSpans: [{ spans }] }] }),
    });
    expect(res.status).toBe(200);
    await page.goto(`/#/traces/${traceId}`);
    const rows = page.locator('.waterfall .span-row[data-span-id]');
    await expect.poll(() => rows.count()).toBe(3);
    const bar = (id: string) => page.locator(`.span-row[data-span-id="${id}"] .span-bar`).getAttribute('style');
    expect(await bar('a1'.repeat(8))).toMatch(/left: 0%; width: 100%/);
    expect(await bar('b2'.repeat(8))).toMatch(/left: 12.5%; width: 25%/);
    expect(await bar('c3'.repeat(8))).toMatch(/left: 50%; width: 37.5%/);
    expect(await page.locator('.waterfall .span-row.header .span-bar-cell').textContent()).toBe('0 – 800 µs');
  });

  it('a span\'s detail shows its events (the exception), links and resource', async () => {
    // Only attributes, status and logs were shown: the exception OTel records as a span event
    // (exception.type, exception.message, exception.stacktrace) was nowhere in the console.
    const traceId = '6d'.repeat(16);
    const linked = '6e'.repeat(16);
    const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const span = {
      traceId, spanId: 'd4'.repeat(8), name: 'POST /pay', kind: 2, startTimeUnixNano: '1796611800000000000', endTimeUnixNano: '1796611800050000000',
      status: { code: 2, message: 'failed' },
      events: [{ timeUnixNano: '1796611800020000000', name: 'exception', attributes: [kv('exception.type', 'TypeError'), kv('exception.message', `card is undefined ${run}`), kv('exception.stacktrace', 'TypeError: card is undefined\n    at pay (pay.js:3:7)')] }],
      links: [{ traceId: linked, spanId: 'e5'.repeat(8), attributes: [kv('link.reason', 'batch')] }],
    };
    const res = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [kv('service.name', `pay-${run}`), kv('host.name', 'pay-host-7')] }, scopeSpans: [{ spans: [span] }] }] }),
    });
    expect(res.status).toBe(200);
    await page.goto(`/#/traces/${traceId}`);
    await page.locator(`.span-row[data-span-id="${'d4'.repeat(8)}"]`).click();
    const detail = page.locator('.span-detail:not([hidden])');
    await expect.poll(() => detail.textContent()).toContain(`card is undefined ${run}`);
    const text = await detail.textContent();
    expect(text).toContain('exception');
    expect(text).toContain('+20 ms');
    expect(text).toContain('at pay (pay.js:3:7)');
    expect(text).toContain('pay-host-7');
    expect(text).toContain('link.reason');
    expect(await detail.locator(`a[href="#/traces/${linked}"]`).count()).toBe(1);
    await shot('trace-span-detail');
  });

  it('a span whose parent has not arrived is marked as such, not drawn as one more root', async () => {
    // The API flags it (orphan: true) but the waterfall drew it like the trace's root: a trace
    // missing its middle looked like two unrelated requests.
    const traceId = '6f'.repeat(16);
    const spans = [
      { traceId, spanId: 'f1'.repeat(8), name: 'GET /order', startTimeUnixNano: '1796611800000000000', endTimeUnixNano: '1796611800009000000' },
      { traceId, spanId: 'f3'.repeat(8), parentSpanId: 'f2'.repeat(8), name: 'SELECT order', startTimeUnixNano: '1796611800002000000', endTimeUnixNano: '1796611800003000000' },
    ];
    const res = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: `orphan-${run}` } }] }, scopeSpans: [{ spans }] }] }),
    });
    expect(res.status).toBe(200);
    await page.goto(`/#/traces/${traceId}`);
    const rows = page.locator('.waterfall .span-row[data-span-id]');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.locator('.span-name').allTextContents()).toEqual(['GET /order', 'SELECT order parent missing']);
    await page.locator(`.span-row[data-span-id="${'f3'.repeat(8)}"]`).click();
    expect(await page.locator('.span-detail:not([hidden])').textContent()).toContain('not in the trace');
  });

  describe('alerts', () => {
    it('an alert link that is not valid percent-encoding opens that alert\'s page, not a script error', async () => {
      await page.route('**/api/v1/alerts', (route) => route.fulfill({ json: { alerts: [] } }));
      await page.goto('/#/alerts/%ZZ');
      await page.getByText('This alert is not active any more.').waitFor();
      expect(await page.locator('h1 code').textContent()).toBe('%ZZ');
    });

    it('says alerting is not configured when the alerts API answers 404', async () => {
      await page.route('**/api/v1/alerts', (route) => route.fulfill({ status: 404, json: { error: { code: 'PERISCOPE_ERR_NOT_FOUND', message: 'no route', details: null } } }));
      await page.goto('/#/alerts');
      await page.getByText('Alerting is not configured on this collector').waitFor();
    });

    it('lists alerts and sends ack and silence requests in the API contract (API mocked in the page)', async () => {
      const alert = {
        id: 'a-17', fingerprint: 'f00d', ruleName: 'HighErrorRate', state: 'firing', severity: 'critical',
        labels: { alertname: 'HighErrorRate', service: 'checkout' }, annotations: { summary: 'error rate 12% <script>' },
        value: 0.12, since: new Date(Date.now() - 300_000).toISOString(), flapping: false, ack: null as null | { by: string; at: string },
      };
      const posts: Array<{ url: string; body: any }> = [];
      await page.route('**/api/v1/alerts', (route) => route.fulfill({ json: { alerts: [alert] } }));
      await page.route('**/api/v1/alerts/a-17/ack', (route) => {
        const body = route.request().postDataJSON();
        posts.push({ url: route.request().url(), body });
        alert.ack = { by: body.by, at: new Date().toISOString() };
        return route.fulfill({ json: { ok: true } });
      });
      await page.route('**/api/v1/silences', (route) => {
        posts.push({ url: route.request().url(), body: route.request().postDataJSON() });
        return route.fulfill({ json: { id: 's-1' } });
      });
      await page.route('**/api/v1/alerts/a-17/timeline', (route) =>
        // The shape alerting/src/api/rules-routes.ts answers ({ fingerprint, alert, entries }).
        route.fulfill({ json: { fingerprint: 'a-17', alert, entries: [
          { at: alert.since, source: 'rules', kind: 'state', from: 'pending', to: 'firing', value: 0.12 },
          { at: new Date().toISOString(), source: 'notify', kind: 'notified', channel: 'slack', step: 1 },
          { at: new Date().toISOString(), source: 'notify', kind: 'acknowledged', by: 'ada' },
        ] } }),
      );
      await page.goto('/#/alerts');
      const row = page.locator('tr.alert[data-alert-id="a-17"]');
      await row.waitFor();
      expect(await row.locator('.state').textContent()).toBe('firing');
      expect(await row.locator('.summary').textContent()).toBe('error rate 12% <script>');
      await shot('alerts');

      await row.locator('button.ack-btn').click();
      await page.locator('form.ack-form input[name="by"]').fill('ada');
      await page.locator('form.ack-form input[name="comment"]').fill('looking');
      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await expect.poll(() => row.locator('td.ack').textContent()).toContain('acked by ada');
      expect(posts[0]).toEqual({ url: `${collector.url}/api/v1/alerts/a-17/ack`, body: { by: 'ada', comment: 'looking' } });
      expect(await row.locator('button.ack-btn').isDisabled()).toBe(true);

      await row.locator('button.silence-btn').click();
      await page.locator('form.silence-form select[name="duration"]').selectOption({ label: '4h' });
      await page.locator('form.silence-form input[name="comment"]').fill('deploy in progress');
      expect(await page.locator('form.silence-form input[name="createdBy"]').inputValue()).toBe('ada'); // remembered
      await page.getByRole('button', { name: 'Create silence' }).click();
      await expect.poll(() => posts.length).toBe(2);
      const silence = posts[1].body;
      expect(silence).toMatchObject({
        matchers: [
          { name: 'alertname', value: 'HighErrorRate', isEqual: true, isRegex: false },
          { name: 'service', value: 'checkout', isEqual: true, isRegex: false },
        ],
        createdBy: 'ada',
        comment: 'deploy in progress',
      });
      expect(Date.parse(silence.endsAt) - Date.parse(silence.startsAt)).toBe(4 * 3600_000);

      await row.locator('td.rule a').click();
      await page.waitForURL('**/#/alerts/a-17');
      await expect.poll(() => page.locator('li.event').count()).toBe(3);
      expect(await page.locator('li.event .kind').allTextContents()).toEqual(['state', 'notified', 'acknowledged']);
    expect(await page.locator('li.event').first().textContent()).toContain('to=firing');
      await shot('alert-timeline');
    });

    it('acking an alert in the page stops its escalation (real collector, log rule, escalation to webhook stand-ins)', async () => {
      const STEP_WAIT_MS = 6000;
      const hook = await startStandIn();
      const svc = `esc-${run}`;
      const alerting = await startCollectorProcess({
        configYaml: [
          'alerting:',
          '  receivers:',
          `    - { name: step1, webhook: [{ url: '${hook.url}/step1' }] }`,
          `    - { name: step2, webhook: [{ url: '${hook.url}/step2' }] }`,
          `    - { name: step3, webhook: [{ url: '${hook.url}/step3' }] }`,
          '  escalations:',
          '    - name: oncall',
          '      steps:',
          `        - { notify: [step1], wait: ${STEP_WAIT_MS}ms }`,
          `        - { notify: [step2], wait: ${STEP_WAIT_MS}ms }`,
          '        - { notify: [step3], wait: 1m }',
          '  route: { escalation: oncall, groupBy: [alertname], groupWait: 0s, groupInterval: 1s }',
        ].join('\n'),
      });
      try {
        // The rule through the rules API; one error log makes it fire at its next 1 s evaluation.
        const created = await fetch(`${alerting.url}/api/v1/alerts/rules`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'ConsoleE2EErrors', kind: 'log', filter: { service: svc, severity: 'err' }, mode: 'frequency', window: '10s', threshold: 0, interval: '1s', severity: 'critical' }),
        });
        expect(created.status).toBe(201);
        await fetch(`${alerting.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: JSON.stringify({ appName: svc, level: 'err', msg: 'boom' }) });
        await waitFor(() => hook.requests.some((r) => r.url === '/step1'), 10_000); // step 1 notified
        const step1At = hook.requests.find((r) => r.url === '/step1')!.at;

        await page.goto(`${alerting.url}/#/alerts`);
        const row = page.locator('tr.alert', { hasText: 'ConsoleE2EErrors' });
        await row.waitFor({ timeout: 10_000 });
        await row.locator('button.ack-btn').click();
        await page.locator('form.ack-form input[name="by"]').fill('e2e');
        await page.getByRole('button', { name: 'Acknowledge' }).click();
        await expect.poll(() => row.locator('td.ack').textContent()).toContain('acked by e2e');
        const ackedAt = Date.now();
        expect(ackedAt - step1At).toBeLessThan(STEP_WAIT_MS); // acknowledged before step 2 fell due

        const escalation = async () => ((await (await fetch(`${alerting.url}/api/v1/escalations`)).json()) as { escalations: Array<{ status: string; step: number }> }).escalations[0];
        expect(await escalation()).toMatchObject({ status: 'acknowledged', step: 0 });
        // Past the time step 2 was due (step 1 + wait, plus a second): no step 2, no step 3.
        await waitFor(() => Date.now() > step1At + STEP_WAIT_MS + 1000, STEP_WAIT_MS + 5000, 100);
        expect(hook.requests.map((r) => r.url)).toEqual(['/step1']);

        await row.locator('td.rule a').click();
        await expect.poll(() => page.locator('li.event .kind').allTextContents()).toEqual(expect.arrayContaining(['state', 'escalation_step', 'notification_sent', 'acknowledged', 'escalation_stopped']));
        await shot('alert-acked');

        // The links every notification carries open working console pages.
        const { notifications } = (await (await fetch(`${alerting.url}/api/v1/notifications`)).json()) as { notifications: Array<{ notification: { alerts: Array<{ links: { silence: string; logs: string } }> } }> };
        const links = notifications[0].notification.alerts[0].links;
        // ack.baseUrl is unset: the links point at this collector's listener (its port was 0 in the config)
        expect(links.silence.startsWith(`${alerting.url}/#/alerts/`)).toBe(true);
        await page.goto(links.silence);
        await page.locator('form.silence-form').waitFor();
        expect(await page.locator('form.silence-form .matchers').textContent()).toContain('alertname=ConsoleE2EErrors');
        // (a log rule's alert has no service label: the link carries the time around it)
        expect(links.logs).toMatch(/\/#\/search\?start=[^&]+&end=[^&]+$/);
        await page.goto(links.logs);
        expect(await page.locator('form.search select[name="range"]').inputValue()).toBe('custom');
        await expect.poll(() => page.locator('.results').textContent()).toContain('boom');
      } finally {
        expect(await alerting.stop()).toBe(0);
        await hook.close();
      }
    });
  });

  it('status: ingest rate, components and live-tail figures', async () => {
    const svc = `status-${run}`;
    await page.goto('/#/status');
    await page.locator('.card.ingest-rate').waitFor();
    // Keep records flowing across two polls so the rate is measured.
    const feeder = setInterval(() => void postLogs(Array.from({ length: 50 }, (_, i) => ({ appName: svc, msg: `status feed ${i}` }))).catch(() => {}), 200);
    try {
      await expect.poll(() => page.locator('.card.ingest-rate .card-value').textContent(), { timeout: 10_000 }).toMatch(/^[\d,.]+ rec\/s$/);
      await expect.poll(async () => Number((await page.locator('.card.ingest-rate .card-value').textContent())!.replace(/[^\d.]/g, '')), { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      clearInterval(feeder);
    }
    for (const component of ['http', 'store', 'searchIndex', 'retention']) {
      expect(await page.locator(`table.health tr[data-component="${component}"] .badge`).textContent()).toBe('up');
    }
    expect(await page.locator('.card', { hasText: 'Live tail' }).locator('.card-value').textContent()).toMatch(/clients$/);
    await shot('status');

    // The collector unreachable: figures are unknown, not zero.
    const down = (route: Route) => route.fulfill({ status: 503, json: { error: { code: 'PERISCOPE_ERR_STORE_UNAVAILABLE', message: 'down', details: null } } });
    await page.route('**/metrics', down);
    await page.route('**/health/**', down);
    await expect.poll(() => page.locator('.card.ingest-rate .card-value').textContent(), { timeout: 10_000 }).toBe('—');
    expect(await page.locator('.card', { hasText: 'Stored records' }).locator('.card-value').textContent()).toBe('—');
    // An error body is an error, not a health report with no status and no components; and
    // without /metrics nothing is known about the exporters.
    await expect.poll(() => page.locator('.card', { hasText: 'Status' }).locator('.card-value').textContent(), { timeout: 10_000 }).toBe('unreachable');
    expect(await page.locator('.card', { hasText: 'Status' }).locator('.card-sub').textContent()).toBe('down (PERISCOPE_ERR_STORE_UNAVAILABLE)');
    expect(await page.locator('section.components').textContent()).toContain('/health/detailed: down (PERISCOPE_ERR_STORE_UNAVAILABLE)');
    expect(await page.locator('section.dependencies').textContent()).toContain('down (PERISCOPE_ERR_STORE_UNAVAILABLE)');
    expect(await page.locator('section.dependencies table').count()).toBe(0);
    expect(await page.locator('section.exporters').textContent()).not.toContain('none configured');
    // A reverse proxy's HTML error page while the collector restarts: the status, not a JSON syntax error.
    await page.unroute('**/health/**');
    await page.route('**/health/**', (route: Route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body>Bad Gateway</body></html>' }));
    await expect.poll(() => page.locator('.card', { hasText: 'Status' }).locator('.card-sub').textContent(), { timeout: 10_000 }).toBe('/health/detailed: HTTP 502 (HTTP_502)');
    expect(await page.locator('section.components').textContent()).not.toContain('JSON');
    await page.unroute('**/metrics');
    await page.unroute('**/health/**');
    // back: measured again from two fresh readings, never from the gap
    await expect.poll(() => page.locator('.card.ingest-rate .card-value').textContent(), { timeout: 10_000 }).toMatch(/^[\d,.]+ rec\/s$/);
    problems = problems.filter((p) => !/status of 50[23]/.test(p)); // the browser reports the stand-in 502s and 503s
  });

  it('the tail metrics are on the collector\'s /metrics', async () => {
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    expect(text).toMatch(/^periscope_tail_clients \d+$/m);
    expect(text).toMatch(/^periscope_tail_dropped_records_total\{reason="paused"\} \d+$/m);
  });
});
