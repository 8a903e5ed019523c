// Runs test/fixtures/sdk-app.ts (an app using the SDK) in a child process, as an app runs: the
// scenario to play as its argument, the SDK's settings in its environment.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './collector-process.ts';

const APP = join(REPO_ROOT, 'test/fixtures/sdk-app.ts');

export interface SdkAppRun {
  code: number | null;
  /** What the scenario printed on its `RESULT <json>` line; undefined when it printed none (it failed first). */
  result: any;
  stdout: string;
  stderr: string;
}

/**
 * Plays `scenario` with `env` over this process's environment; resolves when the app exits.
 * `nodeArgs` go before the script (e.g. --import); `onLine` sees each stdout line as it comes
 * (a scenario that prints READY before waiting for the test).
 */
export function runSdkApp(scenario: string, env: Record<string, string>, options: { nodeArgs?: string[]; onLine?: (line: string) => void } = {}): Promise<SdkAppRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), APP, scenario], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (options.onLine) for (const line of String(d).split('\n')) options.onLine(line.trim());
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ code, result: line ? JSON.parse(line.slice(7)) : undefined, stdout: out, stderr: err });
    });
  });
}
