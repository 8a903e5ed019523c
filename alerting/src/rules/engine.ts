import { systemClock, type Clock, type TimerHandle } from '../clock.ts';
import { defaultRulesConfig, type RulesConfig } from '../config.ts';
import { ALERT_ERR, AlertError } from '../errors.ts';
import { fingerprint } from '../state/fingerprint.ts';
import { flapPercent, hasStateChanges, holdsFiring, initialState, step, type InstanceState, type StepInput, type StepParams } from '../state/machine.ts';
import { AlertStore, type Delivery, type HistoryInsert, type HistoryKind, type HistoryQuery, type HistoryRow, type PersistedInstance } from '../state/store.ts';
import type { AlertEvent, AlertEventState, AlertSink, AlertState, Severity } from '../types.ts';
import { labelsClash, labelsClashMessage } from './clash.ts';
import { TransitionDeliverer } from './deliver.ts';
import { evaluateRule, groupKey, type EvalResult, type EvalSources } from './evaluate.ts';
import { loadRuleFiles } from './load.ts';
import { createPrometheusClient, type PrometheusClient } from './prometheus.ts';
import { compileRule, type Problem, type Rule, type RuleDefaults, type RuleSpec } from './schema.ts';
import type { LogCountSource, MetricSource } from './sources.ts';

// The rule engine: evaluates every rule at its interval on the injected clock, runs each alert
// instance through the state machine (state/machine.ts), persists state and history in
// alerting.db, and hands every transition to the AlertSink (through TransitionDeliverer).
// Lifecycle: start() / shutdown(); shutdown is safe twice and before start.

export interface EngineLogger {
  warn(msg: string, details?: unknown): void;
  error(msg: string, details?: unknown): void;
}

export interface AlertingEngineOptions {
  /** Receives every transition (the notification side). Must be idempotent on (fingerprint, transitionId). */
  sink: AlertSink;
  /** Directory of alerting.db. */
  dataDir?: string;
  /** Explicit database path instead of dataDir (e.g. ':memory:' for throwaway engines). */
  dbPath?: string;
  /** The validated rules slice; defaults to the built-in defaults. */
  config?: RulesConfig;
  clock?: Clock;
  metrics?: MetricSource;
  logs?: LogCountSource;
  /** Defaults to a client for `config.prometheus` when that is set. */
  prometheus?: PrometheusClient;
  /** Base directory for relative `config.ruleFiles`. */
  baseDir?: string;
  /** Rules defined in code (source `code`, read-only through the API). */
  rules?: unknown[];
  /** Evaluate on timers (default true). false: only evaluateAll()/evaluateRule() run rules (tests, bench). */
  autoEvaluate?: boolean;
  logger?: EngineLogger;
}

export interface RuleStatus {
  id: string;
  name: string;
  kind: Rule['kind'];
  source: string;
  readonly: boolean;
  enabled: boolean;
  spec: RuleSpec;
  /** The rule's severity (`spec.severity`, or the default). */
  severity: Severity;
  health: 'unknown' | 'ok' | 'nodata' | 'error';
  lastEvaluation: string | null;
  lastDurationMs: number | null;
  lastError: string | null;
  instances: number;
  firing: number;
}

export interface AlertView {
  id: string;
  fingerprint: string;
  ruleId: string;
  ruleName: string;
  state: AlertState;
  value: number | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  severity: Severity;
  /** When the current state was entered. */
  since: string;
  startsAt: string | null;
  endsAt: string | null;
  flapping: boolean;
  flapPercent: number;
  lastEvaluation: string | null;
  error: string | null;
}

export interface EngineStats {
  rules: number;
  instances: number;
  evaluations: number;
  evaluationFailures: number;
  skippedEvaluations: number;
  lastRoundMs: number | null;
  deliveries: number;
  deliveryFailures: number;
  deliveryBacklog: number;
  rulesByHealth: Record<RuleStatus['health'], number>;
}

/** An alert instance in memory: what alerting.db keeps of it, keyed within its rule. */
interface Instance extends Omit<PersistedInstance, 'ruleId'> {
  key: string;
  /** Serialized form last written to alerting.db; null when no row exists. */
  persistedKey: string | null;
  /**
   * The flap history as written (`historyBase`) and the rule's evaluation number it was written at
   * (`historyAt`): while every later evaluation only appended the same state, the row stands.
   */
  historyAt: number | null;
  historyBase: string;
}

interface RuleEntry {
  rule: Rule;
  /** Evaluations of the rule, counted on across restarts (alert_rule_evaluations.seq). */
  evalSeq: number;
  offset: number;
  timer: TimerHandle | null;
  inFlight: Promise<void> | null;
  instances: Map<string, Instance>;
  lastEvalAt: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
  health: RuleStatus['health'];
}

/** States of an open alert (the rest are inactive and resolved). */
export const PROBLEM_STATES: ReadonlySet<AlertState> = new Set<AlertState>(['pending', 'firing', 'nodata', 'error']);
const iso = (ms: number) => new Date(ms).toISOString();

