// The notification pipeline: one internal alert stream (rules transitions + Alertmanager API v2
// alerts) → route → group → mute (silences, inhibition, mute timings) → dedup →
// receiver or escalation chain → durable outbox → Slack / email / SMS / webhook.
// Everything that decides a notification commits in one SQLite transaction with the outbox rows it
// produced; the outbox then delivers them. The clock is injected; nothing here reads process.env.
import type { ProxyEnvironment } from './proxy.ts';
import { createHash, randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Registry } from 'prom-client';
import { Acks, type Ack } from './ack/acks.ts';
import { signAckToken, verifyAckToken, type AckClaims } from './ack/token.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { commonPairs, fromAlertEvent, parsePostableAlert, type AlertInputError, type NotifyAlert } from './dispatch/alert.ts';
import { AlertStore, type AlertChange } from './dispatch/alert-store.ts';
import { NotificationLog } from './dispatch/dedup.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { parseDuration } from './dispatch/duration.ts';
import { NotifyStage, type SendRequest } from './dispatch/notify-stage.ts';
import { Route, type RouteConfig } from './dispatch/route.ts';
import { migrateRouteKeys } from './dispatch/route-keys.ts';
import { ALERT_ERR, AlertError } from './errors.ts';
import { ESCALATION_LOG_RECEIVER, Escalations, type EscalationState } from './escalation/escalation.ts';
import { Inhibitor } from './inhibit/inhibitor.ts';
import { MuteTimings } from './inhibit/mute-timings.ts';
import { composeMuters } from './inhibit/muter.ts';
import { buildNotifiers, type BuiltNotifiers } from './notify/factory.ts';
import { silentLogger, type Notification, type NotificationAlert, type Notifier, type NotifierLogger } from './notify/notifier.ts';
import type { NotifyConfig } from './notify-config.ts';
import { inTransaction, kvGet, kvSet, openNotifyDatabase } from './notify-db.ts';
import { createNotifyMetrics, type NotifyMetrics } from './notify-metrics.ts';
import { Outbox, type OutboxMemory, type OutboxRecord, type OutboxStatus } from './outbox/outbox.ts';
import { Silences } from './silence/silences.ts';
import type { AlertEvent, AlertSink } from './types.ts';
import { Incidents, Timeline, type Incident, type TimelineEntry } from './timeline/timeline.ts';

export interface NotificationPipelineDeps {
  /** The validated `alerting` slice (parseNotifyConfig). */
  config: NotifyConfig;
  /** Folder of alerting.db (the collector's store.dataDir). */
  dataDir: string;
  clock?: Clock;
  /** The collector's prom-client registry (/metrics). */
  registry?: Registry;
  logger?: NotifierLogger;
  /** [0, 1) source for backoff jitter (tests pass a fixed one). */
  random?: () => number;
  /** Base URL of links when `ack.baseUrl` is unset: the collector's HTTP listener, read at send time (default http://127.0.0.1:4318). */
  listenerUrl?: () => string;
  /** The config file's folder: relative paths of the channels' `tls:` files are from it (default: the working directory). */
  configDir?: string;
  /** The environment's proxy variables, for the channels with proxyFromEnvironment (read with the configuration). */
  proxyEnvironment?: ProxyEnvironment;
  /** Replaces the notifiers built from config.receivers (tests). */
  notifiers?: BuiltNotifiers;
  /** What the pipeline this one replaces hands on (release()). */
  handover?: PipelineHandover;
}

/** From a pipeline replaced by a reload to its successor. */
export interface PipelineHandover {
  /** Its sends in flight, by integration: not sent again meanwhile. */
  sending: ReadonlyMap<string, Promise<unknown>>;
  /** Its outbox's breakers and rate limits, still in effect. */
  outbox?: OutboxMemory;
}

export interface PostAlertsResult {
  accepted: number;
  errors: AlertInputError[];
}

/** Alerts resolved less than this ago are put back into their groups at start, so a resolved notice decided before a crash is not lost. */
const RELOAD_RESOLVED_MS = 24 * 3_600_000;

