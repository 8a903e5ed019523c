// The syslog senders users forward with, run for real: rsyslog (Debian package `rsyslog`, and
// `rsyslog-gnutls` for its TLS driver), syslog-ng (`syslog-ng-core`) and util-linux `logger` (`bsdutils`). Each daemon runs in the
// foreground with its own config file in a temporary directory and no system path (no
// /dev/log, no pid file, queue or persist file outside it).
//
// syslog-ng-core and rsyslog cannot be installed together (both provide system-log-daemon):
// .ci/run installs rsyslog and unpacks syslog-ng-core into .syslog-ng/ at the repository root,
// which is used when no syslog-ng is installed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from './collector-process.ts';

export const RSYSLOGD = '/usr/sbin/rsyslogd';
export const LOGGER = '/usr/bin/logger';
const UNPACKED_SYSLOG_NG = join(REPO_ROOT, '.syslog-ng');

interface Command {
  file: string;
  args: string[];
  env: Record<string, string>;
}

/** syslog-ng installed, or unpacked into .syslog-ng/ (its libraries and modules from there). */
function syslogNgCommand(): Command | undefined {
  if (existsSync('/usr/sbin/syslog-ng')) return { file: '/usr/sbin/syslog-ng', args: [], env: {} };
  const file = join(UNPACKED_SYSLOG_NG, 'usr/sbin/syslog-ng');
  if (!existsSync(file)) return undefined;
  // Its modules are in usr/lib/syslog-ng/<major.minor>/, its libraries one level up.
  const lib = join(UNPACKED_SYSLOG_NG, 'usr/lib/syslog-ng');
  const version = readdirSync(lib).find((name) => /^\d+\.\d+$/.test(name));
  if (version === undefined) return undefined;
  return { file, args: [`--module-path=${join(lib, version)}`], env: { LD_LIBRARY_PATH: lib } };
}

export const SYSLOG_NG = syslogNgCommand();

/** rsyslog's GnuTLS stream driver is installed (in its module folder, /usr/lib/<multiarch triplet>/rsyslog). */
function rsyslogGtls(): boolean {
  return readdirSync('/usr/lib', { withFileTypes: true }).some((d) => d.isDirectory() && existsSync(join('/usr/lib', d.name, 'rsyslog/lmnsd_gtls.so')));
}

/** Why each missing sender is missing, as "what (Debian package)"; an empty object when none is. */
export interface MissingSenders {
  rsyslog?: string;
  /** rsyslog's TLS driver, for syslog over TLS. */
  rsyslogTls?: string;
  syslogNg?: string;
  logger?: string;
}

/** The senders that are missing. In CI (CI=true) a missing one is an error: .ci/run installs them. */
export function missingSenders(): MissingSenders {
  const missing: MissingSenders = {};
  if (!existsSync(RSYSLOGD)) missing.rsyslog = `${RSYSLOGD} not installed (Debian package "rsyslog")`;
  if (!rsyslogGtls()) missing.rsyslogTls = 'rsyslog\'s gtls stream driver (lmnsd_gtls.so) not installed (Debian package "rsyslog-gnutls")';
  if (!SYSLOG_NG) missing.syslogNg = 'syslog-ng not installed (Debian package "syslog-ng-core", or unpacked into .syslog-ng/ as .ci/run does)';
  if (!existsSync(LOGGER)) missing.logger = `${LOGGER} not installed (Debian package "bsdutils")`;
  const reasons = Object.values(missing);
  if (reasons.length > 0 && process.env.CI === 'true') throw new Error(`${reasons.join('; ')}: CI installs them in .ci/run`);
  return missing;
}

export interface Daemon {
  dir: string;
  output: () => string;
  /** SIGTERM (both flush their queues on it) and wait for exit. */
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startDaemon(name: string, command: Command, configArgs: (dir: string) => string[], configFile: string, config: string, inputPorts: number[]): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  writeFileSync(join(dir, configFile), config.replaceAll('$DIR', dir));
  const proc: ChildProcess = spawn(command.file, [...command.args, ...configArgs(dir)], {
    env: { ...process.env, ...command.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${output}`);
      for (const port of inputPorts) if (!(await canConnect(port))) return false;
      return true;
    }, 20_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    dir,
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * rsyslogd -n with `config` (`$DIR` replaced by its own directory, for workDirectory and queue
 * files); ready when each of `inputPorts` (its imtcp inputs) accepts connections.
 */
export function startRsyslog(config: string, inputPorts: number[]): Promise<Daemon> {
  // -i: its pid file (the default is /run/rsyslogd.pid); a relative path is not found.
  return startDaemon('rsyslog', { file: RSYSLOGD, args: [], env: {} }, (dir) => ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], 'rsyslog.conf', config, inputPorts);
}

/** syslog-ng -F with `config` (`$DIR` replaced as for rsyslog); ready as startRsyslog. */
export function startSyslogNg(config: string, inputPorts: number[]): Promise<Daemon> {
  if (!SYSLOG_NG) throw new Error('syslog-ng is not installed');
  return startDaemon(
    'syslog-ng',
    SYSLOG_NG,
    (dir) => ['-F', '-e', '--no-caps', '-f', join(dir, 'syslog-ng.conf'), '-R', join(dir, 'persist'), '-p', join(dir, 'pid'), '-c', join(dir, 'ctl')],
    'syslog-ng.conf',
    config,
    inputPorts,
  );
}

/** Writes `messages` octet-counted (RFC 6587) to a sender's TCP input, then closes. */
export function sendOctetCounted(port: number, messages: (string | Buffer)[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      for (const m of messages) {
        const bytes = typeof m === 'string' ? Buffer.from(m) : m;
        socket.write(Buffer.concat([Buffer.from(`${bytes.length} `), bytes]));
      }
      socket.end();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}
