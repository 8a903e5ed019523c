// The web console behind http.auth's basic users, in headless Chromium (Debian package, driven by
// playwright-core): the browser is challenged on the page, and once the user has logged in its
// own fetches (search) and the live-tail WebSocket go with the browser's credentials.
import bcrypt from 'bcryptjs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from '../helpers/collector-process.ts';
import { CHROMIUM, haveChromium, launchChromium } from '../helpers/chromium.ts';

const USER = 'ops';
const PASSWORD = 'console-pässword';

describe.skipIf(!haveChromium)(`web console behind basic auth in headless Chromium${haveChromium ? '' : ` (skipped: ${CHROMIUM} not installed)`}`, () => {
  let collector: CollectorProcess;
  let browser: Browser;
  const run = `a${Date.now().toString(36)}`;
  const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  async function postLogs(records: object[]): Promise<void> {
    const res = await fetch(`${collector.url}/api/v1/logs`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-ndjson' },
      body: records.map((r) => JSON.stringify(r)).join('\n'),
    });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    [collector, browser] = await Promise.all([
      startCollectorProcess({ configYaml: `http:\n  auth:\n    basicUsers:\n      ${USER}: "${bcrypt.hashSync(PASSWORD, 4)}"\nstore:\n  search:\n    indexInterval: 50ms\n` }),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    if (collector) expect(await collector.stop()).toBe(0);
  });

  it('without credentials the browser is challenged for a login (headless: none to give)', async () => {
    const context = await browser.newContext({ baseURL: collector.url });
    try {
      const page = await context.newPage();
      // Headless Chromium cancels the login prompt that a Basic challenge opens: the navigation
      // fails. Without the challenge it would show the 401's JSON as the page.
      await expect(page.goto('/')).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    } finally {
      await context.close();
    }
  });

  it('with the wrong password the page stays refused', async () => {
    const context = await browser.newContext({ baseURL: collector.url, httpCredentials: { username: USER, password: 'wrong' } });
    try {
      const page = await context.newPage();
      expect((await page.goto('/'))?.status()).toBe(401);
    } finally {
      await context.close();
    }
  });

  it('logged in (answering the challenge): search results and the live tail over its WebSocket', async () => {
    // httpCredentials answers the 401 challenge as a user typing into the browser's login prompt.
    const context = await browser.newContext({ baseURL: collector.url, httpCredentials: { username: USER, password: PASSWORD } });
    const problems: string[] = [];
    try {
      const page = await context.newPage();
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      expect((await page.goto('/'))?.status()).toBe(200);

      const svc = `auth-${run}`;
      await postLogs([{ appName: svc, msg: `searched record ${run}` }]);
      await page.goto(`/#/search?service=${svc}&range=1h&limit=50`);
      await page.locator('table.logs td.msg', { hasText: `searched record ${run}` }).waitFor({ timeout: 15_000 });

      await page.goto(`/#/tail?service=${svc}`);
      await page.locator('.tail-state[data-state="live"]').waitFor({ timeout: 15_000 });
      expect(sockets.some((u) => u.includes('/api/v1/logs/tail'))).toBe(true);
      await waitFor(async () => {
        await postLogs([{ appName: svc, msg: `tailed record ${run}` }]);
        return (await page.locator('table.tail td.msg', { hasText: `tailed record ${run}` }).count()) > 0;
      }, 15_000, 300);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
