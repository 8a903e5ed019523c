#!/usr/bin/env node
// periscope — the collector's command line.
//   periscope [start] [--config FILE]   run the collector (embedded defaults without a file)
//   periscope check-config FILE         validate a config file and exit (0 valid, 2 invalid)
//   periscope config-reference          print the configuration reference (docs/configuration.md)
//   periscope backup [--config FILE] DIR  copy the databases of store.dataDir into DIR, a running
//                                       collector's too (SQLite's online backup; docs/deploy.md)
//   periscope restore [--config FILE] DIR put the backup in DIR in place of store.dataDir's databases,
//                                       the collector stopped (the previous ones are moved aside)
//   periscope hash-password [--cost N]  print the bcrypt hash of the password read on stdin (its
//                                       first line), for http.auth.basicUsers
//   periscope --version                 print the version (also on the "collector started" log line)
// Anything else on the command line is refused with the usage and exit status 2. `start` takes
// its file only as --config, as Prometheus (--config.file) and the OpenTelemetry Collector
// (--config) do: `periscope start c.yaml` ran on the defaults, silently, before it was refused.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PeriscopeError } from '../src/errors.ts';
import { runWithNodeFlags } from './node-flags.ts';
// Nothing heavier is imported here: `start` re-executes node (runWithNodeFlags) before it reads
// the configuration, and each module imported before that is type-stripped and evaluated twice.
// The configuration's modules (typebox, ajv, alerting's schemas) are imported where they are used,
// after the re-exec: imported here, they cost a second of every start on a loaded 2-core machine.

const USAGE = 'usage: periscope [start] [--config FILE] | periscope check-config FILE | periscope config-reference | periscope backup [--config FILE] DIR | periscope restore [--config FILE] DIR | periscope hash-password [--cost N] < password | periscope --version';

/** The collector package's version, for --version and the start-up log line (bug reports, upgrades). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A command line the CLI does not take: its message and the usage go to stderr, exit status 2. */
class UsageError extends Error {}

/** The command and its configuration file, or a UsageError for arguments the command does not take. */
function commandLine(argv: string[]): { command: string; file?: string; target?: string; cost?: number; help: boolean; version: boolean } {
  const { values, positionals } = parsedArgs(argv);
  const help = values.help ?? false;
  const version = values.version ?? false;
  const [command = 'start', ...rest] = positionals;
  if (values.config === '') throw new UsageError('--config needs a file name');
  if (values.cost !== undefined && command !== 'hash-password') throw new UsageError('--cost is an option of hash-password');
  switch (command) {
    case 'start':
      if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}" (the configuration file is given as --config ${rest[0]})`);
      return { command, file: values.config, help, version };
    case 'check-config': {
      const files = values.config === undefined ? rest : [values.config, ...rest];
      if (files.length > 1) throw new UsageError(`unexpected argument "${files[1]}": check-config checks one file`);
      return { command, file: files[0], help, version };
    }
    case 'backup':
      if (rest.length === 0 && !help) throw new UsageError('backup needs the directory to write the backup into');
      if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}": backup writes into one directory`);
      return { command, file: values.config, target: rest[0], help, version };
    case 'restore':
      if (rest.length === 0 && !help) throw new UsageError('restore needs the directory holding the backup');
      if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}": restore reads one backup directory`);
      return { command, file: values.config, target: rest[0], help, version };
    case 'hash-password': {
      if (rest.length || values.config !== undefined) throw new UsageError(`hash-password reads the password on stdin and takes no ${rest.length ? `argument ("${rest[0]}")` : 'configuration file'}`);
      const cost = values.cost === undefined ? undefined : Number(values.cost);
      if (cost !== undefined && !(Number.isInteger(cost) && cost >= 4 && cost <= 31)) throw new UsageError(`--cost must be an integer from 4 to 31, got "${values.cost}"`);
      return { command, cost, help, version };
    }
    case 'config-reference':
      if (rest.length || values.config !== undefined) throw new UsageError(`config-reference takes no ${rest.length ? `argument ("${rest[0]}")` : 'configuration file'}`);
      return { command, help, version };
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * node:util parseArgs, its refusals (an unknown option, --config without a value) as UsageErrors:
 * they are TypeErrors with an ERR_PARSE_ARGS_* code, which printed a stack and exit status 1.
 */
function parsedArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, cost: { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
    });
  } catch (err) {
    if (String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message);
    throw err;
  }
}

/** The configured `log.level` as pino's number; lines below it are left out, as pino does. */
let lowestLevel = 30;

/** A line in the shape of the collector's own log (pino's: level, time in ms, pid, hostname). */
function logLine(level: 30 | 40 | 50, msg: string, fields: Record<string, unknown> = {}): void {
  if (level < lowestLevel) return;
  console.log(JSON.stringify({ level, time: Date.now(), pid: process.pid, hostname: hostname(), ...fields, msg }));
}

function logInfo(msg: string, fields: Record<string, unknown> = {}): void {
  logLine(30, msg, fields);
}

/**
 * The configuration and all its problems at once: the file's (load.ts), then alerting's
 * cross-references and rule files — also when the alerting section has shape problems, so that
 * fixing one error does not reveal the next; a key already reported is not reported twice.
 * Throws ConfigError when there is any. Warnings go to stderr when asked (check-config; at start
 * the alerting engine logs them).
 */
async function checkedConfig(file: string | undefined, printWarnings = false, reload = false) {
  const { ConfigError, keyOfProblem, readConfig } = await import('../src/config/load.ts');
  const { config, problems, source } = readConfig({ file, reload });
  let ruleFileProblems: string[] = [];
  if (file && !problems.some((p) => /^\(root\)/.test(keyOfProblem(p)))) {
    const { checkAlertingConfig } = await import('../src/alerting.ts');
    const reported = new Set(problems.map(keyOfProblem));
    const alerting = checkAlertingConfig(config.alerting, dirname(resolve(file)));
    problems.push(...alerting.problems.filter((p) => !reported.has(keyOfProblem(p))));
    ruleFileProblems = alerting.ruleFileProblems.filter((p) => problems.includes(p));
    if (printWarnings) for (const w of alerting.warnings) console.error(`warning: ${w}`);
  }
  if (problems.length) throw new ConfigError(problems, source, ruleFileProblems);
  return config;
}

