// SIGHUP and POST /-/reload (collector.ts wires both to createReloader's function).
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { createAlerting, ReloadResult } from './alerting.ts';
import { ConfigError } from './config/load.ts';
import { ERR, PeriscopeError } from './errors.ts';
import type { Config } from './config/schema.ts';
import { NOTIFY_CONFIG_KEYS } from '../../alerting/src/notify-config.ts';
import { AlertError } from '../../alerting/src/errors.ts';

const APPLIED_BY_RELOAD: ReadonlySet<string> = new Set(NOTIFY_CONFIG_KEYS);

/** `fn` run one call at a time: a reload asked while one runs waits for it. */
function serialized<T>(fn: () => Promise<T>): () => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return () => {
    const run = last.then(fn, fn);
    last = run.catch(() => undefined);
    return run;
  };
}

/**
 * A reload, as Prometheus' and Alertmanager's (SIGHUP, POST /-/reload): the configuration file is
 * read and checked again, all of it (a problem anywhere changes nothing, as they refuse a config
 * with one); the rule files of its `alerting.ruleFiles` replace the rules in effect, and a changed
 * notification side (routes, receivers, escalations, inhibition rules, …) replaces the pipeline,
 * its state kept (notify-swap.ts); http.auth's credentials replace those in effect (a token
 * rotated without a restart, as Prometheus re-reads its web config). Everything else is read at start only: a change there is logged
 * and answered as needing a restart, so that it is not taken for applied. One reload at a time.
 */
export function createReloader(
  /** The configuration read at start: what a change waiting for a restart is told from. */
  running: Config,
  alerting: Pick<ReturnType<typeof createAlerting>, 'reloadRuleFiles' | 'reloadNotifications'>,
  readConfig: (() => Promise<Config>) | undefined,
  log: Pick<FastifyInstance['log'], 'info' | 'warn' | 'error'>,
  /** Puts http.auth's credentials in effect (auth.ts); returns whether they changed. */
  applyHttpAuth: (next: Config['http']['auth']) => boolean = () => false,
): () => Promise<ReloadResult> {
  return serialized(async (): Promise<ReloadResult> => {
    let next: Config | undefined;
    if (readConfig) {
      try {
        next = await readConfig();
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        // Rule-file problems only: the rule code, as before; otherwise periscope.yaml's code and path.
        const inRuleFiles = err instanceof ConfigError && problems.every((p) => err.ruleFileProblems.includes(p));
        if (inRuleFiles) {
          log.error({ problems }, 'alerting rule files and routing not reloaded: a rule file has problems; the rules and routing in effect are unchanged');
          return { ok: false, problems, restartNeeded: [] };
        }
        log.error({ problems }, 'alerting rule files and routing not reloaded: the configuration file has problems; the rules and routing in effect are unchanged');
        const code = err instanceof PeriscopeError ? err.code : ERR.CONFIG_INVALID;
        const file = err instanceof ConfigError ? err.source : ((err as PeriscopeError).details as { file?: string } | undefined)?.file;
        return { ok: false, problems, restartNeeded: [], code, ...(file ? { file } : {}) };
      }
    }
    const result = alerting.reloadRuleFiles(next?.alerting.ruleFiles);
    if (!result.ok || !next) return { ...result, restartNeeded: [] };
    try {
      await alerting.reloadNotifications(next.alerting);
    } catch (err) {
      const problems = [`notifications not reloaded, the routing in effect is unchanged: ${(err as Error).message}`];
      log.error({ problems }, 'alerting notifications not reloaded');
      return { ok: false, problems, restartNeeded: [], message: 'the alerting rule files were reloaded, the routing was not', ...(err instanceof AlertError ? { code: err.code } : {}) };
    }
    if (applyHttpAuth(next.http.auth)) log.info('http.auth reloaded: the credentials of the file are checked from the next request on');
    const restartNeeded = changedKeys(running, next);
    if (restartNeeded.length) log.warn({ keys: restartNeeded }, `configuration changed in ${restartNeeded.join(', ')}: not applied until the collector restarts (a reload applies alerting's rule files, routes, receivers, escalations and inhibition rules, and http.auth)`);
    return { ...result, restartNeeded };
  });
}

/**
 * The sections, and alerting's keys, that differ between two configurations, but those a reload
 * applies (ruleFiles, and the notification side, compared by reloadNotifications as parsed: an
 * edit that changes nothing in effect, a default written out, is no change).
 */
function changedKeys(before: Config, after: Config): string[] {
  return differingKeys(before, after).flatMap((s) => {
    if (s === 'alerting') return differingKeys(before.alerting, after.alerting).filter((k) => k !== 'ruleFiles' && !APPLIED_BY_RELOAD.has(k)).map((k) => `alerting.${k}`);
    // http.auth is applied by the reload (applyHttpAuth); the listener's other keys are not.
    if (s === 'http') return differingKeys(before.http, after.http).some((k) => k !== 'auth') ? ['http'] : [];
    return [s];
  });
}

/**
 * The keys whose values differ between two objects, those of `before` first. Compared as JSON
 * values (an undefined key is no key) but whatever the order of their keys: the same file written
 * by another generator, or with keys moved by hand, is no change (it replaced the pipeline).
 */
export function differingKeys(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const asJson = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !isDeepStrictEqual(asJson(a[k]), asJson(b[k])));
}
