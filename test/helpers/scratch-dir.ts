import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup: every test run gets its own scratch directory, made the temporary
 * directory (TMPDIR) of the test workers and of every process they start (collectors,
 * Prometheus, Chromium), and removed when the run ends. Tests create their data directories
 * and config files with `mkdtempSync(join(tmpdir(), …))` and need not remove them one by one;
 * a run no longer leaves ~90 directories in /tmp.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-test-run-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
