import type { FastifyInstance } from 'fastify';
import type { ProxyEnvironment } from '../../alerting/src/proxy.ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import { registerNotifyRoutes } from '../../alerting/src/api/notify-routes.ts';
import { registerRuleRoutes, type ExternalAlertView } from '../../alerting/src/api/rules-routes.ts';
import type { AlertingConfig } from '../../alerting/src/config.ts';
import { rulesConfigFromSlice } from '../../alerting/src/config.ts';
import { notifyConfigFromAlerting, notifyTlsFileProblems } from '../../alerting/src/notify-config.ts';
import type { NotifyAlert } from '../../alerting/src/dispatch/alert.ts';
import { checkRuleFiles } from '../../alerting/src/rules/load.ts';
import type { RuleDefaults } from '../../alerting/src/rules/schema.ts';
import { ALERT_ERR, AlertError, alertErrorBody } from '../../alerting/src/errors.ts';
import { NotificationPipeline } from '../../alerting/src/notify-pipeline.ts';
import { SwappablePipeline } from './notify-swap.ts';
import { differingKeys } from './reload.ts';
import { AlertingEngine, PROBLEM_STATES } from '../../alerting/src/rules/engine.ts';
import type { LogCountSource, MetricSource } from '../../alerting/src/rules/sources.ts';
import type { Severity } from '../../alerting/src/types.ts';
import { parseLogFilter, type LogFilter } from './store/log-filter.ts';
import type { StoreQueries } from './store/store-queries.ts';

export interface AlertingDeps {
  dataDir: string;
  /** Folder that relative `alerting.ruleFiles` are resolved against (that of periscope.yaml). */
  configDir: string;
  /** The environment's proxy variables, for the channels with proxyFromEnvironment. */
  proxyEnvironment?: ProxyEnvironment;
  queries: StoreQueries;
  metrics: MetricSource;
  registry: Registry;
  logger: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void; info(obj: unknown, msg?: string): void };
  /** The HTTP listener's URL, for the links in notifications when alerting.ack.baseUrl is unset. */
  listenerUrl: () => string;
}

export interface ReloadResult {
  ok: boolean;
  problems: string[];
  /** Configuration keys changed in the file that take effect at the next restart only. */
  restartNeeded: string[];
  /** What was and was not applied, when not ok and not "nothing" (the answer's message). */
  message?: string;
  /**
   * When not ok, the answer's code: PERISCOPE_ERR_ALERT_RULE_INVALID (unset) when the problems are
   * in rule files only, the configuration's (PERISCOPE_ERR_CONFIG_INVALID, …_UNREADABLE) when
   * periscope.yaml has one, so that a script can tell which file to look at.
   */
  code?: string;
  /** The configuration file the problems are in, with such a code. */
  file?: string;
}

/** What log alert rules count with: the query thread (StoreQueries), or a LogReader in-process. */
export interface LogCounter {
  readonly searchIndex: boolean;
  countMatching(filter: LogFilter): number | Promise<number>;
}

/**
 * Log alert rules count with the same filters as GET /api/v1/logs (service, severity, q, attr.*, …)
 * over [startMs, endMs). Without the search index (store.search.enabled: false) a filter with q or
 * traceId reads every record of its window at each evaluation: said once per filter, as a warning.
 */
export function logCountSource(store: LogCounter, logger: Pick<AlertingDeps['logger'], 'warn'>): LogCountSource {
  const warned = new Set<string>();
  return {
    count(filter, startMs, endMs) {
      const parsed = parseLogFilter({ ...filter, start: String(Math.floor(startMs)), end: String(Math.floor(endMs)) });
      if (!store.searchIndex && (parsed.q !== undefined || parsed.traceId !== undefined)) {
        const key = JSON.stringify(filter);
        if (!warned.has(key)) {
          warned.add(key);
          logger.warn({ filter }, 'a log alert rule filters on q or traceId while the search index is off (store.search.enabled: false): each evaluation reads every record of its window');
        }
      }
      return store.countMatching(parsed);
    },
  };
}

/** An alert posted to POST /api/v2/alerts (e.g. by Prometheus) in the view of GET /api/v1/alerts. */
export function apiAlertView(a: NotifyAlert): ExternalAlertView {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: a.fingerprint,
    fingerprint: a.fingerprint,
    ruleId: '',
    ruleName: a.labels.alertname ?? '',
    state: a.status,
    value: a.value,
    labels: a.labels,
    annotations: a.annotations,
    severity: a.severity as Severity, // what the sender put in its `severity` label
    since: iso(a.status === 'resolved' && a.endsAt !== null ? a.endsAt : a.startsAt),
    startsAt: iso(a.startsAt),
    endsAt: a.status === 'resolved' && a.endsAt !== null ? iso(a.endsAt) : null,
    flapping: false,
    flapPercent: 0,
    lastEvaluation: null,
    error: null,
    source: 'api',
  };
}