/**
 * When a group rebuilt at start last notified its route's target, if that episode is still open
 * (alerts told firing): the receiver's notification log entry, or for a chain the escalation's,
 * when the group's chain is still the route's. Undefined when the target changed with a reload:
 * the new receiver or chain has not been told, and is at the group's next flush, at once.
 */
function lastFlush(db: DatabaseSync, nflog: NotificationLog, groupKey: string, route: Route): number | undefined {
  const { receiver, escalation } = route.opts;
  if (escalation !== undefined) {
    const row = db.prepare('SELECT body FROM notify_escalations WHERE group_key = ?').get(groupKey) as { body: string } | undefined;
    if (!row || (JSON.parse(row.body) as EscalationState).chain !== escalation) return undefined;
  }
  const target = escalation !== undefined ? ESCALATION_LOG_RECEIVER : receiver;
  const entry = target === undefined ? undefined : nflog.get(groupKey, target);
  return entry && entry.firing.length > 0 ? entry.timestamp : undefined;
}

const GC_INTERVAL_MS = 3_600_000;
const LOG_LOOKBACK_MS = 15 * 60_000;
const LOG_LOOKAHEAD_MS = 5 * 60_000;

interface Parts {
  db: DatabaseSync;
  store: AlertStore;
  nflog: NotificationLog;
  acks: Acks;
  silences: Silences;
  inhibitor: Inhibitor;
  timings: MuteTimings;
  incidents: Incidents;
  timeline: Timeline;
  outbox: Outbox;
  dispatcher: Dispatcher;
  stage: NotifyStage;
  escalations: Escalations;
  secret: string;
}

export class NotificationPipeline implements AlertSink {
  readonly #config: NotifyConfig;
  readonly #dataDir: string;
  readonly #clock: Clock;
  readonly #logger: NotifierLogger;
  readonly #random: () => number;
  readonly metrics: NotifyMetrics;
  readonly #built: BuiltNotifiers;
  readonly #receiverLocale: Map<string, string | undefined>;
  /** Base URL of ack links, and of console links unless consoleBaseUrl is set. */
  readonly #baseUrl: () => string;
  readonly #handover: PipelineHandover | undefined;
  #parts: Parts | undefined;
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #gcTimer: TimerHandle | undefined;

  constructor(deps: NotificationPipelineDeps) {
    this.#config = deps.config;
    this.#dataDir = deps.dataDir;
    this.#clock = deps.clock ?? systemClock;
    this.#logger = deps.logger ?? silentLogger;
    this.#random = deps.random ?? Math.random;
    this.#handover = deps.handover;
    this.metrics = createNotifyMetrics(deps.registry);
    this.#built = deps.notifiers ?? buildNotifiers(deps.config.receivers, { logger: this.#logger, now: () => this.#clock.now(), ...(deps.configDir ? { baseDir: deps.configDir } : {}), ...(deps.proxyEnvironment ? { proxyEnvironment: deps.proxyEnvironment } : {}) });
    this.#receiverLocale = new Map(deps.config.receivers.map((r) => [r.name, r.locale]));
    const configured = deps.config.ack.baseUrl;
    this.#baseUrl = configured !== undefined ? () => configured : (deps.listenerUrl ?? (() => 'http://127.0.0.1:4318'));
  }

