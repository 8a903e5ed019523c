// Runs a fixture (default sdk/test/fixtures/app.ts) in a child process and collects its EVENT lines (stderr).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('../fixtures/app.ts', import.meta.url));

/** Absolute path of a file in sdk/test/fixtures. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

export interface FixtureOptions {
  endpoint: string;
  service?: string;
  env?: Record<string, string>;
  /** explicit init() options (JSON) */
  options?: Record<string, unknown>;
  /** kill the child after this long (a hung child fails the test instead of the run) */
  killAfterMs?: number;
  /** fixture file (absolute); default fixtures/app.ts */
  app?: string;
  /** node options before the script, e.g. ['--expose-gc'] or ['--import', register] */
  nodeArgs?: string[];
}

export interface Fixture {
  child: ChildProcess;
  events: Array<{ name: string; data: any }>;
  stdout: () => string;
  stderr: () => string;
  event(name: string, timeoutMs?: number): Promise<any>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  send(line: string): void;
}

export function startFixture(scenario: string, opts: FixtureOptions): Fixture {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PERISCOPE_')) env[k] = v;
  Object.assign(env, {
    PERISCOPE_SERVICE: opts.service ?? 'checkout',
    PERISCOPE_ENDPOINT: opts.endpoint,
    FIXTURE_OPTIONS: JSON.stringify(opts.options ?? {}),
    ...opts.env,
  });
  const started = Date.now();
  const args = [...(opts.nodeArgs ?? []), opts.app ?? APP, scenario];
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const events: Fixture['events'] = [];
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      const m = /^EVENT (\S+) (.*)$/.exec(line);
      if (m) {
        events.push({ name: m[1], data: JSON.parse(m[2]) });
        for (const w of waiters.splice(0)) w();
      }
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 40_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal, ms: Date.now() - started });
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  async function event(name: string, timeoutMs = 30_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find((e) => e.name === name);
      if (found) return found.data;
      if (hasExited) throw new Error(`fixture exited without event ${name}; stderr:\n${stderr}`);
      if (Date.now() > end) throw new Error(`timed out waiting for event ${name}; stderr:\n${stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  return {
    child,
    events,
    stdout: () => stdout,
    stderr: () => stderr,
    event,
    exited,
    send: (line) => child.stdin!.write(`${line}\n`),
  };
}

/** Runs a scenario to completion; fails loudly if the child does not exit 0. */
export async function runFixture(scenario: string, opts: FixtureOptions) {
  const f = startFixture(scenario, opts);
  const exit = await f.exited;
  return { ...f, exit };
}