/**
 * The rule engine's figures on /metrics (DESIGN.md, "Observability of the observer"), read from the
 * engine when scraped: evaluations, failures and skipped runs, each rule's last evaluation
 * duration, rules by health and alert instances by state.
 */
export function registerEngineMetrics(registry: Registry, engine: Pick<AlertingEngine, 'stats' | 'listRules' | 'alerts'>): void {
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  total('periscope_alert_rule_evaluations_total', 'Rule evaluations run.', () => engine.stats().evaluations);
  total('periscope_alert_rule_evaluation_failures_total', 'Rule evaluations that failed (source error, bad query); the rule\'s alerts go to `error`.', () => engine.stats().evaluationFailures);
  total('periscope_alert_rule_evaluations_skipped_total', 'Evaluations skipped because the previous one of the rule was still running.', () => engine.stats().skippedEvaluations);
  new Gauge({
    name: 'periscope_alert_rule_last_evaluation_duration_seconds',
    help: 'Duration of each rule\'s last evaluation.',
    labelNames: ['rule'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of engine.listRules()) if (r.lastDurationMs !== null) this.set({ rule: r.id }, r.lastDurationMs / 1000);
    },
  });
  new Gauge({
    name: 'periscope_alert_rules',
    help: 'Rules by health (unknown, ok, nodata, error).',
    labelNames: ['health'] as const,
    registers: [registry],
    collect() {
      for (const [health, n] of Object.entries(engine.stats().rulesByHealth)) this.set({ health }, n);
    },
  });
  new Gauge({
    name: 'periscope_alerts_open',
    help: 'Open alert instances, by rule, its severity and state (pending, firing, nodata, error).',
    labelNames: ['rule', 'severity', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      // Every rule has its four series, 0 when nothing is open: PromQL sees 0, not an absent series.
      for (const r of engine.listRules()) for (const state of PROBLEM_STATES) this.set({ rule: r.id, severity: r.severity, state }, 0);
      for (const a of engine.alerts()) this.inc({ rule: a.ruleId, severity: a.severity, state: a.state });
    },
  });
  new Gauge({
    name: 'periscope_alert_transitions_undelivered',
    help: 'State changes committed by the rule engine and not yet accepted by the notification pipeline.',
    registers: [registry],
    collect() {
      this.set(engine.stats().deliveryBacklog);
    },
  });
}

/**
 * The alerting side of the collector: the rule engine evaluates over the collector's metrics and
 * logs (and a Prometheus server for promql rules) and hands every transition to the notification
 * pipeline. Both keep their state in alerting.db in the data dir. The pipeline starts first so no
 * transition finds it closed; shutdown runs in reverse.
 */