function hash32(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Fields that define the identity (labels) of a rule's instances: a change resets them. A metric
 * selector or a log filter/mode decides what is counted, not the labels, so editing it keeps the
 * alerts (as a restart does, and as Prometheus keeps an edited rule's alerts on reload); a promql
 * expr yields the series whose labels the instances carry, so it is part of the identity.
 */
function identityOf(rule: Rule): string {
  const s = rule.spec as Record<string, unknown>;
  return JSON.stringify([rule.kind, rule.name, rule.severity, s.labels ?? {}, s.groupBy ?? [], s.expr]);
}

/**
 * A firing alert of a rule with keepFiringFor that breached at the evaluation of `now`: its last
 * breach is that evaluation, which alerting.db keeps once per rule (alert_rule_evaluations), so
 * its row is not rewritten at every evaluation while it keeps breaching.
 */
function breachesNow(inst: Instance, rule: Rule, now: number): boolean {
  return inst.st.state === 'firing' && rule.keepFiringForMs > 0 && inst.st.lastActiveAt === now;
}

/** A flap history written `evaluations` evaluations ago, each of which appended its last state. */
function padHistory(history: string, evaluations: number, window: number): string {
  if (evaluations <= 0 || !history) return history;
  return (history + history[history.length - 1].repeat(Math.min(evaluations, window))).slice(-window);
}

/**
 * What alerting.db must hold of an instance, as evaluated at `now` (the rule's evaluation number
 * `seq`); null: no row. Written only when it changes, so a steady alert costs no write.
 */
function persistKey(inst: Instance, rule: Rule, now: number, seq: number): string | null {
  const st = inst.st;
  if (st.state === 'inactive' && !st.flapping && !st.active && !hasStateChanges(st.flapHistory)) return null;
  // keepFiringFor runs from the last breach, which a restart must know: 'now' while it breaches
  // (the rule's evaluation time stands for it), the time itself once it stopped.
  const keepAlive = st.state === 'firing' && rule.keepFiringForMs > 0 ? (breachesNow(inst, rule, now) ? 'now' : st.lastActiveAt) : null;
  // A history without changes carries no information (restore pads it the same way): leaving it
  // out keeps steady alerts from being rewritten at every evaluation. One with changes shifts at
  // every evaluation; while it only appended the same state since it was written, the row (its
  // history and evaluation number, padded at restore from the rule's count) stands.
  let history = '';
  if (hasStateChanges(st.flapHistory)) {
    const unchanged = inst.historyAt !== null && padHistory(inst.historyBase, seq - inst.historyAt, rule.flapping.window) === st.flapHistory;
    history = unchanged ? `written at ${inst.historyAt}` : st.flapHistory;
  }
  return JSON.stringify([st.state, st.baseState, st.active, st.pendingSince, st.startsAt, st.endsAt, st.error, st.flapping, history, keepAlive, inst.lastEmittedState]);
}

export class AlertingEngine {
  private readonly options: AlertingEngineOptions;
  private readonly config: RulesConfig;
  private readonly clock: Clock;
  private readonly sources: EvalSources;
  private readonly logger: EngineLogger;
  private readonly autoEvaluate: boolean;
  private readonly rules = new Map<string, RuleEntry>();
  /** `alerting.ruleFiles` in effect: the config's, then the list of the last successful reload. */
  private ruleFiles: string[] | undefined;
  private store: AlertStore | null = null;
  private deliverer: TransitionDeliverer | null = null;
  private lifecycle: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private pruneTimer: TimerHandle | null = null;
  /** Clock time of start(); missing data is not reported until config.noDataGraceMs after it. */
  private startedAt = 0;
  private counters = { evaluations: 0, failures: 0, skipped: 0, lastRoundMs: null as number | null };

  constructor(options: AlertingEngineOptions) {
    this.options = options;
    this.config = options.config ?? defaultRulesConfig();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? { warn: (m, d) => console.warn(m, d ?? ''), error: (m, d) => console.error(m, d ?? '') };
    this.autoEvaluate = options.autoEvaluate ?? true;
    const prometheus =
      options.prometheus ??
      (this.config.prometheus ? createPrometheusClient({ url: this.config.prometheus.url, timeoutMs: this.config.prometheus.timeoutMs, ...(this.config.prometheus.headers ? { headers: this.config.prometheus.headers } : {}) }) : undefined);
    this.sources = {
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.logs ? { logs: options.logs } : {}),
      ...(prometheus ? { prometheus } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Opens alerting.db, loads rules (files, code, API), restores instance state, re-offers
   * transitions the sink has not accepted yet, and schedules evaluations.
   * Throws AlertError(RULE_INVALID) when a rule file is invalid (nothing started then).
   */
  async start(): Promise<void> {
    if (this.lifecycle !== 'new') {
      if (this.lifecycle === 'stopped') throw new AlertError(ALERT_ERR.STATE_STORE, 'engine was shut down; create a new one', 500);
      return;
    }
    this.lifecycle = 'starting';
    const defaults = this.defaults();
    const fromFiles = loadRuleFiles(this.ruleFiles ?? this.config.ruleFiles, { defaults, ...(this.options.baseDir ? { baseDir: this.options.baseDir } : {}) });
    this.warnAbout(fromFiles.warnings);
    const problems = [...fromFiles.problems];
    const initial: Rule[] = [...fromFiles.rules];
    (this.options.rules ?? []).forEach((raw, i) => {
      const { rule, problems: p } = compileRule(raw, { prefix: `rules[${i}]`, defaults, source: 'code' });
      problems.push(...p.map((x) => `(code): ${x.key}: ${x.message}`));
      const clash = rule && labelsClash(rule, initial);
      if (rule && initial.some((r) => r.id === rule.id)) problems.push(`(code): rules[${i}].id: duplicate rule id "${rule.id}"`);
      else if (rule && clash) problems.push(`(code): rules[${i}].name: ${labelsClashMessage(rule, clash)}`);
      else if (rule) initial.push(rule);
    });
    if (problems.length) {
      this.lifecycle = 'new';
      throw new AlertError(ALERT_ERR.RULE_INVALID, `invalid alerting rules:\n  ${problems.join('\n  ')}`, 400, { problems });
    }
    let store: AlertStore;
    try {
      store = new AlertStore(this.options.dbPath ? { path: this.options.dbPath } : { dataDir: this.options.dataDir ?? '.' });
    } catch (err) {
      this.lifecycle = 'new';
      throw new AlertError(ALERT_ERR.STATE_STORE, `cannot open alerting.db: ${(err as Error).message}`, 500);
    }
    this.store = store;
    this.deliverer = new TransitionDeliverer({ sink: this.options.sink, store, clock: this.clock, logger: this.logger });
    for (const rule of initial) this.rules.set(rule.id, this.newEntry(rule));
    this.admitApiRules(store);
    // Undelivered events first (they are older than anything restore or evaluation produces).
    this.deliverer.enqueue(store.undelivered());
    this.restoreInstances(store.loadInstances(), store.loadRuleEvaluations());
    this.startedAt = this.clock.now();
    this.lifecycle = 'running';
    for (const entry of this.rules.values()) this.schedule(entry);
    this.prune();
  }

  /**
   * Puts the stored API rules that are not in effect into effect, except those a rule file or code
   * shadows (same id, or the same alert labels: rules/clash.ts), which wait, with a warning, until
   * the shadowing rule goes. Start and reload call it after the file rules, so a reload leaves the
   * rules a restart would. Returns the entries added.
   */
  private admitApiRules(store: AlertStore): RuleEntry[] {
    const added: RuleEntry[] = [];
    for (const row of store.listRules()) {
      const existing = this.rules.get(row.id);
      if (existing?.rule.source === 'api') continue;
      if (existing) {
        this.logger.warn(`API rule "${row.id}" is shadowed by the rule with the same id from ${existing.rule.source}; it is not evaluated`);
        continue;
      }
      const { rule, problems: p } = compileRule(row.spec, { defaults: this.defaults(), source: 'api' });
      if (!rule) {
        this.logger.warn(`API rule "${row.id}" is no longer valid and is not evaluated`, { problems: p });
        continue;
      }
      const clash = labelsClash(rule, this.currentRules());
      if (clash) {
        this.logger.warn(`API rule "${row.id}" is not evaluated: ${labelsClashMessage(rule, clash)} (a ${clash.source} rule)`);
        continue;
      }
      const entry = this.newEntry(rule);
      this.rules.set(rule.id, entry);
      added.push(entry);
    }
    return added;
  }

  /** Stops timers, waits for running evaluations and deliveries, closes the database. */
  async shutdown(): Promise<void> {
    if (this.lifecycle === 'stopped') return;
    const wasOpen = this.store !== null;
    this.lifecycle = 'stopped';
    if (this.pruneTimer !== null) this.clock.clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    for (const entry of this.rules.values()) {
      if (entry.timer !== null) this.clock.clearTimeout(entry.timer);
      entry.timer = null;
    }
    await Promise.allSettled([...this.rules.values()].map((e) => e.inFlight));
    if (this.deliverer) await this.deliverer.stop();
    if (wasOpen) this.store?.close();
  }

  private requireRunning(): AlertStore {
    if (this.lifecycle !== 'running' || !this.store) throw new AlertError(ALERT_ERR.STATE_STORE, 'alerting engine is not running', 503);
    return this.store;
  }

  private newEntry(rule: Rule): RuleEntry {
    return { rule, evalSeq: 0, offset: hash32(rule.id), timer: null, inFlight: null, instances: new Map(), lastEvalAt: null, lastDurationMs: null, lastError: null, health: 'unknown' };
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling: each rule runs at fixed slots `k * interval + offset` (offset derived from the id so
  // rules spread over the interval and keep their slots across restarts).

  private schedule(entry: RuleEntry): void {
    if (!this.autoEvaluate || this.lifecycle !== 'running' || !entry.rule.enabled) return;
    const interval = entry.rule.intervalMs;
    const offset = entry.offset % interval;
    const now = this.clock.now();
    const next = Math.floor((now - offset) / interval) * interval + offset + interval;
    entry.timer = this.clock.setTimeout(() => this.onTimer(entry), next - now);
  }

  private onTimer(entry: RuleEntry): void {
    entry.timer = null;
    if (this.lifecycle !== 'running' || this.rules.get(entry.rule.id) !== entry) return;
    if (entry.inFlight) this.counters.skipped++;
    else this.launch(entry);
    this.schedule(entry);
  }

  private launch(entry: RuleEntry): Promise<void> {
    const run = this.runRule(entry).catch((err: unknown) => this.logger.error(`rule ${entry.rule.id}: evaluation crashed`, { error: (err as Error).message }));
    entry.inFlight = run.finally(() => {
      entry.inFlight = null;
    });
    return entry.inFlight;
  }

  /** Evaluates every enabled rule once (concurrently for promql), waits for all. */
  async evaluateAll(): Promise<{ rules: number; durationMs: number; errors: number }> {
    this.requireRunning();
    const t0 = performance.now();
    const before = this.counters.failures;
    const runs: Array<Promise<void>> = [];
    let n = 0;
    for (const entry of this.rules.values()) {
      if (!entry.rule.enabled) continue;
      n++;
      runs.push(entry.inFlight ? entry.inFlight.then(() => this.launch(entry)) : this.launch(entry));
    }
    await Promise.all(runs);
    const durationMs = performance.now() - t0;
    this.counters.lastRoundMs = durationMs;
    return { rules: n, durationMs, errors: this.counters.failures - before };
  }

  /** Evaluates one rule now. */
  async evaluateRule(id: string): Promise<void> {
    this.requireRunning();
    const entry = this.rules.get(id);
    if (!entry) throw new AlertError(ALERT_ERR.RULE_NOT_FOUND, `no rule "${id}"`, 404);
    if (entry.inFlight) await entry.inFlight;
    await this.launch(entry);
  }

  /** Waits until the sink has been offered everything pending (or a retry is scheduled). */
  async flush(): Promise<void> {
    await this.deliverer?.idle();
  }

  // ---------------------------------------------------------------------------------------------
  // Evaluation → state machine → persistence → delivery

  private async runRule(entry: RuleEntry): Promise<void> {
    const rule = entry.rule;
    const now = this.clock.now();
    const t0 = performance.now();
    const result = this.withinLimit(entry, this.distinctLabels(rule, await evaluateRule(rule, this.sources, now)), now);
    if (this.lifecycle !== 'running' || this.rules.get(rule.id) !== entry || entry.rule !== rule) return; // replaced meanwhile
    this.counters.evaluations++;
    entry.lastEvalAt = now;
    if (result.kind === 'error') {
      this.counters.failures++;
      entry.health = 'error';
      entry.lastError = result.error;
    } else {
      entry.health = result.instances.length ? 'ok' : result.missing === 'ok' ? 'ok' : 'nodata';
      entry.lastError = null;
    }
    try {
      this.applyResult(entry, result, now);
    } catch (err) {
      this.counters.failures++;
      entry.health = 'error';
      entry.lastError = (err as Error).message;
      this.logger.error(`rule ${rule.id}: ${(err as Error).message}`);
    }
    entry.lastDurationMs = performance.now() - t0;
  }

  /**
   * A result whose alerts would carry the same labels once `alertname`, `severity` and the rule's
   * labels are applied (series told apart only by a `severity` label, a rule label that overwrites
   * a group label) would be one alert, one fingerprint, for several series. Prometheus fails such
   * an evaluation ("vector contains metrics with the same labelset after applying alert labels");
   * so does this engine. Only a result with a series carrying one of those names is hashed.
   */
  private distinctLabels(rule: Rule, result: EvalResult): EvalResult {
    if (result.kind !== 'data' || result.instances.length < 2) return result;
    const overwritten = new Set(['alertname', 'severity', ...Object.keys(rule.labels)]);
    if (!result.instances.some((r) => Object.keys(r.labels).some((k) => overwritten.has(k)))) return result;
    const seen = new Map<string, Record<string, string>>();
    for (const r of result.instances) {
      const fp = fingerprint(this.labelsFor(rule, r.labels));
      const other = seen.get(fp);
      if (other) {
        return { kind: 'error', error: `series ${JSON.stringify(other)} and ${JSON.stringify(r.labels)} would be alerts with the same labels once alertname, severity and the rule's labels are applied: aggregate the label away, or rename it` };
      }
      seen.set(fp, r.labels);
    }
    return result;
  }

  /**
   * Prometheus' rule `limit`: a result that would make more than `limit` alerts (pending or
   * firing: breaching series, series in the hysteresis band of an active alert, and firing alerts
   * keepFiringFor holds, whether their series is ok or gone, as Prometheus counts them) is an
   * evaluation error — one `error` alert saying so instead of thousands of alerts and
   * notifications when an expression suddenly returns a series per request or per user.
   */
  private withinLimit(entry: RuleEntry, result: EvalResult, now: number): EvalResult {
    const limit = entry.rule.limit;
    if (limit <= 0 || result.kind !== 'data' || result.instances.length + entry.instances.size <= limit) return result;
    const held = (i: Instance | undefined) => i !== undefined && holdsFiring(i.st, entry.rule, now);
    let alerts = 0;
    const returned = new Set<string>();
    for (const r of result.instances) {
      const key = r.key ?? groupKey(r.labels);
      returned.add(key);
      const inst = entry.instances.get(key);
      if (r.cond === 'breach' || (r.cond === 'hold' && inst?.st.active) || held(inst)) alerts++;
    }
    for (const [key, inst] of entry.instances) if (!returned.has(key) && held(inst)) alerts++;
    if (alerts <= limit) return result;
    return { kind: 'error', error: `exceeded limit of ${limit} with ${alerts} alerts` };
  }

  private instanceFor(entry: RuleEntry, groupLabels: Record<string, string>, key: string = groupKey(groupLabels)): Instance {
    let inst = entry.instances.get(key);
    if (!inst) {
      const labels = this.labelsFor(entry.rule, groupLabels);
      inst = { key, fingerprint: fingerprint(labels), groupLabels, labels, st: initialState(this.clock.now()), lastEmittedState: null, lastEvalAt: null, persistedKey: null, historyAt: null, historyBase: '' };
      entry.instances.set(key, inst);
    }
    return inst;
  }

  private labelsFor(rule: Rule, groupLabels: Record<string, string>): Record<string, string> {
    const labels: Record<string, string> = { ...groupLabels };
    const data = { value: null, labels: groupLabels, rule: rule.name, severity: rule.severity };
    for (const [k, t] of Object.entries(rule.labels)) labels[k] = t(data);
    labels.alertname = rule.name;
    labels.severity = rule.severity;
    return labels;
  }

  private annotationsFor(rule: Rule, inst: Instance, value: number | null): Record<string, string> {
    const out: Record<string, string> = {};
    const data = { value, labels: inst.labels, rule: rule.name, severity: rule.severity };
    for (const [k, t] of Object.entries(rule.annotations)) out[k] = t(data);
    return out;
  }

  private generatorURL(rule: Rule): string | undefined {
    return this.config.externalUrl ? `${this.config.externalUrl}/api/v1/alerts/rules/${encodeURIComponent(rule.id)}` : undefined;
  }

  private buildEvent(rule: Rule, inst: Instance, state: AlertEventState, previousState: AlertState, flapping: boolean, transitionId: number, now: number): AlertEvent {
    const st = inst.st;
    const event: AlertEvent = {
      fingerprint: inst.fingerprint,
      ruleId: rule.id,
      ruleName: rule.name,
      labels: { ...inst.labels },
      annotations: this.annotationsFor(rule, inst, st.value),
      severity: rule.severity,
      state,
      previousState,
      value: st.value,
      startsAt: iso(st.startsAt ?? st.since ?? now),
      transitionId,
      flapping,
    };
    if (state === 'resolved') event.endsAt = iso(st.endsAt ?? now);
    const url = this.generatorURL(rule);
    if (url) event.generatorURL = url;
    if (st.error) event.error = st.error;
    if (flapping) event.annotations.flapping = `flapping (${st.flapPercent}% state change): notifications are suppressed until it stabilizes`;
    return event;
  }

  private applyResult(entry: RuleEntry, result: EvalResult, now: number): void {
    const rule = entry.rule;
    const params: StepParams = { forMs: rule.forMs, keepFiringForMs: rule.keepFiringForMs, noData: rule.noData, onError: rule.onError, flapping: rule.flapping };
    const stepped = new Set<Instance>();
    const history: HistoryInsert[] = [];
    const undo: Array<{ inst: Instance; st: InstanceState; lastEmittedState: AlertState | null }> = [];

    const doStep = (inst: Instance, input: StepInput) => {
      if (stepped.has(inst)) return;
      stepped.add(inst);
      const prev = inst.st;
      undo.push({ inst, st: prev, lastEmittedState: inst.lastEmittedState });
      const res = step(prev, input, params, now);
      inst.st = res.next;
      inst.lastEvalAt = now;
      if (!res.changed && !res.flap) return;
      const to = res.next.state;
      // `inactive` is not an event state: an aborted pending is reported as resolved.
      const emitState: AlertEventState | null = to === 'inactive' ? (prev.state === 'pending' || res.flap === 'stop' ? 'resolved' : null) : to;
      // While flapping, changes are held back, except a breach after the resolution that was sent
      // last (the flapping may have started on a resolution): a flapping alert stays open for the
      // notification side, and its escalation goes on, until the flapping stops.
      const reopens = (emitState === 'firing' || emitState === 'nodata' || emitState === 'error') && inst.lastEmittedState === 'resolved';
      let delivery: Delivery;
      if (!emitState) delivery = 'none';
      else if (res.flap) delivery = 'pending';
      else delivery = res.next.flapping && !reopens ? 'suppressed' : 'pending';
      const kind: HistoryKind = res.changed ? 'transition' : 'flapping_stop';
      const previousState: AlertState = res.changed ? prev.state : (inst.lastEmittedState ?? prev.state);
      const flapping = res.next.flapping;
      history.push({
        ts: now,
        ruleId: rule.id,
        ruleName: rule.name,
        fingerprint: inst.fingerprint,
        labels: inst.labels,
        kind,
        fromState: prev.state,
        toState: to,
        value: res.next.value,
        flapping,
        flap: res.flap ?? null,
        delivery,
        error: res.next.error,
        event: emitState ? (id) => this.buildEvent(rule, inst, emitState, previousState, flapping, id, now) : null,
      });
      if (delivery === 'pending' && emitState) inst.lastEmittedState = emitState;
    };

    if (result.kind === 'error') {
      let moved = false;
      for (const inst of entry.instances.values()) {
        if (PROBLEM_STATES.has(inst.st.state)) {
          doStep(inst, { kind: 'error', error: result.error });
          moved = true;
        }
      }
      if (!moved) doStep(this.instanceFor(entry, {}, ''), { kind: 'error', error: result.error });
    } else {
      for (const r of result.instances) doStep(this.instanceFor(entry, r.labels, r.key), { kind: 'data', cond: r.cond, value: r.value });
      const hasData = result.instances.length > 0;
      // Right after a start, missing data means "not pushed again yet", not "gone": every noData
      // policy (nodata, alerting, ok, keepLast) waits until the grace is over.
      const inGrace = now - this.startedAt < (this.config.noDataGraceMs ?? 0);
      // A series gone while the rule still returns others (a pod scaled away or replaced, a label
      // value a deploy renamed) resolves by default, as in Prometheus and Grafana (stale
      // instances): its labels may never come back, so as `nodata` it would page and stay open for
      // good. `missingSeries: nodata` applies the noData policy to it instead (a fixed set of hosts).
      // A group whose series are there but too few samples gave no value (`rate` over one sample)
      // is not gone: the noData policy applies, as before.
      const staleResolves = hasData && rule.missingSeries === 'resolve';
      for (const inst of entry.instances.values()) {
        if (stepped.has(inst)) continue;
        if (result.missing === 'ok') doStep(inst, { kind: 'absent' });
        else if (inst.key === '' && hasData) doStep(inst, { kind: 'absent' }); // rule-level instance of a grouped rule: data is back
        else if (staleResolves && PROBLEM_STATES.has(inst.st.state) && !inGrace && !result.withoutValue?.has(inst.key)) doStep(inst, { kind: 'absent' });
        else if (PROBLEM_STATES.has(inst.st.state) && !inGrace) doStep(inst, { kind: 'nodata' });
      }
      if (!hasData && result.missing === 'nodata' && !inGrace) {
        const anyProblem = [...entry.instances.values()].some((i) => PROBLEM_STATES.has(i.st.state));
        if (!anyProblem) doStep(this.instanceFor(entry, {}, ''), { kind: 'nodata' });
      }
    }

    // Housekeeping after `resolvedRetention` (not a transition, nothing is emitted): a quiet
    // resolved instance that is still evaluated becomes inactive (it leaves the list and its row),
    // and one that is no longer evaluated at all is forgotten.
    const removed: Instance[] = [];
    const retention = this.config.resolvedRetentionMs;
    for (const inst of entry.instances.values()) {
      const st = inst.st;
      if (st.flapping || now - st.since < retention || (st.state !== 'inactive' && st.state !== 'resolved')) continue;
      if (!stepped.has(inst)) removed.push(inst);
      else if (st.state === 'resolved' && !hasStateChanges(st.flapHistory)) {
        inst.st = { ...st, state: 'inactive', baseState: 'inactive' };
      }
    }
    for (const inst of removed) entry.instances.delete(inst.key);

    // Every instance, not only those stepped: one kept untouched (missing data during noDataGrace)
    // whose row says it breached at the rule's last evaluation, or shifted its history since, must
    // say how it stands instead, before the rule's evaluation moves on.
    const seq = entry.evalSeq + 1;
    const writes: Instance[] = [];
    let relied = false;
    for (const inst of entry.instances.values()) {
      if (persistKey(inst, rule, now, seq) !== inst.persistedKey) writes.push(inst);
      if (breachesNow(inst, rule, now) || hasStateChanges(inst.st.flapHistory)) relied = true;
    }
    if (!writes.length && !removed.length && !history.length && !relied) {
      entry.evalSeq = seq;
      return;
    }
    try {
      this.persist(rule, writes, removed, history, now, relied ? seq : null);
      entry.evalSeq = seq;
    } catch (err) {
      // Nothing was written: roll the in-memory state back so the same transitions are computed
      // (and persisted, and delivered) at the next evaluation instead of being lost.
      for (const u of undo.reverse()) {
        u.inst.st = u.st;
        u.inst.lastEmittedState = u.lastEmittedState;
      }
      for (const inst of removed) entry.instances.set(inst.key, inst);
      throw new AlertError(ALERT_ERR.STATE_STORE, `writing alert state failed: ${(err as Error).message}`, 500);
    }
  }

  /**
   * Writes one evaluation (at `now`, the rule's evaluation number `seq`) of the rule in one
   * transaction. `relied`: rows rely on the rule's evaluation (a firing alert breached at it, a
   * shifting flap history), so its time and number are written.
   */
  private persist(rule: Rule, writes: Instance[], removed: Instance[], history: HistoryInsert[], now: number, seq: number | null): void {
    const store = this.store;
    if (!store) return;
    const n = seq ?? 0;
    const events = store.transaction(() => {
      for (const inst of writes) {
        const key = persistKey(inst, rule, now, n);
        if (key === null) store.removeInstance(rule.id, inst.fingerprint);
        else store.saveInstance(this.toPersisted(rule, inst, now, n));
      }
      for (const inst of removed) if (inst.persistedKey !== null) store.removeInstance(rule.id, inst.fingerprint);
      if (seq !== null) store.saveRuleEvaluation(rule.id, now, seq);
      return store.appendHistory(history);
    });
    for (const inst of writes) {
      inst.historyAt = hasStateChanges(inst.st.flapHistory) ? n : null;
      inst.historyBase = inst.historyAt === null ? '' : inst.st.flapHistory;
      inst.persistedKey = persistKey(inst, rule, now, n);
    }
    this.deliverer?.enqueue(events.filter((e) => e.delivery === 'pending'));
  }

  private toPersisted(rule: Rule, inst: Instance, now: number, seq: number): PersistedInstance {
    const row: PersistedInstance = { ruleId: rule.id, ruleIdentity: identityOf(rule), fingerprint: inst.fingerprint, groupLabels: inst.groupLabels, labels: inst.labels, st: inst.st, lastEmittedState: inst.lastEmittedState, lastEvalAt: inst.lastEvalAt };
    if (breachesNow(inst, rule, now)) row.breachesAtRuleEvaluation = true;
    if (hasStateChanges(inst.st.flapHistory)) row.flapHistoryAt = seq;
    return row;
  }

  /**
   * Rebuilds in-memory instances from alerting.db. An instance whose rule is gone, or changed its
   * identity (identityOf: what a reload resolves alerts for), or whose labels the rule would now
   * compute differently, is closed (resolved with kind rule_removed).
   */
  private restoreInstances(rows: PersistedInstance[], ruleEvaluations: Map<string, { at: number; seq: number }>): void {
    for (const entry of this.rules.values()) entry.evalSeq = ruleEvaluations.get(entry.rule.id)?.seq ?? 0;
    const orphans = new Map<string, { rule: Rule | null; ruleId: string; instances: Instance[] }>();
    for (const row of rows) {
      const entry = this.rules.get(row.ruleId);
      const evaluation = ruleEvaluations.get(row.ruleId);
      if (row.breachesAtRuleEvaluation && evaluation !== undefined && evaluation.at > (row.st.lastActiveAt ?? 0)) {
        // It breached at every evaluation of its rule since the row was written (or the row would
        // say otherwise): its last breach, keepFiringFor's start, is the rule's last evaluation.
        row.st = { ...row.st, lastActiveAt: evaluation.at };
        row.lastEvalAt = evaluation.at;
      }
      if (row.flapHistoryAt !== undefined && entry && evaluation !== undefined && evaluation.seq > row.flapHistoryAt) {
        // Each evaluation since the row was written appended the same state (or the row would say
        // otherwise): the history is as flap detection had it at the rule's last evaluation.
        const window = entry.rule.flapping.window;
        const history = padHistory(row.st.flapHistory, evaluation.seq - row.flapHistoryAt, window);
        row.st = { ...row.st, flapHistory: history, flapPercent: Math.round(flapPercent(history, window) * 100) / 100 };
      }
      const inst: Instance = {
        key: groupKey(row.groupLabels),
        fingerprint: row.fingerprint,
        groupLabels: row.groupLabels,
        labels: row.labels,
        st: row.st,
        lastEmittedState: row.lastEmittedState,
        lastEvalAt: row.lastEvalAt,
        persistedKey: 'restored',
        historyAt: null,
        historyBase: '',
      };
      // Labels alone miss a groupBy changed while down (the stored group labels give the same
      // fingerprint), which left the old instance open beside the new ones.
      const sameIdentity = row.ruleIdentity === undefined || (entry !== undefined && row.ruleIdentity === identityOf(entry.rule));
      if (entry && entry.rule.enabled && sameIdentity && fingerprint(this.labelsFor(entry.rule, row.groupLabels)) === row.fingerprint) {
        entry.instances.set(inst.key, inst); // persistedKey 'restored': rewritten (or deleted) at its first evaluation
      } else {
        const o = orphans.get(row.ruleId) ?? { rule: entry?.rule ?? null, ruleId: row.ruleId, instances: [] };
        o.instances.push(inst);
        orphans.set(row.ruleId, o);
      }
    }
    for (const o of orphans.values()) {
      const reason = !o.rule ? 'rule removed' : o.rule.enabled ? 'rule changed' : 'rule disabled';
      this.closeInstances(o.ruleId, o.rule?.name ?? o.instances[0]?.labels.alertname ?? o.ruleId, o.instances, reason, o.rule, !o.rule);
    }
  }

  /**
   * Ends instances of a removed, disabled or re-identified rule: each open one (pending, firing,
   * nodata, error) gets a final `resolved` transition (kind rule_removed); all rows are deleted.
   * This is an operator's decision, not a data-driven resolution. `all`: these are all the rule's
   * instances (its evaluation record goes too).
   */
  private closeInstances(ruleId: string, ruleName: string, instances: Instance[], reason: string, rule: Rule | null, all = true): void {
    const store = this.store;
    if (!store || !instances.length) return;
    const now = this.clock.now();
    const history: HistoryInsert[] = [];
    for (const inst of instances) {
      if (!PROBLEM_STATES.has(inst.st.state)) continue;
      const prevState = inst.st.state;
      inst.st = { ...inst.st, state: 'resolved', baseState: 'resolved', endsAt: now, since: now, error: reason };
      history.push({
        ts: now, ruleId, ruleName, fingerprint: inst.fingerprint, labels: inst.labels, kind: 'rule_removed', fromState: prevState, toState: 'resolved',
        value: inst.st.value, flapping: inst.st.flapping, flap: null, delivery: 'pending', error: reason,
        event: (id) => {
          const event: AlertEvent = {
            fingerprint: inst.fingerprint, ruleId, ruleName, labels: { ...inst.labels },
            annotations: rule ? this.annotationsFor(rule, inst, inst.st.value) : {},
            severity: (inst.labels.severity as Severity) ?? 'warning', state: 'resolved', previousState: prevState, value: inst.st.value,
            startsAt: iso(inst.st.startsAt ?? now), endsAt: iso(now), transitionId: id, flapping: false, error: reason,
          };
          return event;
        },
      });
    }
    const events = store.transaction(() => {
      for (const inst of instances) store.removeInstance(ruleId, inst.fingerprint);
      if (all) store.forgetRuleEvaluation(ruleId);
      return store.appendHistory(history);
    });
    this.deliverer?.enqueue(events);
  }

  // ---------------------------------------------------------------------------------------------
  // Rules: API CRUD and file reload

  private defaults(): RuleDefaults {
    return { defaultIntervalMs: this.config.defaultIntervalMs, flapping: this.config.flapping, prometheusConfigured: this.sources.prometheus !== undefined };
  }

  private compileOrThrow(raw: unknown, source: string): Rule {
    const { rule, problems } = compileRule(raw, { defaults: this.defaults(), source });
    if (!rule) throw invalid(problems);
    return rule;
  }

  listRules(): RuleStatus[] {
    return [...this.rules.values()].map((e) => this.status(e));
  }

  getRule(id: string): RuleStatus | undefined {
    const e = this.rules.get(id);
    return e ? this.status(e) : undefined;
  }

  private status(e: RuleEntry): RuleStatus {
    let firing = 0;
    for (const i of e.instances.values()) if (i.st.state === 'firing') firing++;
    return {
      id: e.rule.id,
      name: e.rule.name,
      kind: e.rule.kind,
      source: e.rule.source,
      readonly: e.rule.source !== 'api',
      enabled: e.rule.enabled,
      spec: e.rule.spec,
      severity: e.rule.severity,
      health: e.health,
      lastEvaluation: e.lastEvalAt === null ? null : iso(e.lastEvalAt),
      lastDurationMs: e.lastDurationMs === null ? null : Math.round(e.lastDurationMs * 1000) / 1000,
      lastError: e.lastError,
      instances: e.instances.size,
      firing,
    };
  }

  /** Adds an API rule. Throws AlertError RULE_INVALID (details.problems) or RULE_CONFLICT. */
  createRule(raw: unknown): RuleStatus {
    const store = this.requireRunning();
    const rule = this.compileOrThrow(raw, 'api');
    if (this.rules.has(rule.id)) throw new AlertError(ALERT_ERR.RULE_CONFLICT, `a rule with id "${rule.id}" exists`, 409, { key: 'id' });
    this.refuseLabelsClash(rule);
    store.putRule(rule.id, rule.spec, this.clock.now());
    const entry = this.newEntry(rule);
    this.rules.set(rule.id, entry);
    this.schedule(entry);
    return this.status(entry);
  }

  /** Replaces an API rule. Instances survive unless the change alters their labels. */
  replaceRule(id: string, raw: unknown): RuleStatus {
    const store = this.requireRunning();
    const entry = this.rules.get(id);
    if (!entry) throw new AlertError(ALERT_ERR.RULE_NOT_FOUND, `no rule "${id}"`, 404);
    if (entry.rule.source !== 'api') throw new AlertError(ALERT_ERR.RULE_READONLY, `rule "${id}" comes from ${entry.rule.source}; change it there`, 409);
    const body = raw && typeof raw === 'object' && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : raw;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const b = body as Record<string, unknown>;
      if (b.id !== undefined && b.id !== id) throw invalid([{ key: 'id', message: `must match the id in the path ("${id}")` }]);
      b.id = id;
    }
    const rule = this.compileOrThrow(body, 'api');
    this.refuseLabelsClash(rule);
    store.putRule(id, rule.spec, this.clock.now());
    this.swapRule(entry, rule);
    return this.status(entry);
  }

  /** The rules in effect. */
  private *currentRules(): Generator<Rule> {
    for (const entry of this.rules.values()) yield entry.rule;
  }

  /** RULE_CONFLICT when another rule gives its alerts the labels this one would (rules/clash.ts). */
  private refuseLabelsClash(rule: Rule): void {
    const clash = labelsClash(rule, this.currentRules());
    if (clash) throw new AlertError(ALERT_ERR.RULE_CONFLICT, labelsClashMessage(rule, clash), 409, { key: 'name', rule: clash.id });
  }

  private swapRule(entry: RuleEntry, rule: Rule): void {
    const old = entry.rule;
    if (entry.timer !== null) this.clock.clearTimeout(entry.timer);
    entry.timer = null;
    if (identityOf(old) !== identityOf(rule) || !rule.enabled) {
      this.closeInstances(old.id, old.name, [...entry.instances.values()], rule.enabled ? 'rule changed' : 'rule disabled', old);
      entry.instances.clear();
    }
    entry.rule = rule;
    entry.health = 'unknown';
    entry.lastError = null;
    this.schedule(entry);
  }

  /** Deletes an API rule; its open alerts are resolved (kind rule_removed). */
  deleteRule(id: string): void {
    const store = this.requireRunning();
    const entry = this.rules.get(id);
    if (!entry) throw new AlertError(ALERT_ERR.RULE_NOT_FOUND, `no rule "${id}"`, 404);
    if (entry.rule.source !== 'api') throw new AlertError(ALERT_ERR.RULE_READONLY, `rule "${id}" comes from ${entry.rule.source}; remove it there`, 409);
    this.removeEntry(entry, 'rule removed');
    store.deleteRule(id);
  }

  private removeEntry(entry: RuleEntry, reason: string): void {
    if (entry.timer !== null) this.clock.clearTimeout(entry.timer);
    entry.timer = null;
    this.rules.delete(entry.rule.id);
    this.closeInstances(entry.rule.id, entry.rule.name, [...entry.instances.values()], reason, entry.rule);
    entry.instances.clear();
  }

  private warnAbout(ruleFileWarnings: string[]): void {
    for (const w of ruleFileWarnings) this.logger.warn(`alerting.ruleFiles: ${w}`);
  }

  /**
   * Re-reads the rule files (e.g. on SIGHUP). All or nothing: with any problem, nothing changes and
   * the problems are returned. Removed file rules resolve their open alerts. The rules in effect
   * after it are those a restart would have: a file rule takes over from an API rule with its id or
   * its alert labels (the API rule's alerts resolve; it stays stored and comes back when the file
   * rule goes), as at start; a clash with a rule given in code is a problem, as at start.
   * `ruleFiles`, the list of a configuration read again, replaces the one in effect when it succeeds.
   */
  reloadRuleFiles(ruleFiles?: string[]): { ok: boolean; problems: string[] } {
    const store = this.requireRunning();
    const files = ruleFiles ?? this.ruleFiles ?? this.config.ruleFiles;
    const result = loadRuleFiles(files, { defaults: this.defaults(), ...(this.options.baseDir ? { baseDir: this.options.baseDir } : {}) });
    this.warnAbout(result.warnings);
    const problems = [...result.problems];
    const codeRules = [...this.currentRules()].filter((r) => r.source === 'code');
    for (const r of result.rules) {
      if (codeRules.some((c) => c.id === r.id)) problems.push(`${r.source.slice(5)}: rule id "${r.id}" is already used by a code rule`);
      const clash = labelsClash(r, codeRules);
      if (clash) problems.push(`${r.source.slice(5)}: rule "${r.id}": ${labelsClashMessage(r, clash)} (a ${clash.source} rule)`);
    }
    if (problems.length) return { ok: false, problems };
    const next = new Map(result.rules.map((r) => [r.id, r]));
    for (const entry of [...this.rules.values()]) {
      const r = next.get(entry.rule.id);
      if (entry.rule.source === 'api') {
        const clash = r ? undefined : labelsClash(entry.rule, result.rules);
        if (r || clash) {
          this.logger.warn(`API rule "${entry.rule.id}" is shadowed by ${r ? 'a rule file rule with the same id' : `rule "${clash!.id}" of a rule file: ${labelsClashMessage(entry.rule, clash!)}`}; it is not evaluated`);
          this.removeEntry(entry, 'rule shadowed by a rule file');
        }
        continue;
      }
      if (!entry.rule.source.startsWith('file:')) continue;
      if (!r) this.removeEntry(entry, 'rule removed');
      else if (JSON.stringify(r.spec) !== JSON.stringify(entry.rule.spec) || r.source !== entry.rule.source) this.swapRule(entry, r);
    }
    for (const r of result.rules) {
      if (this.rules.has(r.id)) continue;
      const entry = this.newEntry(r);
      this.rules.set(r.id, entry);
      this.schedule(entry);
    }
    for (const entry of this.admitApiRules(store)) this.schedule(entry);
    this.ruleFiles = [...files];
    return { ok: true, problems: [] };
  }

  // ---------------------------------------------------------------------------------------------
  // Alerts and history (read side of the API)

  private view(entry: RuleEntry, inst: Instance): AlertView {
    const st = inst.st;
    return {
      id: inst.fingerprint,
      fingerprint: inst.fingerprint,
      ruleId: entry.rule.id,
      ruleName: entry.rule.name,
      state: st.state,
      value: st.value,
      labels: inst.labels,
      annotations: this.annotationsFor(entry.rule, inst, st.value),
      severity: entry.rule.severity,
      since: iso(st.since),
      startsAt: st.startsAt === null ? null : iso(st.startsAt),
      endsAt: st.endsAt === null ? null : iso(st.endsAt),
      flapping: st.flapping,
      flapPercent: st.flapPercent,
      lastEvaluation: inst.lastEvalAt === null ? null : iso(inst.lastEvalAt),
      error: st.error,
    };
  }

  /** Alert instances, by default the open ones (pending, firing, nodata, error). */
  alerts(filter: { states?: AlertState[]; rule?: string } = {}): AlertView[] {
    const states = new Set(filter.states?.length ? filter.states : PROBLEM_STATES);
    const out: AlertView[] = [];
    for (const entry of this.rules.values()) {
      if (filter.rule && entry.rule.id !== filter.rule) continue;
      for (const inst of entry.instances.values()) if (states.has(inst.st.state)) out.push(this.view(entry, inst));
    }
    return out.sort((a, b) => (a.since < b.since ? 1 : a.since > b.since ? -1 : a.fingerprint.localeCompare(b.fingerprint)));
  }

  getAlert(fp: string): AlertView | undefined {
    for (const entry of this.rules.values()) for (const inst of entry.instances.values()) if (inst.fingerprint === fp) return this.view(entry, inst);
    return undefined;
  }

  history(query: HistoryQuery): HistoryRow[] {
    return this.requireRunning().history(query);
  }

  stats(): EngineStats {
    let instances = 0;
    const rulesByHealth: EngineStats['rulesByHealth'] = { unknown: 0, ok: 0, nodata: 0, error: 0 };
    // On timers each rule runs on its own interval: a round is every rule's last evaluation, and
    // it took as long as the slowest of them (evaluateAll measures its round itself).
    let slowest: number | null = null;
    for (const e of this.rules.values()) {
      instances += e.instances.size;
      rulesByHealth[e.health]++;
      if (e.lastDurationMs !== null) slowest = Math.max(slowest ?? 0, e.lastDurationMs);
    }
    return {
      rules: this.rules.size,
      instances,
      evaluations: this.counters.evaluations,
      evaluationFailures: this.counters.failures,
      skippedEvaluations: this.counters.skipped,
      lastRoundMs: this.counters.lastRoundMs ?? slowest,
      deliveries: this.deliverer?.delivered ?? 0,
      deliveryFailures: this.deliverer?.failures ?? 0,
      deliveryBacklog: this.deliverer?.backlog ?? 0,
      rulesByHealth,
    };
  }

  /** Deletes history older than `history.maxAge`; runs at start and then hourly. */
  private prune(): void {
    if (this.lifecycle !== 'running' || !this.store) return;
    try {
      this.store.pruneHistory(this.clock.now() - this.config.historyMaxAgeMs);
    } catch (err) {
      this.logger.warn('pruning alert history failed', { error: (err as Error).message });
    }
    if (this.autoEvaluate) this.pruneTimer = this.clock.setTimeout(() => this.prune(), 3_600_000);
  }
}

function invalid(problems: Problem[]): AlertError {
  return new AlertError(ALERT_ERR.RULE_INVALID, `invalid rule: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`, 400, { problems });
}
