#!/usr/bin/env node
// periscope — the collector's command line.
//   periscope [start] [--config FILE]   run the collector (embedded defaults without a file)
//   periscope check-config FILE         validate a config file and exit (0 valid, 2 invalid)
//   periscope config-reference          print the configuration reference (docs/configuration.md)
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, keyOfProblem, readConfig } from '../src/config/load.ts';
import { renderConfigReference } from '../src/config/reference.ts';
import { formatAddr } from '../src/config/units.ts';
import { PeriscopeError } from '../src/errors.ts';
import { runWithNodeFlags } from './node-flags.ts';

const USAGE = 'usage: periscope [start] [--config FILE] | periscope check-config FILE | periscope config-reference';

/** An info line in the shape of the collector's own log (pino's: level 30, time in ms, pid, hostname). */
function logInfo(msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, hostname: hostname(), ...fields, msg }));
}

/**
 * The configuration and all its problems at once: the file's (load.ts), then alerting's
 * cross-references and rule files — also when the alerting section has shape problems, so that
 * fixing one error does not reveal the next; a key already reported is not reported twice.
 * Throws ConfigError when there is any. Warnings go to stderr when asked (check-config; at start
 * the alerting engine logs them).
 */
async function checkedConfig(file: string | undefined, printWarnings = false) {
  const { config, problems, source } = readConfig({ file });
  if (file && !problems.some((p) => /^\(root\)/.test(keyOfProblem(p)))) {
    const { checkAlertingConfig } = await import('../src/alerting.ts');
    const reported = new Set(problems.map(keyOfProblem));
    const alerting = checkAlertingConfig(config.alerting, dirname(resolve(file)));
    problems.push(...alerting.problems.filter((p) => !reported.has(keyOfProblem(p))));
    if (printWarnings) for (const w of alerting.warnings) console.error(`warning: ${w}`);
  }
  if (problems.length) throw new ConfigError(problems, source);
  return config;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const command = positionals[0] ?? 'start';
  if (command === 'check-config') {
    const file = positionals[1] ?? values.config;
    if (!file) {
      console.error(USAGE);
      return 2;
    }
    await checkedConfig(file, true);
    console.log(`${file}: configuration is valid`);
    return 0;
  }
  if (command === 'config-reference') {
    process.stdout.write(renderConfigReference());
    return 0;
  }
  if (command !== 'start') {
    console.error(`unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  runWithNodeFlags(); // returns once the V8 flags are in effect (node-flags.ts)
  const config = await checkedConfig(values.config);
  // Listening before anything starts: a SIGINT/SIGTERM during start-up stops the collector as
  // soon as it is up, instead of finding Node's default handler (which ends the process at once).
  const stopAsked = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // SIGHUP re-reads the alerting rule files, as Prometheus does; Node's default would end the process.
  let reloadRuleFiles: (() => unknown) | undefined;
  process.on('SIGHUP', () => {
    if (reloadRuleFiles) reloadRuleFiles();
    else logInfo('SIGHUP ignored: the collector is still starting');
  });
  // Loaded only for `start`, so check-config and config-reference stay quick.
  const { startCollector } = await import('../src/collector.ts');
  const collector = await startCollector(config, { configDir: values.config ? dirname(resolve(values.config)) : process.cwd() });
  reloadRuleFiles = collector.reloadRuleFiles;
  const syslog = collector.syslogAddresses();
  logInfo('periscope collector started', {
    http: `http://${formatAddr(collector.httpAddress.host, collector.httpAddress.port)}`,
    syslog: syslog.tcp ? `${syslog.tcp.host}:${syslog.tcp.port} (tcp+udp)` : 'disabled',
    dataDir: config.store.dataDir,
  });
  await stopAsked;
  await collector.shutdown();
  logInfo('periscope collector stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof PeriscopeError) {
      console.error(`${err.code}: ${err.message}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
