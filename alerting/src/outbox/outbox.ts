// The durable outbox. Every notification is a row in alerting.db BEFORE any send is attempted, in
// the same transaction as the notification log / escalation state that decided it, so a crash
// loses nothing and a restart resumes the rows still pending. The row's idempotency key (hash of
// group, receiver, integration, step and the alerts' fingerprints + transition ids) is UNIQUE, so
// the same notification decided twice (e.g. replayed after a restart) is stored and sent once.
//
// Delivery: one attempt in flight per integration; a group's messages in the order they were
// decided; messages sharing a rate key (a Slack webhook) spaced by its minimum interval; retryable results retried with full-jitter backoff, never before
// Retry-After; a per-integration circuit breaker; a row that fails permanently, or is still failing
// after maxAttempts / maxAge, becomes `failed`: visible in the API, in metrics and in the timeline
// of each of its alerts — never silently dropped.
//
// At-least-once: a crash between the backend's success and the row update re-sends that one message
// on restart (webhook and SMS requests carry an Idempotency-Key header for receivers that dedupe).
import type { DatabaseSync } from 'node:sqlite';
import { wallStep, type Clock, type ClockReading, type TimerHandle } from '../clock.ts';
import type { Notification, Notifier, NotifierLogger, SendResult } from '../notify/notifier.ts';
import type { NotifyMetrics } from '../notify-metrics.ts';
import type { Timeline } from '../timeline/timeline.ts';
import { retryDelayMs } from './backoff.ts';
import { CircuitBreaker } from './breaker.ts';

/** `canceled`: made pointless before it could be delivered (an escalation step whose alerts were all acknowledged). */
export type OutboxStatus = 'pending' | 'sent' | 'failed' | 'canceled';

export interface OutboxPolicy {
  maxAttempts: number;
  maxAgeMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
}

export interface NewOutboxRow {
  idemKey: string;
  integration: string;
  channel: string;
  receiver: string;
  groupKey: string;
  threadId: string;
  step: string;
  fingerprints: string[];
  payload: Notification;
}

export interface OutboxRecord {
  id: number;
  idemKey: string;
  integration: string;
  channel: string;
  receiver: string;
  groupKey: string;
  step: string;
  fingerprints: string[];
  status: OutboxStatus;
  attempts: number;
  /** RFC 3339 */
  nextAttemptAt: string | null;
  lastError: string | null;
  lastResult: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
  notification: Notification;
}

interface Row {
  id: number;
  idem_key: string;
  integration: string;
  channel: string;
  receiver: string;
  group_key: string;
  thread_id: string;
  step: string;
  fingerprints: string;
  payload: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  last_result: string | null;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
}

/** Sent rows are kept this long for the API, failed ones 30 days. */
export const SENT_RETENTION_MS = 7 * 86_400_000;
export const FAILED_RETENTION_MS = 30 * 86_400_000;

/**
 * A pending row is sendable only when it is the oldest pending row of its integration and group:
 * a group's messages reach a backend in the order they were decided, so a resolved notice never
 * overtakes the firing message still being retried (Alertmanager gets this by flushing a group
 * only after its previous flush, retries included, has finished).
 */
const GROUP_HEAD = `NOT EXISTS (SELECT 1 FROM notify_outbox AS earlier WHERE earlier.status = 'pending'
  AND earlier.integration = notify_outbox.integration AND earlier.group_key = notify_outbox.group_key AND earlier.id < notify_outbox.id)`;

/** What a rate limit or a Retry-After holds: the notifier's rate key (shared by integrations posting to one Slack webhook), else the integration. */
function holdKey(notifier: Notifier): string {
  return notifier.rateLimit?.key ?? `integration\u0000${notifier.id}`;
}

export interface OutboxDeps {
  db: DatabaseSync;
  clock: Clock;
  notifiers: Map<string, Notifier>;
  policy: OutboxPolicy;
  metrics: NotifyMetrics;
  timeline: Timeline;
  logger: NotifierLogger;
  random?: () => number;
  /**
   * Why a pending notification no longer needs sending (asked before each attempt), or undefined.
   * An escalation step held back by a failing backend must not page someone after the alert was
   * acknowledged: the ack is what the chain waits for.
   */
  obsolete?: (notification: Notification, fingerprints: readonly string[]) => string | undefined;
  /**
   * The sends still in flight in the outbox this one replaces (a reload, notify-swap.ts), by
   * integration: their rows are still pending in the table, so the integration waits for its send
   * to end (its outcome written by the outbox that made it) instead of sending the row twice.
   */
  sending?: ReadonlyMap<string, Promise<unknown>>;
  /**
   * What the outbox this one replaces (a reload) knows of its integrations (memory()): an open
   * circuit breaker stays open and a Retry-After or rate limit holds, as they would without the
   * reload; fresh, a backend down or rate-limited was sent to at once, a burst at each reload.
   */
  memory?: OutboxMemory;
}

