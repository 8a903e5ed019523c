// Starts the real Prometheus (Debian package, 2.42) for a test and stops it again.
// Readiness is its /-/ready endpoint: https://prometheus.io/docs/prometheus/2.42/management_api/
import { spawn } from 'node:child_process';
import { waitFor } from './collector-process.ts';
import { freePort } from './net.ts';

export interface StartPrometheusOptions {
  /** The prometheus executable (e.g. from describeWithBinaries, or /usr/bin/prometheus). */
  bin: string;
  configFile: string;
  /** --storage.tsdb.path; reused by every attempt (a Prometheus that failed to bind has exited). */
  dataDir: string;
  /** Listen here, for a test that must know the port before Prometheus starts. One attempt. */
  port?: number;
  /** Further flags, e.g. '--log.level=warn', '--web.enable-remote-write-receiver'. */
  args?: string[];
}

export interface PrometheusProcess {
  /** http://127.0.0.1:PORT, ready (GET /-/ready answered 200). */
  url: string;
  /** Everything Prometheus wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then waits for the exit; safe to call twice and after Prometheus exited. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const ATTEMPTS_ON_FREE_PORT = 3;

/**
 * Starts Prometheus on 127.0.0.1 and resolves once it is ready. Without `port` it takes a free
 * port and tries up to three times, because a port can be taken between freePort() and
 * Prometheus binding it ("bind: address already in use"); with `port` it tries once. Rejects,
 * with Prometheus' output, when it exits (any other reason) or is not ready within 30 s — it is
 * stopped first, so nothing is left running.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusProcess> {
  const attempts = options.port === undefined ? ATTEMPTS_ON_FREE_PORT : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const started = await startOnce(options, port);
    if ('url' in started) return started;
    if (!(started.portTaken && attempt < attempts)) throw new Error(`prometheus did not start on 127.0.0.1:${port}: ${started.reason}\n${started.output}`);
  }
}

async function startOnce(options: StartPrometheusOptions, port: number): Promise<PrometheusProcess | { reason: string; portTaken: boolean; output: string }> {
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc = spawn(
    options.bin,
    [`--config.file=${options.configFile}`, `--storage.tsdb.path=${options.dataDir}`, `--web.listen-address=127.0.0.1:${port}`, ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  // 'error' instead of 'exit' when the binary cannot be spawned at all.
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(`exited (${signal ?? `code ${code}`})`));
    proc.once('error', (err) => resolve(`could not be spawned: ${err.message}`));
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    })();
    return stopping;
  };

  // Polling ends (the throw rejects waitFor) once Prometheus has exited.
  let gone = false;
  void exited.then(() => (gone = true));
  const ready = waitFor(async () => {
    if (gone) throw new Error('exited');
    return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
  }, READY_TIMEOUT_MS, 100).then(
    () => undefined,
    (err: Error) => `not ready: ${err.message}`,
  );
  const failure = await Promise.race([ready, exited]);
  if (failure === undefined) return { url, output: () => output, stop };
  await stop();
  return { reason: failure, portTaken: /address already in use/.test(output), output };
}
