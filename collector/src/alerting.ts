import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { registerNotifyRoutes } from '../../alerting/src/api/notify-routes.ts';
import { registerRuleRoutes } from '../../alerting/src/api/rules-routes.ts';
import type { AlertingConfig } from '../../alerting/src/config.ts';
import { rulesConfigFromSlice } from '../../alerting/src/config.ts';
import { notifyConfigFromAlerting } from '../../alerting/src/notify-config.ts';
import { checkRuleFiles } from '../../alerting/src/rules/load.ts';
import { AlertError } from '../../alerting/src/errors.ts';
import { NotificationPipeline } from '../../alerting/src/notify-pipeline.ts';
import { AlertingEngine } from '../../alerting/src/rules/engine.ts';
import type { LogCountSource, MetricSource } from '../../alerting/src/rules/sources.ts';
import { parseLogFilter } from './store/log-filter.ts';
import type { LogStore } from './store/log-store.ts';

export interface AlertingDeps {
  dataDir: string;
  /** Folder that relative `alerting.ruleFiles` are resolved against (that of periscope.yaml). */
  configDir: string;
  store: LogStore;
  metrics: MetricSource;
  registry: Registry;
  logger: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void; info(obj: unknown, msg?: string): void };
}

/**
 * Log alert rules count with the same filters as GET /api/v1/logs (service, severity, q, attr.*, …)
 * over [startMs, endMs).
 */
export function logCountSource(store: LogStore): LogCountSource {
  return {
    count(filter, startMs, endMs) {
      const parsed = parseLogFilter({ ...filter, start: String(Math.floor(startMs)), end: String(Math.floor(endMs)) });
      return store.countMatching(parsed);
    },
  };
}

/**
 * The alerting side of the collector: the rule engine evaluates over the collector's metrics and
 * logs (and a Prometheus server for promql rules) and hands every transition to the notification
 * pipeline. Both keep their state in alerting.db in the data dir. The pipeline starts first so no
 * transition finds it closed; shutdown runs in reverse.
 */
export function createAlerting(config: AlertingConfig, deps: AlertingDeps) {
  const pipeline = new NotificationPipeline({
    config: notifyConfigFromAlerting(config),
    dataDir: deps.dataDir,
    registry: deps.registry,
    logger: deps.logger,
  });
  const engine = new AlertingEngine({
    sink: pipeline,
    dataDir: deps.dataDir,
    config: rulesConfigFromSlice(config),
    metrics: deps.metrics,
    logs: logCountSource(deps.store),
    baseDir: deps.configDir,
    logger: {
      warn: (msg, details) => deps.logger.warn({ details }, msg),
      error: (msg, details) => deps.logger.error({ details }, msg),
    },
  });
  return {
    engine,
    pipeline,
    async registerRoutes(app: FastifyInstance): Promise<void> {
      registerRuleRoutes(app, { engine, ackInfo: (fp) => pipeline.ackFor(fp), timelineSource: (fp) => pipeline.timelineFor(fp) });
      await app.register(registerNotifyRoutes, { pipeline });
    },
    async start(): Promise<void> {
      await pipeline.start();
      await engine.start();
    },
    async shutdown(): Promise<void> {
      await engine.shutdown();
      await pipeline.shutdown();
    },
    health() {
      const stats = engine.stats();
      return { status: 'up' as const, ...stats };
    },
  };
}

/**
 * What `periscope check-config` adds for alerting: cross-references of the notification config
 * (unknown receivers, bad matchers, cron), the rules slice, and every rule file. One line per problem.
 */
export function checkAlertingConfig(config: AlertingConfig, configDir: string): string[] {
  const problems: string[] = [];
  for (const check of [() => notifyConfigFromAlerting(config), () => rulesConfigFromSlice(config)]) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof AlertError)) throw err;
      problems.push(...(((err.details as { problems?: string[] } | undefined)?.problems) ?? [err.message]));
    }
  }
  const rules = checkRuleFiles(config.ruleFiles, { baseDir: configDir });
  problems.push(...rules.problems);
  return problems;
}