/**
 * In-memory delivery state by integration (breakers) and rate key (next send time). Shared, not
 * copied: the replaced outbox's sends in flight still record their outcome into it. Breakers are
 * kept only while breakerFailures and breakerCooldown are unchanged (they hold those values).
 */
export interface OutboxMemory {
  breakers: Map<string, CircuitBreaker>;
  rateNext: Map<string, number>;
  /**
   * The clock's last reading (#now), one box for this outbox and those that replace it (shared like
   * the maps), so that a step of the wall clock is told, and followed, once.
   */
  clockReading: ClockReading;
  breakerFailures: number;
  breakerCooldownMs: number;
}

export class Outbox {
  readonly #d: OutboxDeps;
  readonly #breakers: Map<string, CircuitBreaker>;
  readonly #busy = new Set<string>();
  /** The send in flight, by integration (one at a time each: #busy). */
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #rateNext: Map<string, number>;
  readonly #memory: OutboxMemory;
  readonly #insert;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #pumping = false;

  constructor(deps: OutboxDeps) {
    this.#d = deps;
    const kept = deps.memory;
    const samePolicy = kept !== undefined && kept.breakerFailures === deps.policy.breakerFailures && kept.breakerCooldownMs === deps.policy.breakerCooldownMs;
    this.#breakers = samePolicy ? kept.breakers : new Map();
    this.#rateNext = kept?.rateNext ?? new Map();
    this.#memory = { breakers: this.#breakers, rateNext: this.#rateNext, breakerFailures: deps.policy.breakerFailures, breakerCooldownMs: deps.policy.breakerCooldownMs, clockReading: kept?.clockReading ?? {} };
    this.#insert = deps.db.prepare(
      `INSERT INTO notify_outbox(idem_key, integration, channel, receiver, group_key, thread_id, step, fingerprints, payload, status, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING`,
    );
  }

  /**
   * The wall clock's time, after following a step of it since the last reading (NTP, a VM
   * resumed, `date -s`): a retry's backoff, a Retry-After (Slack's spacing too) and a cooldown are
   * elapsed time. A step back moves the pending rows' times, the holds and the open breakers back
   * with it: without this an hour back held each of them an hour (every Slack message, behind the
   * spacing of the last one sent). A step forward may be time that really passed (a host or VM
   * suspended: the monotonic clock does not count it), so it only moves the rows' creation times,
   * which delivery.maxAge counts from: nothing is sent later for it, and a correction forward
   * does not give up every pending notification as too old.
   */
  #now(): number {
    const wall = this.#d.clock.now();
    const step = wallStep(this.#memory.clockReading, wall, this.#d.clock.elapsed());
    if (step === 0) return wall;
    if (step < 0) {
      this.#d.db.prepare(`UPDATE notify_outbox SET next_attempt_at = next_attempt_at + ?, created_at = created_at + ? WHERE status = 'pending'`).run(step, step);
      for (const [key, at] of this.#rateNext) this.#rateNext.set(key, at + step);
      for (const b of this.#breakers.values()) b.shift(step);
    } else {
      this.#d.db.prepare(`UPDATE notify_outbox SET created_at = created_at + ? WHERE status = 'pending'`).run(step);
    }
    this.#d.logger.warn({ stepMs: step }, 'the wall clock stepped: the pending notifications\' times move with it');
    return wall;
  }

  #breaker(integration: string): CircuitBreaker {
    let b = this.#breakers.get(integration);
    if (!b) {
      b = new CircuitBreaker(this.#d.policy.breakerFailures, this.#d.policy.breakerCooldownMs);
      this.#breakers.set(integration, b);
    }
    return b;
  }

  /** Stores a notification (inside the caller's transaction). False when its idempotency key exists already. */
  enqueue(row: NewOutboxRow): boolean {
    const now = this.#now();
    const res = this.#insert.run(
      row.idemKey,
      row.integration,
      row.channel,
      row.receiver,
      row.groupKey,
      row.threadId,
      row.step,
      JSON.stringify(row.fingerprints),
      JSON.stringify(row.payload),
      now,
      now,
      now,
    );
    const inserted = Number(res.changes) > 0;
    if (inserted) {
      this.#d.metrics.queued.inc({ channel: row.channel });
      for (const fp of row.fingerprints) {
        this.#d.timeline.add(fp, 'notification_queued', { notification: row.idemKey, receiver: row.receiver, integration: row.integration, channel: row.channel, step: row.step, status: row.payload.status });
      }
    }
    return inserted;
  }

  /** Whether an earlier message of this email thread exists for the integration. */
  hasThread(integration: string, threadId: string): boolean {
    return this.#d.db.prepare('SELECT 1 FROM notify_outbox WHERE integration = ? AND thread_id = ? LIMIT 1').get(integration, threadId) !== undefined;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const [integration, send] of this.#d.sending ?? []) {
      if (this.#busy.has(integration)) continue;
      this.#busy.add(integration);
      const done = () => {
        this.#busy.delete(integration);
        this.#inflight.delete(integration);
        this.kick();
      };
      // Counted as this outbox's own: a next reload hands it on (detach), shutdown waits for it.
      this.#inflight.set(integration, send.then(done, done));
    }
    this.kick();
  }

  /** Looks for due rows now (after an enqueue). */
  kick(): void {
    if (!this.#running) return;
    this.#schedule(this.#now());
  }

  #schedule(at: number): void {
    if (!this.#running) return;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) this.#d.clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, Math.max(0, at - this.#now()));
  }

  #pump(): void {
    if (!this.#running || this.#pumping) return;
    this.#pumping = true;
    try {
      const now = this.#now();
      const rows = this.#d.db
        .prepare(`SELECT * FROM notify_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND ${GROUP_HEAD} ORDER BY next_attempt_at, id LIMIT 500`)
        .all(now) as unknown as Row[];
      for (const row of rows) {
        if (this.#busy.has(row.integration)) continue;
        const notifier = this.#d.notifiers.get(row.integration);
        if (!notifier) {
          this.#finish(row, 'failed', { status: 'permanent', error: `integration ${row.integration} is not configured any more` }, now, 'unconfigured');
          continue;
        }
        const obsolete = this.#d.obsolete?.(JSON.parse(row.payload) as Notification, JSON.parse(row.fingerprints) as string[]);
        if (obsolete !== undefined) {
          this.#finish(row, 'canceled', { status: 'permanent', error: obsolete }, now);
          continue;
        }
        const breaker = this.#breaker(row.integration);
        const rateKey = notifier.rateLimit?.key;
        if ((this.#rateNext.get(holdKey(notifier)) ?? 0) > now) continue;
        if (!breaker.tryAcquire(now)) continue;
        if (rateKey !== undefined) this.#rateNext.set(rateKey, now + (notifier.rateLimit?.minIntervalMs ?? 0));
        this.#busy.add(row.integration);
        const p = this.#attempt(row, notifier, breaker)
          .catch((err: unknown) => this.#d.logger.error({ integration: row.integration, err: (err as Error)?.message }, 'outbox attempt bookkeeping failed'))
          .finally(() => {
            // Space from the end of this request too, so the backend sees the interval between arrivals.
            if (rateKey !== undefined) this.#rateNext.set(rateKey, Math.max(this.#rateNext.get(rateKey) ?? 0, this.#now() + (notifier.rateLimit?.minIntervalMs ?? 0)));
            this.#busy.delete(row.integration);
            this.#inflight.delete(row.integration);
            this.kick();
          });
        this.#inflight.set(row.integration, p);
      }
      this.#scheduleNext(now);
      for (const [channel, n] of Object.entries({ slack: 0, email: 0, sms: 0, webhook: 0, ...this.pendingByChannel() })) this.#d.metrics.pending.set({ channel }, n);
    } finally {
      this.#pumping = false;
    }
  }

  /** Next wake-up: the earliest time an idle integration has a row due, after breaker and rate limit. */
  #scheduleNext(now: number): void {
    const due = this.#d.db
      .prepare(`SELECT integration, MIN(next_attempt_at) AS at FROM notify_outbox WHERE status = 'pending' AND ${GROUP_HEAD} GROUP BY integration`)
      .all() as { integration: string; at: number }[];
    let next = Number.POSITIVE_INFINITY;
    for (const { integration, at } of due) {
      if (this.#busy.has(integration)) continue; // its completion kicks the pump
      let t = at;
      const notifier = this.#d.notifiers.get(integration);
      if (notifier) t = Math.max(t, this.#rateNext.get(holdKey(notifier)) ?? 0);
      t = Math.max(t, this.#breaker(integration).readyAt(now));
      next = Math.min(next, t);
    }
    if (Number.isFinite(next)) this.#schedule(Math.max(next, now));
  }

  async #attempt(row: Row, notifier: Notifier, breaker: CircuitBreaker): Promise<void> {
    const started = performance.now();
    let result: SendResult;
    try {
      result = await notifier.send(JSON.parse(row.payload) as Notification);
    } catch (err) {
      // Notifiers return values; a throw is a bug in one, and still must not lose the message.
      result = { status: 'retryable', error: `notifier threw: ${(err as Error)?.message ?? String(err)}` };
    }
    const { metrics, policy } = this.#d;
    metrics.latency.observe({ channel: row.channel }, (performance.now() - started) / 1000);
    metrics.attempts.inc({ channel: row.channel, result: result.status });
    const now = this.#now();
    const attempts = row.attempts + 1;
    if (result.status === 'success') {
      const downMs = breaker.success(now);
      metrics.breakerOpen.set({ integration: row.integration }, 0);
      if (downMs !== undefined) {
        this.#d.logger.info?.({ integration: row.integration, downForMs: downMs }, `integration ${row.integration} answers again after ${Math.round(downMs / 1000)} s: circuit breaker closed, the notifications held back are sent`);
      }
      this.#finish({ ...row, attempts }, 'sent', result, now);
      return;
    }
    if (result.status === 'permanent') {
      breaker.neutral();
      this.#finish({ ...row, attempts }, 'failed', result, now, 'permanent');
      return;
    }
    // Said when the integration stops answering and when it answers again (above), not at each
    // failed trial of an outage: one line per cooldown for hours hid everything else.
    const change = breaker.failure(now);
    if (change !== undefined) metrics.breakerOpen.set({ integration: row.integration }, 1);
    if (change === 'opened') {
      this.#d.logger.warn(
        { integration: row.integration, cooldownMs: policy.breakerCooldownMs, error: result.error ?? null },
        `integration ${row.integration} is failing (${result.error ?? 'retryable error'}): circuit breaker opened, its notifications wait; a trial every ${Math.round(policy.breakerCooldownMs / 1000)} s`,
      );
    }
    if (attempts >= policy.maxAttempts || now - row.created_at >= policy.maxAgeMs) {
      this.#finish({ ...row, attempts }, 'failed', { ...result, error: `gave up after ${attempts} attempts: ${result.error ?? 'retryable error'}` }, now, 'exhausted');
      return;
    }
    if (result.retryAfterMs !== undefined) {
      // Retry-After speaks for the backend (a Slack webhook's rate limit), not for this message:
      // every message to it waits, else the other groups' messages are sent into the same 429s.
      const key = holdKey(notifier);
      this.#rateNext.set(key, Math.max(this.#rateNext.get(key) ?? 0, now + result.retryAfterMs));
    }
    const delay = retryDelayMs({ baseMs: policy.backoffBaseMs, capMs: policy.backoffCapMs }, attempts - 1, result.retryAfterMs, this.#d.random);
    this.#d.db
      .prepare(`UPDATE notify_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, last_result = ?, updated_at = ? WHERE id = ? AND status = 'pending'`)
      .run(attempts, now + delay, result.error ?? null, result.status, now, row.id);
    for (const fp of JSON.parse(row.fingerprints) as string[]) {
      this.#d.timeline.add(fp, 'notification_retry', { notification: row.idem_key, integration: row.integration, attempt: attempts, error: result.error ?? null, retryInMs: delay });
    }
  }

  #finish(row: Row, status: 'sent' | 'failed' | 'canceled', result: SendResult, now: number, reason?: string): void {
    this.#d.db
      .prepare(`UPDATE notify_outbox SET status = ?, attempts = ?, last_error = ?, last_result = ?, updated_at = ?, sent_at = ? WHERE id = ?`)
      .run(status, row.attempts, result.error ?? null, result.status, now, status === 'sent' ? now : null, row.id);
    const kind = status === 'sent' ? 'notification_sent' : status === 'canceled' ? 'notification_canceled' : 'notification_failed';
    for (const fp of JSON.parse(row.fingerprints) as string[]) {
      this.#d.timeline.add(fp, kind, { notification: row.idem_key, receiver: row.receiver, integration: row.integration, channel: row.channel, attempts: row.attempts, ...(result.error ? { error: result.error } : {}) });
    }
    if (status === 'failed') {
      this.#d.metrics.failures.inc({ channel: row.channel, reason: reason ?? 'permanent' });
      this.#d.logger.error({ integration: row.integration, notification: row.idem_key, attempts: row.attempts, reason }, `notification failed: ${result.error ?? ''}`);
    }
  }

  #record(r: Row): OutboxRecord {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: r.id,
      idemKey: r.idem_key,
      integration: r.integration,
      channel: r.channel,
      receiver: r.receiver,
      groupKey: r.group_key,
      step: r.step,
      fingerprints: JSON.parse(r.fingerprints) as string[],
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at) : null,
      lastError: r.last_error,
      lastResult: r.last_result,
      createdAt: iso(r.created_at) as string,
      updatedAt: iso(r.updated_at) as string,
      sentAt: iso(r.sent_at),
      notification: JSON.parse(r.payload) as Notification,
    };
  }

  /** Newest first; `before` (an id) continues after the last row of a previous page. */
  list(options: { status?: OutboxStatus; fingerprint?: string; limit?: number; before?: number } = {}): OutboxRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (options.before !== undefined) {
      where.push('id < ?');
      args.push(options.before);
    }
    if (options.status) {
      where.push('status = ?');
      args.push(options.status);
    }
    if (options.fingerprint) {
      where.push('EXISTS (SELECT 1 FROM json_each(fingerprints) WHERE value = ?)');
      args.push(options.fingerprint);
    }
    const sql = `SELECT * FROM notify_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.#d.db.prepare(sql).all(...args, options.limit ?? 100) as unknown as Row[]).map((r) => this.#record(r));
  }

  get(id: number): OutboxRecord | undefined {
    const r = this.#d.db.prepare('SELECT * FROM notify_outbox WHERE id = ?').get(id) as unknown as Row | undefined;
    return r ? this.#record(r) : undefined;
  }

  /** Puts a failed notification back in the queue (operator action). */
  retry(id: number): OutboxRecord | undefined {
    const now = this.#now();
    this.#d.db.prepare(`UPDATE notify_outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, created_at = ?, updated_at = ? WHERE id = ? AND status = 'failed'`).run(now, now, now, id);
    this.kick();
    return this.get(id);
  }

  /** Pending rows per channel, for the gauge. */
  pendingByChannel(): Record<string, number> {
    const rows = this.#d.db.prepare(`SELECT channel, COUNT(*) AS n FROM notify_outbox WHERE status = 'pending' GROUP BY channel`).all() as { channel: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.channel, r.n]));
  }

  gc(now: number): void {
    this.#d.db.prepare(`DELETE FROM notify_outbox WHERE status IN ('sent', 'canceled') AND updated_at < ?`).run(now - SENT_RETENTION_MS);
    this.#d.db.prepare(`DELETE FROM notify_outbox WHERE status = 'failed' AND updated_at < ?`).run(now - FAILED_RETENTION_MS);
  }

  /**
   * Stops sending without waiting for the sends in flight, and returns them by integration: for an
   * outbox replaced by a reload, whose successor holds those integrations until they end (`sending`).
   * They still write their outcome, so the database stays open until they settle.
   */
  detach(): ReadonlyMap<string, Promise<void>> {
    this.#running = false;
    if (this.#timer !== undefined) this.#d.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    return new Map(this.#inflight);
  }

  /** This outbox's in-memory delivery state, for the one that replaces it (`memory`). */
  memory(): OutboxMemory {
    return this.#memory;
  }

  /** Stops scheduling and waits (bounded) for attempts in flight; unfinished rows stay pending. */
  async shutdown(waitMs = 10_000): Promise<void> {
    const inflight = this.detach();
    if (inflight.size === 0) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...inflight.values()]), new Promise<void>((resolve) => (t = setTimeout(resolve, waitMs)))]);
    clearTimeout(t);
  }
}
