// What happened to an alert on the notification side — received, muted, queued, sent, retried,
// failed, escalated, acknowledged, resolved — with timestamps, and incidents: alerts that start
// firing within `incidentWindow` of an open incident's latest alert join it; the incident resolves
// when all its alerts have resolved. Every timeline entry is also filed under the alert's incident,
// which gives the incident its own timeline.
import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import type { NotifyAlert } from '../dispatch/alert.ts';

export type TimelineKind =
  | 'received'
  | 'resolved'
  | 'unrouted'
  | 'muted'
  | 'unmuted'
  | 'notification_queued'
  | 'notification_sent'
  | 'notification_retry'
  | 'notification_failed'
  | 'notification_canceled'
  | 'escalation_started'
  | 'escalation_step'
  | 'escalation_stopped'
  | 'escalation_resumed'
  | 'acknowledged'
  | 'ack_ended'
  | 'incident_opened'
  | 'incident_joined'
  | 'incident_resolved';

export interface TimelineEntry {
  /** RFC 3339. */
  at: string;
  fingerprint: string;
  incidentId: string | null;
  kind: TimelineKind;
  details: Record<string, unknown>;
}

export interface IncidentAlert {
  fingerprint: string;
  alertname: string;
  joinedAt: string;
  resolvedAt: string | null;
}

export interface Incident {
  id: string;
  title: string;
  severity: string;
  status: 'open' | 'resolved';
  openedAt: string;
  resolvedAt: string | null;
  alerts: IncidentAlert[];
}

/** Timeline rows are kept this long (30 days). */
export const TIMELINE_RETENTION_MS = 30 * 86_400_000;

