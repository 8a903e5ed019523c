// The alerts the notification side knows, persisted so a restart neither forgets a firing alert nor
// re-notifies it (the notification log and outbox decide what was already sent).
//  - Rules alerts carry the engine's transitionId; a transition not newer than the stored one is a
//    duplicate and ignored.
//  - API alerts (POST /api/v2/alerts) get transition ids here: +1 whenever firing/resolved flips.
//    A firing API alert resolves by itself at endsAt unless re-posted (Alertmanager's resolve_timeout).
// Resolved alerts stay (status resolved) for RESOLVED_RETENTION_MS so transition ids keep increasing
// when the same label set fires again.
import type { DatabaseSync } from 'node:sqlite';
import type { Clock, TimerHandle } from '../clock.ts';
import type { NotifyAlert } from './alert.ts';

export type ChangeKind = 'new' | 'fired' | 'resolved' | 'updated';

export interface AlertChange {
  alert: NotifyAlert;
  previous: NotifyAlert | undefined;
  kind: ChangeKind;
}

export const RESOLVED_RETENTION_MS = 120 * 3_600_000;

export class AlertStore {
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #alerts = new Map<string, NotifyAlert>();
  readonly #expiry = new Map<string, TimerHandle>();
  readonly #upsert;
  readonly #delete;
  /** Called when an API alert resolves by timeout. */
  onExpire: (change: AlertChange) => void = () => {};

  constructor(db: DatabaseSync, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.#upsert = db.prepare('INSERT INTO notify_alerts(fingerprint, body) VALUES (?, ?) ON CONFLICT(fingerprint) DO UPDATE SET body = excluded.body');
    this.#delete = db.prepare('DELETE FROM notify_alerts WHERE fingerprint = ?');
  }

  /** Loads persisted alerts and re-arms API expiry timers. */
  load(): NotifyAlert[] {
    for (const row of this.#db.prepare('SELECT body FROM notify_alerts').all() as { body: string }[]) {
      const a = JSON.parse(row.body) as NotifyAlert;
      this.#alerts.set(a.fingerprint, a);
      this.#armExpiry(a);
    }
    return [...this.#alerts.values()];
  }

  get(fingerprint: string): NotifyAlert | undefined {
    return this.#alerts.get(fingerprint);
  }

  all(): IterableIterator<NotifyAlert> {
    return this.#alerts.values();
  }

  /**
   * Applies an incoming alert. Returns the change, or undefined when it changes nothing that matters
   * (duplicate transition, a resolved alert never seen firing).
   */
  apply(incoming: Omit<NotifyAlert, 'transitionId' | 'updatedAt'> & { transitionId?: number }): AlertChange | undefined {
    const now = this.#clock.now();
    const previous = this.#alerts.get(incoming.fingerprint);
    let transitionId: number;
    if (incoming.source === 'rules') {
      transitionId = incoming.transitionId ?? 0;
      if (previous && transitionId <= previous.transitionId) return undefined;
    } else {
      const flipped = !previous || previous.status !== incoming.status;
      transitionId = (previous?.transitionId ?? 0) + (flipped ? 1 : 0);
    }
    if (!previous && incoming.status === 'resolved') return undefined;
    if (previous?.status === 'resolved' && incoming.status === 'resolved' && incoming.source === 'api') return undefined;
    const alert: NotifyAlert = { ...incoming, transitionId, updatedAt: now };
    // A firing alert keeps the start of its episode (which names its acknowledgement) while it is
    // re-sent: an API alert re-posted, or a rules alert whose resolution in between was never sent
    // (held back while its rule was flapping) — no end was notified, so the episode goes on.
    if (previous?.status === 'firing' && alert.status === 'firing') alert.startsAt = Math.min(previous.startsAt, alert.startsAt);
    let kind: ChangeKind;
    if (!previous) kind = 'new';
    else if (previous.status === 'firing' && alert.status === 'resolved') kind = 'resolved';
    else if (previous.status === 'resolved' && alert.status === 'firing') kind = 'fired';
    else kind = 'updated';
    this.#put(alert);
    return { alert, previous, kind };
  }

  #put(alert: NotifyAlert): void {
    this.#alerts.set(alert.fingerprint, alert);
    this.#upsert.run(alert.fingerprint, JSON.stringify(alert));
    this.#armExpiry(alert);
  }

  #armExpiry(alert: NotifyAlert): void {
    const old = this.#expiry.get(alert.fingerprint);
    if (old !== undefined) this.#clock.clearTimeout(old);
    this.#expiry.delete(alert.fingerprint);
    if (alert.source !== 'api' || alert.status !== 'firing' || alert.endsAt === null) return;
    const fp = alert.fingerprint;
    const handle = this.#clock.setTimeout(() => {
      this.#expiry.delete(fp);
      const current = this.#alerts.get(fp);
      if (!current || current.status !== 'firing' || current.endsAt === null || current.endsAt > this.#clock.now()) return;
      const resolved: NotifyAlert = { ...current, status: 'resolved', state: 'resolved', transitionId: current.transitionId + 1, updatedAt: this.#clock.now() };
      this.#put(resolved);
      this.onExpire({ alert: resolved, previous: current, kind: 'resolved' });
    }, alert.endsAt - this.#clock.now());
    this.#expiry.set(fp, handle);
  }

  /** Drops resolved alerts older than the retention. */
  gc(now: number): void {
    for (const a of [...this.#alerts.values()]) if (a.status === 'resolved' && a.updatedAt < now - RESOLVED_RETENTION_MS) this.delete(a.fingerprint);
  }

  delete(fingerprint: string): void {
    const a = this.#alerts.get(fingerprint);
    if (!a) return;
    this.#alerts.delete(fingerprint);
    this.#delete.run(fingerprint);
    const t = this.#expiry.get(fingerprint);
    if (t !== undefined) this.#clock.clearTimeout(t);
    this.#expiry.delete(fingerprint);
  }

  stop(): void {
    for (const t of this.#expiry.values()) this.#clock.clearTimeout(t);
    this.#expiry.clear();
  }
}