export function createAlerting(config: AlertingConfig, deps: AlertingDeps) {
  const pipelines = new SwappablePipeline(
    notifyConfigFromAlerting(config),
    (notifyConfig, handover) =>
      new NotificationPipeline({
        config: notifyConfig,
        ...(handover ? { handover } : {}),
        dataDir: deps.dataDir,
        configDir: deps.configDir,
        ...(deps.proxyEnvironment ? { proxyEnvironment: deps.proxyEnvironment } : {}),
        registry: deps.registry,
        logger: deps.logger,
        listenerUrl: deps.listenerUrl,
      }),
  );
  const pipeline = pipelines.view;
  const engine = new AlertingEngine({
    sink: pipelines.sink,
    dataDir: deps.dataDir,
    config: rulesConfigFromSlice(config),
    metrics: deps.metrics,
    logs: logCountSource(deps.queries, deps.logger),
    baseDir: deps.configDir,
    logger: {
      warn: (msg, details) => deps.logger.warn({ details }, msg),
      error: (msg, details) => deps.logger.error({ details }, msg),
    },
  });
  registerEngineMetrics(deps.registry, engine);
  /**
   * Re-reads the rule files (SIGHUP, POST /-/reload), those of `ruleFiles` when the configuration
   * was read again; all or nothing, the outcome logged.
   */
  const reloadRuleFiles = (ruleFiles?: string[]): { ok: boolean; problems: string[] } => {
    const result = engine.reloadRuleFiles(ruleFiles);
    if (result.ok) deps.logger.info({ rules: engine.listRules().length }, 'alerting rule files reloaded');
    else deps.logger.error({ problems: result.problems }, 'alerting rule files not reloaded: the rules in effect are unchanged');
    return result;
  };
  return {
    engine,
    pipeline,
    /** `reload`: what SIGHUP does (the collector's: the configuration read again, then the rule files). */
    async registerRoutes(app: FastifyInstance, reload: () => Promise<ReloadResult>): Promise<void> {
      registerRuleRoutes(app, {
        engine,
        ackInfo: (fp) => pipeline.ackFor(fp),
        timelineSource: (fp) => pipeline.timelineFor(fp),
        externalAlerts: () => pipeline.alerts().filter((a) => a.source === 'api').map(apiAlertView),
        muteStatus: (fp, labels) => pipeline.muteStatus(fp, labels),
      });
      await app.register(registerNotifyRoutes, { pipeline, ruleAlertState: (fp) => {
          const a = engine.getAlert(fp);
          return a && { state: a.state, flapping: a.flapping };
        },
      });
      // Prometheus' and Alertmanager's reload endpoint (config reloaders, `curl -X POST …/-/reload`),
      // the same as SIGHUP: 200 once the rule files are in effect, with the configuration keys whose
      // change waits for a restart; 500 with each problem when the configuration or a rule file has
      // one (as Prometheus answers), the rules in effect unchanged. POST or PUT, as Prometheus.
      app.route({
        method: ['POST', 'PUT'],
        url: '/-/reload',
        handler: async (_req, reply) => {
          const result = await reload();
          if (result.ok) return { status: 'success', rules: engine.listRules().length, restartNeeded: result.restartNeeded };
          // Named both: an operator who edited a route must not read that only rules were refused.
          const what = result.message ?? 'alerting rule files and routing not reloaded, the rules and routing in effect are unchanged';
          const where = result.file ? `${result.file}: ` : '';
          return reply
            .code(500)
            .send(alertErrorBody(result.code ?? ALERT_ERR.RULE_INVALID, `${what}: ${where}${result.problems.join('; ')}`, { problems: result.problems, ...(result.file ? { file: result.file } : {}) }));
        },
      });
    },
    async start(): Promise<void> {
      await pipeline.start();
      await engine.start();
    },
    async shutdown(): Promise<void> {
      await engine.shutdown();
      await pipelines.shutdown();
    },
    reloadRuleFiles,
    /**
     * Applies the notification side of a configuration read again (routes, receivers, escalations,
     * inhibition rules, …) when it differs from the one in effect: `changed` lists its keys that
     * changed (empty: nothing done). A configuration with a problem throws before anything stops.
     */
    async reloadNotifications(next: AlertingConfig): Promise<{ changed: string[] }> {
      const notifyConfig = notifyConfigFromAlerting(next);
      const changed = differingKeys(pipelines.config, notifyConfig).map((k) => `alerting.${k}`);
      if (!changed.length) return { changed };
      await pipelines.replace(notifyConfig);
      deps.logger.info({ keys: changed }, 'alerting notifications reloaded: routes, receivers, escalations and inhibition rules of the configuration are in effect');
      return { changed };
    },
    health() {
      const stats = engine.stats();
      return { status: 'up' as const, ...stats };
    },
  };
}

/**
 * What `periscope check-config` adds for alerting: cross-references of the notification config
 * (unknown receivers, bad matchers, cron), the rules slice, and every rule file. One line per
 * problem; `warnings` are likely mistakes that do not make the file invalid (a rule-file glob
 * that matches nothing).
 */
export function checkAlertingConfig(config: AlertingConfig, configDir: string): { problems: string[]; ruleFileProblems: string[]; warnings: string[] } {
  const problems: string[] = [];
  let defaults: RuleDefaults | undefined;
  for (const check of [() => notifyConfigFromAlerting(config), () => (defaults = rulesConfigFromSlice(config))]) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof AlertError)) throw err;
      problems.push(...(((err.details as { problems?: string[] } | undefined)?.problems) ?? [err.message]));
    }
  }
  problems.push(...notifyTlsFileProblems(config.receivers, configDir));
  const rules = checkRuleFiles(config.ruleFiles, {
    baseDir: configDir,
    ...(defaults ? { defaults: { ...defaults, prometheusConfigured: config.prometheus !== undefined } } : {}),
  });
  problems.push(...rules.problems);
  return { problems, ruleFileProblems: rules.problems, warnings: rules.warnings.map((w) => `alerting.ruleFiles: ${w}`) };
}