const SEVERITY_RANK: Record<string, number> = { critical: 4, error: 3, warning: 2, info: 1 };
const severityRank = (severity: string) => (Object.hasOwn(SEVERITY_RANK, severity) ? SEVERITY_RANK[severity] : 0);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class Incidents {
  readonly #db: DatabaseSync;
  readonly #windowMs: number;
  /** fingerprint → the incident it last joined. */
  readonly #current = new Map<string, string>();

  constructor(db: DatabaseSync, windowMs: number) {
    this.#db = db;
    this.#windowMs = windowMs;
    const rows = db.prepare('SELECT incident_id, fingerprint FROM notify_incident_alerts ORDER BY joined_at').all() as { incident_id: string; fingerprint: string }[];
    for (const r of rows) this.#current.set(r.fingerprint, r.incident_id);
  }

  currentOf(fingerprint: string): string | undefined {
    return this.#current.get(fingerprint);
  }

  /** Files a newly firing alert under an incident. Returns the incident and whether it was opened now. */
  onFiring(alert: NotifyAlert, now: number): { id: string; opened: boolean; joined: boolean } {
    const mine = this.#current.get(alert.fingerprint);
    if (mine) {
      const row = this.#db.prepare('SELECT resolved_at FROM notify_incidents WHERE id = ?').get(mine) as { resolved_at: number | null } | undefined;
      if (row && row.resolved_at === null) {
        this.#db.prepare('UPDATE notify_incident_alerts SET resolved_at = NULL WHERE incident_id = ? AND fingerprint = ?').run(mine, alert.fingerprint);
        return { id: mine, opened: false, joined: false };
      }
    }
    const open = this.#db
      .prepare('SELECT id, body FROM notify_incidents WHERE resolved_at IS NULL AND last_alert_at >= ? ORDER BY last_alert_at DESC LIMIT 1')
      .get(now - this.#windowMs) as { id: string; body: string } | undefined;
    let id: string;
    let opened = false;
    if (open) {
      id = open.id;
      const body = JSON.parse(open.body) as { title: string; severity: string };
      if (severityRank(alert.severity) > severityRank(body.severity)) {
        body.severity = alert.severity;
        this.#db.prepare('UPDATE notify_incidents SET last_alert_at = ?, body = ? WHERE id = ?').run(now, JSON.stringify(body), id);
      } else {
        this.#db.prepare('UPDATE notify_incidents SET last_alert_at = ? WHERE id = ?').run(now, id);
      }
    } else {
      id = `inc-${randomUUID()}`;
      opened = true;
      const title = alert.annotations.summary ?? alert.labels.alertname ?? alert.fingerprint;
      this.#db
        .prepare('INSERT INTO notify_incidents(id, opened_at, last_alert_at, resolved_at, body) VALUES (?, ?, ?, NULL, ?)')
        .run(id, now, now, JSON.stringify({ title, severity: alert.severity }));
    }
    // The alert's name in its own row: kept in the incident's body (a map of every fingerprint,
    // read, parsed and written again at each join), 50 000 alerts posted at once took minutes of
    // the main thread, ingest included, the work growing with the square of the count.
    this.#db
      .prepare('INSERT INTO notify_incident_alerts(incident_id, fingerprint, joined_at, resolved_at, alertname) VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO UPDATE SET resolved_at = NULL')
      .run(id, alert.fingerprint, now, alert.labels.alertname ?? '');
    this.#current.set(alert.fingerprint, id);
    return { id, opened, joined: true };
  }

  /** Marks the alert resolved in its incident; resolves the incident when it was the last one firing. */
  onResolved(alert: NotifyAlert, now: number): { id: string; closed: boolean } | undefined {
    const id = this.#current.get(alert.fingerprint);
    if (!id) return undefined;
    this.#db.prepare('UPDATE notify_incident_alerts SET resolved_at = ? WHERE incident_id = ? AND fingerprint = ? AND resolved_at IS NULL').run(now, id, alert.fingerprint);
    const left = this.#db.prepare('SELECT COUNT(*) AS n FROM notify_incident_alerts WHERE incident_id = ? AND resolved_at IS NULL').get(id) as { n: number };
    if (left.n > 0) return { id, closed: false };
    const res = this.#db.prepare('UPDATE notify_incidents SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL').run(now, id);
    return { id, closed: Number(res.changes) > 0 };
  }

  #incident(row: { id: string; opened_at: number; resolved_at: number | null; body: string }): Incident {
    // `names`: where incidents written before the alertname column kept their alerts' names.
    const body = JSON.parse(row.body) as { title: string; severity: string; names?: Record<string, string> };
    const alerts = (
      this.#db.prepare('SELECT fingerprint, joined_at, resolved_at, alertname FROM notify_incident_alerts WHERE incident_id = ? ORDER BY joined_at').all(row.id) as {
        fingerprint: string;
        joined_at: number;
        resolved_at: number | null;
        alertname: string | null;
      }[]
    ).map((a) => ({ fingerprint: a.fingerprint, alertname: a.alertname ?? body.names?.[a.fingerprint] ?? '', joinedAt: iso(a.joined_at) as string, resolvedAt: iso(a.resolved_at) }));
    return {
      id: row.id,
      title: body.title,
      severity: body.severity,
      status: row.resolved_at === null ? 'open' : 'resolved',
      openedAt: iso(row.opened_at) as string,
      resolvedAt: iso(row.resolved_at),
      alerts,
    };
  }

  /**
   * Newest first (by opened time, then id); `before` (an incident id) continues after that
   * incident, the last one of a previous page.
   */
  list(options: { status?: 'open' | 'resolved'; limit?: number; before?: string } = {}): Incident[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (options.status === 'open') where.push('resolved_at IS NULL');
    if (options.status === 'resolved') where.push('resolved_at IS NOT NULL');
    if (options.before !== undefined) {
      where.push('(opened_at, id) < (SELECT opened_at, id FROM notify_incidents WHERE id = ?)');
      args.push(options.before);
    }
    const sql = `SELECT id, opened_at, resolved_at, body FROM notify_incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, options.limit ?? 100) as {
      id: string;
      opened_at: number;
      resolved_at: number | null;
      body: string;
    }[];
    return rows.map((r) => this.#incident(r));
  }

  get(id: string): Incident | undefined {
    const row = this.#db.prepare('SELECT id, opened_at, resolved_at, body FROM notify_incidents WHERE id = ?').get(id) as
      | { id: string; opened_at: number; resolved_at: number | null; body: string }
      | undefined;
    return row ? this.#incident(row) : undefined;
  }

  /**
   * Deletes incidents resolved longer than TIMELINE_RETENTION_MS ago, and forgets that their alerts
   * were filed under them: #current held every fingerprint that ever fired (a pod or request id
   * in a label gives a new one per alert) for as long as the collector ran.
   */
  gc(now: number): void {
    const cutoff = now - TIMELINE_RETENTION_MS;
    const gone = new Set((this.#db.prepare('SELECT id FROM notify_incidents WHERE resolved_at < ?').all(cutoff) as { id: string }[]).map((r) => r.id));
    if (gone.size === 0) return;
    this.#db.prepare('DELETE FROM notify_incident_alerts WHERE incident_id IN (SELECT id FROM notify_incidents WHERE resolved_at < ?)').run(cutoff);
    this.#db.prepare('DELETE FROM notify_incidents WHERE resolved_at < ?').run(cutoff);
    for (const [fingerprint, id] of this.#current) if (gone.has(id)) this.#current.delete(fingerprint);
  }
}

export class Timeline {
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #incidents: Incidents;
  readonly #insert;

  constructor(db: DatabaseSync, clock: Clock, incidents: Incidents) {
    this.#db = db;
    this.#clock = clock;
    this.#incidents = incidents;
    this.#insert = db.prepare('INSERT INTO notify_timeline(fingerprint, incident_id, at, kind, details) VALUES (?, ?, ?, ?, ?)');
  }

  add(fingerprint: string, kind: TimelineKind, details: Record<string, unknown> = {}, at = this.#clock.now()): void {
    this.#insert.run(fingerprint, this.#incidents.currentOf(fingerprint) ?? null, at, kind, JSON.stringify(details));
  }

  #rows(where: string, arg: string, limit: number): TimelineEntry[] {
    const rows = this.#db.prepare(`SELECT fingerprint, incident_id, at, kind, details FROM notify_timeline WHERE ${where} = ? ORDER BY id DESC LIMIT ?`).all(arg, limit) as {
      fingerprint: string;
      incident_id: string | null;
      at: number;
      kind: TimelineKind;
      details: string;
    }[];
    return rows.reverse().map((r) => ({ at: new Date(r.at).toISOString(), fingerprint: r.fingerprint, incidentId: r.incident_id, kind: r.kind, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  /** The alert's entries, oldest first (the newest `limit`). */
  forFingerprint(fingerprint: string, limit = 500): TimelineEntry[] {
    return this.#rows('fingerprint', fingerprint, limit);
  }

  forIncident(incidentId: string, limit = 1000): TimelineEntry[] {
    return this.#rows('incident_id', incidentId, limit);
  }

  gc(now: number): void {
    this.#db.prepare('DELETE FROM notify_timeline WHERE at < ?').run(now - TIMELINE_RETENTION_MS);
  }
}