async function main(argv: string[]): Promise<number> {
  const { command, file, target, cost, help, version } = commandLine(argv);
  if (help) {
    console.log(USAGE);
    return 0;
  }
  if (version) {
    console.log(`periscope ${VERSION} (node ${process.version})`);
    return 0;
  }
  if (command === 'check-config') {
    if (!file) throw new UsageError('check-config needs the file to check');
    await checkedConfig(file, true);
    console.log(`${file}: configuration is valid`);
    return 0;
  }
  if (command === 'hash-password') {
    const { hashPassword, readPassword } = await import('../src/http/hash-password.ts');
    const password = await readPassword(process.stdin, process.stderr);
    try {
      console.log(await hashPassword(password, cost));
    } catch (err) {
      if (err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
    return 0;
  }
  if (command === 'config-reference') {
    const { renderConfigReference } = await import('../src/config/reference.ts');
    process.stdout.write(renderConfigReference());
    return 0;
  }
  if (command === 'backup') {
    // store.dataDir as `start` would take it (the file, PERISCOPE_DATA_DIR over it), relative to the working directory.
    const { dataDir } = (await checkedConfig(file)).store;
    const { backupDataDir } = await import('../src/store/backup.ts');
    const started = performance.now();
    const files = await backupDataDir(resolve(dataDir), resolve(target!));
    for (const { file: name, bytes } of files) console.log(`${name}: ${bytes} bytes`);
    console.log(`backup of ${resolve(dataDir)} written to ${resolve(target!)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  }
  if (command === 'restore') {
    const { dataDir } = (await checkedConfig(file)).store;
    const { restoreDataDir } = await import('../src/store/restore.ts');
    const { files, setAside } = restoreDataDir(resolve(target!), resolve(dataDir));
    for (const { file: name, bytes } of files) console.log(`${name}: ${bytes} bytes, checked`);
    if (setAside) console.log(`the previous databases of ${resolve(dataDir)} were moved to ${setAside}: delete it once the restored collector runs as it should`);
    console.log(`backup ${resolve(target!)} restored into ${resolve(dataDir)}: start the collector (what it sends again and what is lost: docs/deploy.md#backup-and-restore)`);
    return 0;
  }
  runWithNodeFlags(); // returns once the V8 flags are in effect (node-flags.ts)
  const config = await checkedConfig(file);
  const [{ LOG_LEVELS }, { formatAddr }] = await Promise.all([import('../src/log/config.ts'), import('../src/config/units.ts')]);
  lowestLevel = LOG_LEVELS[config.log.level];
  // SIGHUP reloads the configuration's alerting rule files, as Prometheus does; Node's default would end the process.
  // Not while starting or stopping: the rules engine may not be there (or no longer).
  let reload: (() => Promise<unknown>) | undefined;
  let phase = 'still starting';
  // Listening before anything starts: a SIGINT/SIGTERM during start-up stops the collector as
  // soon as it is up, instead of finding Node's default handler (which ends the process at once).
  const stopAsked = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (phase === 'stopping') {
        // A second signal (an impatient Ctrl-C, `kill` run twice) ends the process at once, as
        // Node's default would, but says so: nothing acknowledged is lost (the store is durable,
        // the exporters' cursors are saved as they move), the flush is cut short.
        logLine(40, `second ${signal} while stopping: exiting now, without waiting for the exporters' flush; they resume from their saved cursors at the next start`);
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
        return;
      }
      reload = undefined; // at once: a SIGHUP handled before the stop must not reload
      phase = 'stopping';
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.on('SIGHUP', () => {
    if (!reload) {
      logInfo(`SIGHUP ignored: the collector is ${phase}`);
      return;
    }
    // A rejection left unhandled ends the process: a failed reload keeps the rules in effect.
    reload().catch((err: unknown) => console.error('SIGHUP: reloading the rule files failed; the rules in effect are unchanged:', err));
  });
  // Loaded only for `start`, so check-config and config-reference stay quick.
  const { startCollector } = await import('../src/collector.ts');
  const { readProxyEnvironment } = await import('../src/config/load.ts');
  const collector = await startCollector(config, {
    configDir: file ? dirname(resolve(file)) : process.cwd(),
    proxyEnvironment: readProxyEnvironment(),
    // A reload reads the file again, as Prometheus does: its alerting.ruleFiles, and what changed elsewhere.
    ...(file ? { readConfig: () => checkedConfig(file, false, true) } : {}),
  });
  if (phase !== 'stopping') reload = collector.reload;
  const syslog = collector.syslogAddresses();
  // What each exporter has to send from before this start (its backlog after the saved cursor).
  // In fields, not in the message, which supervisors and tests wait for as it is.
  const queued = collector.exporters.backlogs();
  logInfo('periscope collector started', {
    version: VERSION,
    http: `${collector.httpScheme}://${formatAddr(collector.httpAddress.host, collector.httpAddress.port)}`,
    ...(collector.healthAddress && { health: `${collector.httpScheme}://${formatAddr(collector.healthAddress.host, collector.healthAddress.port)}` }),
    syslog: syslog.tcp ? `${syslog.tcp.host}:${syslog.tcp.port} (tcp+udp)` : 'disabled',
    ...(syslog.tls && { syslogTls: formatAddr(syslog.tls.host, syslog.tls.port) }),
    dataDir: config.store.dataDir,
    ...(queued.length > 0 && { exporters: queued }),
  });
  await stopAsked;
  const stops = await collector.shutdown();
  // One line for the whole stop: what each exporter delivered while stopping and left queued.
  const { describeStops } = await import('../src/exporters/exporters.ts');
  logInfo(`periscope collector stopped${describeStops(stops)}`, stops.length ? { exporters: stops } : {});
  return 0;
}

/**
 * Ends the process with `code` once stdout and stderr have taken what was written: process.exit()
 * does not wait for a pipe, and output past its 64 KiB (the config reference, `| less`) was cut
 * there. A reader gone (`| head`) ends it too, without a stack trace for the EPIPE.
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  for (const stream of [process.stdout, process.stderr]) {
    stream.once('error', () => process.exit(code));
    stream.write('', () => --pending === 0 && process.exit(code));
  }
}

main(process.argv.slice(2)).then(exitAfterOutput, (err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`periscope: ${err.message}\n${USAGE}`);
    exitAfterOutput(2);
  } else if (err instanceof PeriscopeError) {
    console.error(`${err.code}: ${err.message}`);
    exitAfterOutput(2);
  } else {
    console.error(err);
    exitAfterOutput(1);
  }
});
