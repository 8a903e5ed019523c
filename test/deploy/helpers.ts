// Shared by the deploy tests: repository paths, external binaries (skip outside CI, fail in CI),
// running a command, free loopback ports.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../helpers/collector-process.ts';
import { freePort } from '../helpers/net.ts';
export { freePort };

export { REPO_ROOT };
export const DEPLOY = join(REPO_ROOT, 'deploy');

export function readYaml(path: string): any {
  return parseYaml(readFileSync(path, 'utf8'));
}

/** Absolute path of an executable on PATH (or in /usr/bin), or undefined. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * A describe block that needs external binaries (DESIGN.md, "Real components"): when one is
 * missing the block is reported as skipped with the reason; in CI (CI=true) it fails instead.
 */
export function describeWithBinaries(title: string, names: string[], body: (bin: Record<string, string>) => void): void {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of names) {
    const path = which(name);
    if (path) found[name] = path;
    else missing.push(name);
  }
  if (missing.length === 0) {
    describe(title, () => body(found));
    return;
  }
  const reason = `${missing.join(', ')} not found on PATH (Debian package "prometheus")`;
  describe(title, () => {
    if (process.env.CI === 'true') {
      it(`requires ${missing.join(', ')}`, () => {
        throw new Error(`${reason}; CI installs it in .ci/run`);
      });
    } else {
      it.skip(`skipped: ${reason}`, () => {});
    }
  });
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

export function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): RunResult {
  const env = options.env && { ...process.env, ...options.env };
  const r = spawnSync(command, args, { cwd: options.cwd ?? REPO_ROOT, encoding: 'utf8', timeout: options.timeoutMs ?? 30_000, env });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
}
