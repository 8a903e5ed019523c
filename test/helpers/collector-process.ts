import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO_ROOT, 'collector/bin/periscope.ts');

export interface CollectorProcess {
  url: string;
  /** http://host:port of http.healthAddr's listener, when the configuration sets one. */
  healthUrl: string | undefined;
  httpPort: number;
  syslogPort: number | undefined;
  /** The port of syslog.tls's listener, when the configuration sets one. */
  syslogTlsPort: number | undefined;
  dataDir: string;
  /** The periscope.yaml written from `configYaml`. */
  configFile: string | undefined;
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL (kill -9) and wait for exit. */
  kill(): Promise<void>;
  /** stop(), then delete the data directory and config file (benchmarks write hundreds of MB per run). */
  dispose(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  /** YAML text of periscope.yaml (written to a directory of its own under the temporary directory). */
  configYaml?: string;
  env?: Record<string, string>;
  httpAddr?: string;
  syslogAddr?: string;
}

/** Starts the real collector (`periscope start`) on ephemeral loopback ports and waits until it listens. */
export async function startCollectorProcess(options: StartOptions = {}): Promise<CollectorProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'periscope-test-'));
  const args = [BIN, 'start'];
  let configDir: string | undefined;
  if (options.configYaml) {
    configDir = mkdtempSync(join(tmpdir(), 'periscope-cfg-'));
    const file = join(configDir, 'periscope.yaml');
    writeFileSync(file, options.configYaml);
    args.push('--config', file);
  }
  const proc = spawn(process.execPath, args, {
    env: {
      ...process.env,
      PERISCOPE_HTTP_ADDR: options.httpAddr ?? '127.0.0.1:0',
      PERISCOPE_SYSLOG_ADDR: options.syslogAddr ?? '127.0.0.1:0',
      PERISCOPE_DATA_DIR: dataDir,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const started = await new Promise<{ http: string; syslog: string; syslogTls?: string; health?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start in 30 s:\n${output}`)), 30_000);
    const onData = () => {
      for (const line of output.split('\n')) {
        if (line.includes('"periscope collector started"')) {
          clearTimeout(timer);
          proc.stdout!.off('data', onData);
          resolve(JSON.parse(line));
          return;
        }
      }
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code} before starting:\n${output}`));
    });
  });
  const url = started.http;
  const syslogMatch = /:(\d+) \(tcp\+udp\)$/.exec(started.syslog);
  return {
    url,
    healthUrl: started.health,
    httpPort: Number(new URL(url).port),
    syslogPort: syslogMatch ? Number(syslogMatch[1]) : undefined,
    syslogTlsPort: started.syslogTls ? Number(/:(\d+)$/.exec(started.syslogTls)![1]) : undefined,
    dataDir,
    configFile: configDir ? join(configDir, 'periscope.yaml') : undefined,
    proc,
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async dispose() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
      if (configDir) rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with the last value). */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | null | false;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
