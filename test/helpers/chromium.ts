// Headless Chromium (Debian package "chromium"), driven by playwright-core, for the console's
// end-to-end tests. Missing, those tests are skipped with the reason, except in CI (CI=true),
// where that is a failure (DESIGN.md, real components).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: install the Debian package "chromium" (.ci/run does)`);

/** A headless browser without the background traffic (updates, sync, QUIC probes) that would only slow a loaded machine. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
