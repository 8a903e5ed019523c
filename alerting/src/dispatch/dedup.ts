// Deduplication against a persisted notification log, as Alertmanager's DedupStage.needsUpdate
// (notify/notify.go, classic non-muted-aware form): a group is notified when it has firing alerts
// the receiver was not told about, when every alert it was told about resolved, when (with
// sendResolved) new alerts resolved, or when repeatInterval passed since the last notification.
// Alerts are compared by fingerprint, so a firing alert re-sent by its source is never re-notified.
import type { DatabaseSync } from 'node:sqlite';

export interface NflogEntry {
  /** Fingerprints the receiver was last told are firing / resolved. */
  firing: string[];
  resolved: string[];
  /** Epoch ms of the last notification. */
  timestamp: number;
  /** How many repeat notifications (unchanged content) followed the last change; part of the idempotency key. */
  repeats: number;
  /**
   * Identifies the current notification sequence (it resets after "all resolved"): the earliest
   * startsAt of the alerts that opened it. Derived from alert data, not the flush time, so a
   * decision replayed after a restart yields the same idempotency keys; threads email.
   */
  episode: number;
}

/** Pseudo-receiver under which an escalation group's dedup state is logged. */
export const ESCALATION_LOG_RECEIVER = '@escalation';

export type NotifyReason = 'first' | 'new_alerts' | 'all_resolved' | 'new_resolved' | 'repeat';

export function needsUpdate(
  entry: NflogEntry | undefined,
  firing: ReadonlySet<string>,
  resolved: ReadonlySet<string>,
  sendResolved: boolean,
  repeatIntervalMs: number,
  now: number,
): NotifyReason | undefined {
  if (!entry) return firing.size > 0 ? 'first' : undefined;
  const notifiedFiring = new Set(entry.firing);
  if (![...firing].every((fp) => notifiedFiring.has(fp))) return entry.firing.length === 0 ? 'first' : 'new_alerts';
  if (firing.size === 0) return entry.firing.length > 0 ? 'all_resolved' : undefined;
  const notifiedResolved = new Set(entry.resolved);
  if (sendResolved && ![...resolved].every((fp) => notifiedResolved.has(fp))) return 'new_resolved';
  return entry.timestamp < now - repeatIntervalMs ? 'repeat' : undefined;
}

/** The entry to log after notifying for `reason`; `episodeStart` opens a new sequence on 'first'. */
export function nextEntry(prev: NflogEntry | undefined, reason: NotifyReason, firing: Iterable<string>, resolved: Iterable<string>, now: number, episodeStart: number): NflogEntry {
  return {
    firing: [...firing].sort(),
    resolved: [...resolved].sort(),
    timestamp: now,
    repeats: reason === 'repeat' ? (prev?.repeats ?? 0) + 1 : 0,
    episode: reason === 'first' || !prev ? episodeStart : prev.episode,
  };
}

/** The earliest start of the firing alerts (the episode a 'first' notification opens). */
export function episodeStart(firing: readonly { startsAt: number }[], now: number): number {
  return firing.reduce((min, a) => Math.min(min, a.startsAt), now);
}

/** Entries older than this are dropped (Alertmanager's nflog retention default: 120h). */
export const NFLOG_RETENTION_MS = 120 * 3_600_000;

export class NotificationLog {
  readonly #get;
  readonly #set;
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#get = db.prepare('SELECT body FROM notify_nflog WHERE key = ?');
    this.#set = db.prepare('INSERT INTO notify_nflog(key, body, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at');
  }

  static key(groupKey: string, receiver: string): string {
    return `${groupKey}\u0000${receiver}`;
  }

  get(groupKey: string, receiver: string): NflogEntry | undefined {
    const row = this.#get.get(NotificationLog.key(groupKey, receiver)) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as NflogEntry) : undefined;
  }

  set(groupKey: string, receiver: string, entry: NflogEntry): void {
    this.#set.run(NotificationLog.key(groupKey, receiver), JSON.stringify(entry), entry.timestamp);
  }

  /**
   * Drops entries not updated for NFLOG_RETENTION_MS, except those of groups that still exist:
   * a group firing for days under a repeatInterval longer than the retention still needs its
   * entry, or its next flush would be a 'first' notification (a new chain for an escalation)
   * instead of the reminder due at repeatInterval.
   */
  gc(now: number, live: (groupKey: string) => boolean = () => false): void {
    const old = this.#db.prepare('SELECT key FROM notify_nflog WHERE updated_at < ?').all(now - NFLOG_RETENTION_MS) as { key: string }[];
    const drop = this.#db.prepare('DELETE FROM notify_nflog WHERE key = ?');
    for (const { key } of old) if (!live(key.slice(0, key.lastIndexOf('\u0000')))) drop.run(key);
  }
}
