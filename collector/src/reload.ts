// SIGHUP and POST /-/reload (collector.ts wires both to reloadConfig).
import type { FastifyInstance } from 'fastify';
import type { createAlerting, ReloadResult } from './alerting.ts';
import { ConfigError } from './config/load.ts';
import type { Config } from './config/schema.ts';

/** `fn` run one call at a time: a reload asked while one runs waits for it. */
export function serialized<T>(fn: () => Promise<T>): () => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return () => {
    const run = last.then(fn, fn);
    last = run.catch(() => undefined);
    return run;
  };
}

/**
 * A reload, as Prometheus' (SIGHUP, POST /-/reload): the configuration file is read and checked
 * again, all of it (a problem anywhere changes nothing, as Prometheus refuses a config with one);
 * the rule files of its `alerting.ruleFiles` replace the rules in effect. Everything else in the
 * file is read at start only: a change there is logged and answered as needing a restart, so that
 * an edited route or receiver is not taken for applied.
 */
export async function reloadConfig(
  running: Config,
  alerting: Pick<ReturnType<typeof createAlerting>, 'reloadRuleFiles'>,
  readConfig: (() => Promise<Config>) | undefined,
  log: Pick<FastifyInstance['log'], 'warn' | 'error'>,
): Promise<ReloadResult> {
  let next: Config | undefined;
  if (readConfig) {
    try {
      next = await readConfig();
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      log.error({ problems }, 'alerting rule files not reloaded: the configuration file has problems; the rules in effect are unchanged');
      return { ok: false, problems, restartNeeded: [] };
    }
  }
  const result = alerting.reloadRuleFiles(next?.alerting.ruleFiles);
  if (!result.ok || !next) return { ...result, restartNeeded: [] };
  const restartNeeded = changedKeys(running, next);
  if (restartNeeded.length) log.warn({ keys: restartNeeded }, `configuration changed in ${restartNeeded.join(', ')}: not applied until the collector restarts (a reload applies alerting.ruleFiles and the rule files only)`);
  return { ...result, restartNeeded };
}

/** The sections (and alerting's keys, but ruleFiles) that differ between two configurations. */
function changedKeys(before: Config, after: Config): string[] {
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  const out: string[] = [];
  const sections = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof Config>;
  for (const s of sections) {
    if (s !== 'alerting') {
      if (differs(before[s], after[s])) out.push(s);
      continue;
    }
    const a = before.alerting as unknown as Record<string, unknown>;
    const b = after.alerting as unknown as Record<string, unknown>;
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (k !== 'ruleFiles' && differs(a[k], b[k])) out.push(`alerting.${k}`);
  }
  return out;
}