  /** Opens alerting.db, restores alerts, groups, escalations and the outbox, starts the notifiers. Safe twice. */
  start(): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new AlertError(ALERT_ERR.PIPELINE_STOPPED, 'the notification pipeline was shut down', 503));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    const clock = this.#clock;
    const config = this.#config;
    const db = openNotifyDatabase(this.#dataDir);
    const route = new Route((config.route ?? {}) as RouteConfig);
    migrateRouteKeys(db, route); // before anything reads state kept under group keys
    const now = clock.now();
    let secret = config.ack.secret ?? kvGet(db, 'ack_secret');
    if (!secret) {
      secret = randomBytes(32).toString('base64url');
      kvSet(db, 'ack_secret', secret);
    }
    const store = new AlertStore(db, clock);
    const nflog = new NotificationLog(db);
    const acks = new Acks(db);
    const silences = new Silences(db, clock);
    const timings = new MuteTimings(config.muteTimings.map((t) => ({ name: t.name, cron: t.cron, timezone: t.timezone, durationMs: t.duration !== undefined ? parseDuration(t.duration) : undefined })));
    const incidents = new Incidents(db, parseDuration(config.incidentWindow));
    const timeline = new Timeline(db, clock, incidents);
    const outbox = new Outbox({
      db,
      clock,
      notifiers: this.#built.notifiers,
      metrics: this.metrics,
      timeline,
      logger: this.#logger,
      random: this.#random,
      obsolete: (n, fps) => this.#obsolete(n, fps),
      ...(this.#handover ? { sending: this.#handover.sending } : {}),
      ...(this.#handover?.outbox ? { memory: this.#handover.outbox } : {}),
      policy: {
        maxAttempts: config.delivery.maxAttempts,
        maxAgeMs: parseDuration(config.delivery.maxAge),
        backoffBaseMs: parseDuration(config.delivery.backoffBase),
        backoffCapMs: parseDuration(config.delivery.backoffCap),
        breakerFailures: config.delivery.breakerFailures,
        breakerCooldownMs: parseDuration(config.delivery.breakerCooldown),
      },
    });
    const inhibitor = new Inhibitor(config.inhibitRules, () => store.all());
    const muter = composeMuters(silences, inhibitor, timings);
    const stage = new NotifyStage({
      muter,
      nflog,
      acks,
      timeline,
      send: (req, at) => this.#send(req, at),
      sendResolved: (receiver) => (this.#built.byReceiver.get(receiver) ?? []).some((id) => this.#built.notifiers.get(id)?.sendResolved),
    });
    const run = (fn: () => void) => {
      inTransaction(db, fn);
      outbox.kick();
    };
    const onError = (err: unknown) => this.#logger.error({ err: (err as Error)?.message }, 'notification pipeline error');
    const dispatcher = new Dispatcher({ clock, route, handler: stage, run, onError: (err) => onError(err), lastFlush: (key, r) => lastFlush(db, nflog, key, r) });
    const escalations = new Escalations({
      db,
      clock,
      chains: config.escalations.map((e) => ({ name: e.name, repeat: e.repeat, steps: e.steps.map((s) => ({ notify: s.notify, waitMs: parseDuration(s.wait) })) })),
      nflog,
      acks,
      metrics: this.metrics,
      timeline,
      group: (key) => dispatcher.group(key),
      groupsOf: (fp) => dispatcher.groupsOf(fp),
      visible: (g, at) => stage.visible(g, at),
      send: (req, at) => this.#send(req, at),
      logger: this.#logger,
      run,
      onError,
    });
    stage.setEscalations(escalations);
    this.#parts = { db, store, nflog, acks, silences, inhibitor, timings, incidents, timeline, outbox, dispatcher, stage, escalations, secret };
    store.onExpire = (change) => {
      try {
        run(() => this.#handleChange(change));
      } catch (err) {
        onError(err);
      }
    };

    // Restore: alerts back into their groups (groups flush at once when groupWait is long past; the
    // persisted notification log decides that nothing is sent twice), then running escalations.
    store.load();
    for (const a of [...store.all()]) {
      if (a.status === 'firing' || a.updatedAt >= now - RELOAD_RESOLVED_MS) dispatcher.insert(a, true);
    }
    escalations.restore();
    this.#gc(now); // after the groups are back: the notification log and escalations keep the entries of live groups
    await Promise.all([...this.#built.notifiers.values()].map((n) => n.start()));
    outbox.start();
    this.#gcTimer = clock.setTimeout(() => this.#gcTick(), GC_INTERVAL_MS);
    this.#state = 'started';
  }

  #gcTick(): void {
    this.#gcTimer = undefined;
    if (this.#state !== 'started') return;
    try {
      this.#gc(this.#clock.now());
    } catch (err) {
      this.#logger.error({ err: (err as Error)?.message }, 'alerting gc failed');
    }
    this.#gcTimer = this.#clock.setTimeout(() => this.#gcTick(), GC_INTERVAL_MS);
  }

  #gc(now: number): void {
    const p = this.#parts;
    if (!p) return;
    const live = (groupKey: string) => p.dispatcher.group(groupKey) !== undefined;
    p.nflog.gc(now, live);
    p.escalations.gc(now, live);
    p.store.gc(now);
    p.outbox.gc(now);
    p.timeline.gc(now);
    p.incidents.gc(now);
    p.silences.gc(now);
  }

  /** Stops timers and the outbox (waiting for sends in flight), shuts notifiers down, closes the db. Safe twice and before start. */
  shutdown(): Promise<void> {
    this.#stopping ??= (async () => {
      const p = await this.#halt();
      if (p) await p.outbox.shutdown();
      await this.#close(p);
    })();
    return this.#stopping;
  }

  /**
   * For a pipeline replaced by a reload (notify-swap.ts): stops it as shutdown() does but without
   * waiting for the sends in flight, which a slow backend (an SMTP server, a webhook's timeout) can
   * hold for long while the API answers 503 and transitions wait. Resolves with them, by
   * integration, for the next pipeline (`handover`), with the outbox's breakers and rate limits;
   * they finish here, writing their outcome, and the notifiers and the db close after them
   * (shutdown() waits for that).
   */
  async release(): Promise<PipelineHandover> {
    if (this.#stopping) {
      await this.#stopping;
      return { sending: new Map() };
    }
    let sending: ReadonlyMap<string, Promise<unknown>> = new Map();
    let outbox: OutboxMemory | undefined;
    let halted!: () => void;
    const detached = new Promise<void>((resolve) => (halted = resolve));
    this.#stopping = (async () => {
      const p = await this.#halt();
      if (p) {
        sending = p.outbox.detach();
        outbox = p.outbox.memory();
      }
      halted();
      await Promise.allSettled(sending.values());
      await this.#close(p);
    })();
    await detached;
    return { sending, ...(outbox ? { outbox } : {}) };
  }

  /** Stops taking alerts and every timer; the parts, for closing them. */
  async #halt(): Promise<Parts | undefined> {
    const wasStarting = this.#starting;
    this.#state = 'stopped';
    if (wasStarting) await wasStarting.catch(() => undefined);
    const p = this.#parts;
    if (this.#gcTimer !== undefined) this.#clock.clearTimeout(this.#gcTimer);
    if (p) {
      p.dispatcher.stop();
      p.escalations.shutdown();
      p.store.stop();
    }
    return p;
  }

  async #close(p: Parts | undefined): Promise<void> {
    p?.timings.shutdown();
    await Promise.allSettled([...this.#built.notifiers.values()].map((n) => n.shutdown()));
    if (p) p.db.close();
    this.#parts = undefined;
  }

  #p(): Parts {
    if (this.#state !== 'started' || !this.#parts) {
      throw new AlertError(ALERT_ERR.PIPELINE_STOPPED, `the notification pipeline is ${this.#state === 'stopped' ? 'shut down' : 'not started'}`, 503);
    }
    return this.#parts;
  }

  get started(): boolean {
    return this.#state === 'started';
  }

  /**
   * An escalation step or reminder still waiting for its backend (retries, Retry-After, an open
   * breaker) is canceled once every alert it pages about is acknowledged: delivered after the ack,
   * it woke the on-call for an alert someone had taken. So is a step whose paging a reload or
   * restart ended — its chain removed or no longer the route's, or its receiver no longer in the
   * chain (a broken SMS step removed) — which would page, hours later, people the configuration
   * no longer names. Updates and resolved notices still go.
   */
  #obsolete(n: Notification, fps: readonly string[]): string | undefined {
    const p = this.#parts;
    if (p && n.reason === 'escalation' && n.escalation) {
      const chain = this.#config.escalations.find((e) => e.name === n.escalation?.chain);
      // A group gone is left alone: its alerts resolved (the resolved notice follows), or were regrouped.
      const route = p.dispatcher.group(n.groupKey)?.route;
      if (!chain || (route && route.opts.escalation !== chain.name) || !chain.steps.some((s) => s.notify.includes(n.receiver))) {
        return `escalation "${n.escalation.chain}" no longer pages ${n.receiver} for this group since the configuration changed, before it could be delivered`;
      }
    }
    if (!p || (n.reason !== 'escalation' && n.reason !== 'reminder') || fps.length === 0) return undefined;
    const by = new Set<string>();
    for (const fp of fps) {
      const alert = p.store.get(fp);
      const ack = alert && p.acks.of(alert);
      if (!ack) return undefined;
      by.add(ack.by);
    }
    return `acknowledged by ${[...by].join(', ')} before it could be delivered`;
  }

  // ---------------------------------------------------------------- input

  /**
   * A transition from the rules engine. `pending` is never notified; `nodata`/`error` are active
   * alerts (never "resolved"); a transitionId not newer than the last one seen is ignored.
   * Throws PERISCOPE_ERR_ALERT_PIPELINE_STOPPED when not running (the engine must keep the event).
   */
  async onTransition(event: AlertEvent): Promise<void> {
    const p = this.#p();
    this.metrics.alertsReceived.inc({ source: 'rules' });
    const alert = fromAlertEvent(event, this.#clock.now());
    if (!alert) return;
    inTransaction(p.db, () => {
      const change = p.store.apply(alert);
      if (change) this.#handleChange(change);
    });
    p.outbox.kick();
  }

  /**
   * Alerts in Alertmanager's API v2 format (POST /api/v2/alerts). Valid alerts are taken even when
   * others in the batch are invalid; the invalid ones are reported by index.
   */
  postAlerts(body: unknown): PostAlertsResult {
    const p = this.#p();
    if (!Array.isArray(body)) throw new AlertError(ALERT_ERR.BAD_BODY, 'expected a JSON array of alerts', 400);
    const now = this.#clock.now();
    const resolveTimeoutMs = parseDuration(this.#config.resolveTimeout);
    const errors: AlertInputError[] = [];
    const parsed: NonNullable<ReturnType<typeof parsePostableAlert>['alert']>[] = [];
    body.forEach((raw, index) => {
      const r = parsePostableAlert(raw, now, resolveTimeoutMs);
      if (r.alert) parsed.push(r.alert);
      else errors.push({ index, reason: r.errors.join('; ') });
    });
    this.metrics.alertsReceived.inc({ source: 'api' }, parsed.length);
    inTransaction(p.db, () => {
      for (const a of parsed) {
        const change = p.store.apply(a);
        if (change) this.#handleChange(change);
      }
    });
    p.outbox.kick();
    return { accepted: parsed.length, errors };
  }

  #handleChange(change: AlertChange): void {
    const p = this.#parts as Parts;
    const now = this.#clock.now();
    const a = change.alert;
    const prev = change.previous;
    const stateChanged = !prev || prev.state !== a.state || prev.flapping !== a.flapping;
    if (change.kind === 'new' || change.kind === 'fired') {
      const stale = p.acks.get(a.fingerprint);
      if (stale && stale.episode !== a.startsAt) {
        p.acks.end(a.fingerprint);
        p.timeline.add(a.fingerprint, 'ack_ended', { by: stale.by, reason: 'new episode' }, now);
      }
      const inc = p.incidents.onFiring(a, now);
      p.timeline.add(a.fingerprint, 'received', { status: a.status, state: a.state, transitionId: a.transitionId, source: a.source, value: a.value, flapping: a.flapping }, now);
      if (inc.joined) p.timeline.add(a.fingerprint, inc.opened ? 'incident_opened' : 'incident_joined', { incident: inc.id }, now);
    } else if (change.kind === 'resolved') {
      p.timeline.add(a.fingerprint, 'resolved', { transitionId: a.transitionId, source: a.source, endsAt: a.endsAt === null ? null : new Date(a.endsAt).toISOString() }, now);
      const ack = p.acks.end(a.fingerprint);
      if (ack) p.timeline.add(a.fingerprint, 'ack_ended', { by: ack.by, reason: 'resolved' }, now);
      const inc = p.incidents.onResolved(a, now);
      if (inc?.closed) p.timeline.add(a.fingerprint, 'incident_resolved', { incident: inc.id }, now);
    } else if (stateChanged) {
      p.timeline.add(a.fingerprint, 'received', { status: a.status, state: a.state, transitionId: a.transitionId, source: a.source, value: a.value, flapping: a.flapping }, now);
    }
    p.dispatcher.insert(a);
  }

  // ---------------------------------------------------------------- output

  /** Turns a decision into one outbox row per integration of the receiver. */
  #send(req: SendRequest, now: number): void {
    const p = this.#parts as Parts;
    const ids = this.#built.byReceiver.get(req.receiver) ?? [];
    const threadId = createHash('sha256').update(`${req.group.key}\u0000${req.episode}`).digest('hex').slice(0, 32);
    const sorted = [...req.alerts].sort((x, y) => (x.status === y.status ? x.startsAt - y.startsAt || x.fingerprint.localeCompare(y.fingerprint) : x.status === 'firing' ? -1 : 1));
    for (const id of ids) {
      const notifier = this.#built.notifiers.get(id);
      if (!notifier) continue;
      if (req.resolvedOnly && !notifier.sendResolved) continue;
      const candidates = notifier.sendResolved ? sorted : sorted.filter((a) => a.status === 'firing');
      if (candidates.length === 0) continue;
      const shown = notifier.maxAlerts > 0 ? candidates.slice(0, notifier.maxAlerts) : candidates;
      const idemKey = createHash('sha256')
        .update([req.group.key, req.receiver, id, req.stepTag, String(req.episode), ...candidates.map((a) => `${a.fingerprint}:${a.transitionId}:${a.status}`).sort()].join('\n'))
        .digest('hex');
      const notification = this.#notification(req, notifier, shown, candidates.length - shown.length, idemKey, threadId, now);
      p.outbox.enqueue({
        idemKey,
        integration: id,
        channel: notifier.channel,
        receiver: req.receiver,
        groupKey: req.group.key,
        threadId,
        step: req.stepTag,
        fingerprints: candidates.map((a) => a.fingerprint),
        payload: notification,
      });
    }
  }

  #notification(req: SendRequest, notifier: Notifier, alerts: NotifyAlert[], truncated: number, id: string, threadId: string, now: number): Notification {
    const p = this.#parts as Parts;
    const locale = notifier.locale ?? req.group.route.opts.locale ?? this.#receiverLocale.get(req.receiver) ?? this.#config.locale;
    return {
      id,
      receiver: req.receiver,
      groupKey: req.group.key,
      status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
      groupLabels: { ...req.group.labels },
      commonLabels: commonPairs(alerts.map((a) => a.labels)),
      commonAnnotations: commonPairs(alerts.map((a) => a.annotations)),
      alerts: alerts.map((a) => this.#alertView(a, p, now)),
      truncatedAlerts: truncated,
      externalURL: this.#consoleBaseUrl(),
      locale,
      reason: req.reason,
      ...(req.escalation ? { escalation: req.escalation } : {}),
      thread: { id: threadId, first: !p.outbox.hasThread(notifier.id, threadId) },
      createdAt: new Date(now).toISOString(),
    };
  }

  #alertView(a: NotifyAlert, p: Parts, now: number): NotificationAlert {
    const ack = p.acks.of(a);
    const iso = (ms: number) => new Date(ms).toISOString();
    const service = a.labels.service ?? a.labels.app ?? a.labels.appName ?? a.labels.job;
    const logs = new URLSearchParams({
      ...(service ? { service } : {}),
      start: iso(a.startsAt - LOG_LOOKBACK_MS),
      end: iso((a.status === 'resolved' && a.endsAt !== null ? a.endsAt : now) + LOG_LOOKAHEAD_MS),
    });
    return {
      fingerprint: a.fingerprint,
      status: a.status,
      state: a.state,
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      severity: a.severity,
      value: a.value,
      startsAt: iso(a.startsAt),
      endsAt: a.status === 'resolved' && a.endsAt !== null ? iso(a.endsAt) : null,
      ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
      ...(a.error ? { error: a.error } : {}),
      links: {
        ...(a.status === 'firing' ? { ack: this.#ackLink(p, a, now) } : {}),
        // Console pages (collector/src/console/static/app.js): the alert's page with its silence
        // form open, and the log search over the alert's time.
        silence: `${this.#consoleBaseUrl()}/#/alerts/${encodeURIComponent(a.fingerprint)}?silence`,
        logs: `${this.#consoleBaseUrl()}/#/search?${logs}`,
      },
      ...(ack ? { ack: { by: ack.by, at: ack.at, ...(ack.comment ? { comment: ack.comment } : {}) } } : {}),
    };
  }

  /** A signed link that acknowledges this alert's current episode until ack.linkTtl from now. */
  ackLink(alert: NotifyAlert, now = this.#clock.now()): string {
    return this.#ackLink(this.#p(), alert, now);
  }

  #consoleBaseUrl(): string {
    return (this.#config.consoleBaseUrl ?? this.#baseUrl()).replace(/\/+$/, '');
  }

  #ackLink(p: Parts, alert: NotifyAlert, now: number): string {
    const token = signAckToken({ fingerprint: alert.fingerprint, episode: alert.startsAt, expiresAt: now + parseDuration(this.#config.ack.linkTtl) }, p.secret);
    return `${this.#baseUrl().replace(/\/+$/, '')}/ack/${token}`;
  }

  // ---------------------------------------------------------------- acknowledgement

  /**
   * Acknowledges the alert's current firing episode: its escalation stops (the chain of a group stops
   * when all its firing alerts are acknowledged). Acknowledging twice returns the first ack.
   */
  ack(fingerprint: string, input: { by?: unknown; comment?: unknown }, via: 'api' | 'link' = 'api', episode?: number): Ack {
    const p = this.#p();
    if (typeof input.by !== 'string' || input.by.trim() === '' || input.by.length > 200) {
      throw new AlertError(ALERT_ERR.ACK_INVALID, 'by: required, a name of 1–200 characters', 400, { key: 'by' });
    }
    if (input.comment !== undefined && input.comment !== null && (typeof input.comment !== 'string' || input.comment.length > 2000)) {
      throw new AlertError(ALERT_ERR.ACK_INVALID, 'comment: a string of at most 2000 characters', 400, { key: 'comment' });
    }
    const alert = p.store.get(fingerprint);
    if (!alert) throw new AlertError(ALERT_ERR.ALERT_NOT_FOUND, `alert ${fingerprint} not found`, 404, { fingerprint });
    if (alert.status !== 'firing' || (episode !== undefined && episode !== alert.startsAt)) {
      throw new AlertError(ALERT_ERR.ALERT_NOT_ACTIVE, `alert ${fingerprint} is not firing${episode !== undefined ? ' in the episode of this link' : ''}`, 409, { fingerprint });
    }
    const existing = p.acks.of(alert);
    if (existing) return existing;
    const now = this.#clock.now();
    const ack: Ack = { fingerprint, episode: alert.startsAt, by: input.by.trim(), ...(typeof input.comment === 'string' && input.comment !== '' ? { comment: input.comment } : {}), at: new Date(now).toISOString(), via };
    inTransaction(p.db, () => {
      p.acks.set(ack);
      p.timeline.add(fingerprint, 'acknowledged', { by: ack.by, comment: ack.comment ?? null, via }, now);
      p.escalations.onAck(fingerprint, now);
    });
    this.metrics.acks.inc({ via });
    p.outbox.kick();
    return ack;
  }

  /** Checks an ack link: the claims and the alert, or an AlertError (invalid 400, expired 410, not active 409). */
  verifyAckToken(token: string): { claims: AckClaims; alert: NotifyAlert } {
    const p = this.#p();
    const v = verifyAckToken(token, p.secret, this.#clock.now());
    if (!v.ok) {
      if (v.reason === 'expired') throw new AlertError(ALERT_ERR.ACK_TOKEN_EXPIRED, 'the acknowledgement link has expired', 410);
      throw new AlertError(ALERT_ERR.ACK_TOKEN_INVALID, 'the acknowledgement link is not valid', 400);
    }
    const alert = p.store.get(v.claims.fingerprint);
    if (!alert || !this.#linkStillFiring(p, alert, v.claims.episode)) {
      throw new AlertError(ALERT_ERR.ALERT_NOT_ACTIVE, 'the alert of this link is no longer firing', 409, { fingerprint: v.claims.fingerprint });
    }
    return { claims: v.claims, alert };
  }

  /**
   * Whether a link of the alert's `episode` stands for the alert as it fires now: its own episode,
   * or an earlier one whose resolution nobody was told. An alert that resolves and fires again
   * between two group flushes starts a new episode the receivers never hear of (as in
   * Alertmanager, the flush sees it firing as before, and the chain goes on): the last message,
   * and its link, still say it is firing, and refusing that link with "no longer firing" while the
   * chain escalates to SMS told the on-call the alert was over. The notification log tells: it
   * still lists the alert as firing in a sequence (episode) that began no later than the link's.
   */
  #linkStillFiring(p: Parts, alert: NotifyAlert, episode: number): boolean {
    if (alert.status !== 'firing' || episode > alert.startsAt) return false;
    if (episode === alert.startsAt) return true;
    for (const group of p.dispatcher.groupsOf(alert.fingerprint)) {
      const receiver = group.route.opts.escalation !== undefined ? ESCALATION_LOG_RECEIVER : group.route.opts.receiver;
      const entry = receiver === undefined ? undefined : p.nflog.get(group.key, receiver);
      if (entry && entry.firing.includes(alert.fingerprint) && entry.episode <= episode) return true;
    }
    return false;
  }

  ackWithToken(token: string, input: { by?: unknown; comment?: unknown }): Ack {
    const { claims, alert } = this.verifyAckToken(token);
    return this.ack(claims.fingerprint, input, 'link', alert.startsAt);
  }

  /** The acknowledgement of the alert's current episode, if any (for GET /api/v1/alerts). */
  ackFor(fingerprint: string): Ack | undefined {
    const p = this.#p();
    const alert = p.store.get(fingerprint);
    return alert ? p.acks.of(alert) : undefined;
  }

  // ---------------------------------------------------------------- queries

  /** Every notification-side event of the alert, oldest first (for the rules side's timeline API). */
  timelineFor(fingerprint: string, limit?: number): TimelineEntry[] {
    return this.#p().timeline.forFingerprint(fingerprint, limit);
  }

  alert(fingerprint: string): NotifyAlert | undefined {
    return this.#p().store.get(fingerprint);
  }

  alerts(): NotifyAlert[] {
    return [...this.#p().store.all()];
  }

  /**
   * Alertmanager's alert status (`silencedBy`, `inhibitedBy`) of the alert with these labels now:
   * the active silences that match them, and the inhibition that mutes it (the first found). A rule
   * alert not given to the pipeline yet (pending) gets its silences too.
   */
  muteStatus(fingerprint: string, labels: Record<string, string>): { silencedBy: string[]; inhibitedBy: string[] } {
    const p = this.#p();
    const now = this.#clock.now();
    const alert = p.store.get(fingerprint) ?? ({ fingerprint, labels, status: 'firing' } as NotifyAlert);
    const inhibition = p.inhibitor.mutes(alert, { now });
    return { silencedBy: p.silences.silencedBy(labels, now), inhibitedBy: inhibition ? [inhibition.by] : [] };
  }

  get silences(): Silences {
    return this.#p().silences;
  }

  notifications(query: { status?: OutboxStatus; fingerprint?: string; limit?: number; before?: number } = {}): OutboxRecord[] {
    return this.#p().outbox.list(query);
  }

  notification(id: number): OutboxRecord | undefined {
    return this.#p().outbox.get(id);
  }

  retryNotification(id: number): OutboxRecord | undefined {
    return this.#p().outbox.retry(id);
  }

  incidents(query: { status?: 'open' | 'resolved'; limit?: number; before?: string } = {}): Incident[] {
    return this.#p().incidents.list(query);
  }

  incident(id: string): (Incident & { timeline: TimelineEntry[] }) | undefined {
    const p = this.#p();
    const inc = p.incidents.get(id);
    return inc ? { ...inc, timeline: p.timeline.forIncident(id) } : undefined;
  }

  escalations(): EscalationState[] {
    return this.#p().escalations.states();
  }

  /** Group keys the alert is currently in (diagnostics and tests). */
  groupsOf(fingerprint: string): string[] {
    return this.#p()
      .dispatcher.groupsOf(fingerprint)
      .map((g) => g.key);
  }
}
