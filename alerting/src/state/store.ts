import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ALERTING_DB_FILE, openAlertingFile } from '../notify-db.ts';
import type { AlertEvent, AlertState } from '../types.ts';
import type { InstanceState } from './machine.ts';

// Durable state of the rules side, in `alerting.db` (node:sqlite, WAL, synchronous=NORMAL):
//   alert_instances — the state machine of every non-default instance (so a restart neither
//                     forgets a firing alert nor re-emits its transition);
//   alert_history   — every state change; its AUTOINCREMENT id IS the transitionId (monotonic,
//                     never reused, even after rows are pruned), and it doubles as the outbox
//                     towards the AlertSink: `delivery` is pending until the sink accepted it;
//   alert_rules     — rules created through the API;
//   alert_rule_evaluations — per rule, the time and number of its last evaluation that rows rely
//                     on: keepFiringFor's start for rows marked breachesAtRuleEvaluation, the
//                     evaluations a flap history written at flapHistoryAt is to be padded with.

export interface PersistedInstance {
  ruleId: string;
  fingerprint: string;
  groupLabels: Record<string, string>;
  labels: Record<string, string>;
  st: InstanceState;
  lastEmittedState: AlertState | null;
  lastEvalAt: number | null;
  /**
   * The identity of the rule that made it (name, severity, labels, groupBy, promql expr) when it
   * was written, so a restart tells a rule changed meanwhile as a reload does; absent in rows of
   * earlier versions.
   */
  ruleIdentity?: string;
  /**
   * A firing alert (of a rule with keepFiringFor) that breached at the evaluation that wrote it and,
   * the row unchanged, at every later one: its last breach is its rule's last evaluation
   * (alert_rule_evaluations), not the `st.lastActiveAt` written.
   */
  breachesAtRuleEvaluation?: true;
  /**
   * The number of its rule's evaluation that wrote `st.flapHistory`; each later one (up to the
   * rule's count in alert_rule_evaluations) appended its last state, which the row leaves out.
   */
  flapHistoryAt?: number;
}

export type Delivery = 'pending' | 'delivered' | 'suppressed' | 'none';
export type HistoryKind = 'transition' | 'flapping_stop' | 'rule_removed';

export interface HistoryInsert {
  ts: number;
  ruleId: string;
  ruleName: string;
  fingerprint: string;
  labels: Record<string, string>;
  kind: HistoryKind;
  fromState: AlertState;
  toState: AlertState;
  value: number | null;
  flapping: boolean;
  flap: 'start' | 'stop' | null;
  delivery: Delivery;
  error: string | null;
  /** Builds the event once the transitionId (row id) is known; null when nothing is emitted. */
  event: ((transitionId: number) => AlertEvent) | null;
}

export interface HistoryRow {
  transitionId: number;
  at: string;
  ruleId: string;
  ruleName: string;
  fingerprint: string;
  labels: Record<string, string>;
  kind: HistoryKind;
  from: AlertState;
  to: AlertState;
  value: number | null;
  flapping: boolean;
  flap: 'start' | 'stop' | null;
  delivery: Delivery;
  error: string | null;
}

export interface HistoryQuery {
  rule?: string;
  fingerprint?: string;
  state?: string[];
  sinceMs?: number;
  untilMs?: number;
  /** Only entries with transitionId < before (paging, newest first). */
  before?: number;
  limit: number;
}

interface RawHistory {
  id: number;
  ts: number;
  rule_id: string;
  rule_name: string;
  fingerprint: string;
  labels: string;
  kind: HistoryKind;
  from_state: AlertState;
  to_state: AlertState;
  value: number | null;
  flapping: number;
  flap: 'start' | 'stop' | null;
  delivery: Delivery;
  error: string | null;
}

function toRow(r: RawHistory): HistoryRow {
  return {
    transitionId: r.id,
    at: new Date(r.ts).toISOString(),
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    fingerprint: r.fingerprint,
    labels: JSON.parse(r.labels) as Record<string, string>,
    kind: r.kind,
    from: r.from_state,
    to: r.to_state,
    value: r.value,
    flapping: r.flapping === 1,
    flap: r.flap,
    delivery: r.delivery,
    error: r.error,
  };
}

export class AlertStore {
  readonly db: DatabaseSync;
  private readonly upsertInstance: StatementSync;
  private readonly deleteInstance: StatementSync;
  private readonly insertHistory: StatementSync;
  private readonly upsertRuleEvaluation: StatementSync;
  private readonly setEvent: StatementSync;
  private readonly markDelivery: StatementSync;
  private closed = false;

  /** Opens `<dataDir>/alerting.db` (or `path` as given, e.g. ':memory:'). */
  constructor(options: { dataDir?: string; path?: string }) {
    if (!options.path && !options.dataDir) throw new Error('AlertStore needs dataDir or path');
    this.db = openAlertingFile(options.path ?? join(options.dataDir!, ALERTING_DB_FILE));
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS alert_instances (
        rule_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (rule_id, fingerprint)
      ) STRICT;
      CREATE TABLE IF NOT EXISTS alert_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        rule_id TEXT NOT NULL,
        rule_name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        labels TEXT NOT NULL,
        kind TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        value REAL,
        flapping INTEGER NOT NULL,
        flap TEXT,
        delivery TEXT NOT NULL,
        error TEXT,
        event TEXT
      ) STRICT;
      CREATE INDEX IF NOT EXISTS alert_history_fp ON alert_history (fingerprint, id);
      CREATE INDEX IF NOT EXISTS alert_history_rule ON alert_history (rule_id, id);
      CREATE INDEX IF NOT EXISTS alert_history_ts ON alert_history (ts);
      CREATE INDEX IF NOT EXISTS alert_history_undelivered ON alert_history (id) WHERE delivery = 'pending';
      CREATE TABLE IF NOT EXISTS alert_rules (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE IF NOT EXISTS alert_rule_evaluations (
        rule_id TEXT PRIMARY KEY,
        evaluated_at INTEGER NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0
      ) STRICT;
    `);
    this.upsertInstance = this.db.prepare(
      'INSERT INTO alert_instances (rule_id, fingerprint, data) VALUES (?, ?, ?) ON CONFLICT (rule_id, fingerprint) DO UPDATE SET data = excluded.data',
    );
    this.deleteInstance = this.db.prepare('DELETE FROM alert_instances WHERE rule_id = ? AND fingerprint = ?');
    this.insertHistory = this.db.prepare(
      `INSERT INTO alert_history (ts, rule_id, rule_name, fingerprint, labels, kind, from_state, to_state, value, flapping, flap, delivery, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.upsertRuleEvaluation = this.db.prepare(
      'INSERT INTO alert_rule_evaluations (rule_id, evaluated_at, seq) VALUES (?, ?, ?) ON CONFLICT (rule_id) DO UPDATE SET evaluated_at = excluded.evaluated_at, seq = excluded.seq',
    );
    this.setEvent = this.db.prepare('UPDATE alert_history SET event = ? WHERE id = ?');
    this.markDelivery = this.db.prepare("UPDATE alert_history SET delivery = 'delivered' WHERE id = ?");
  }

  /** Runs `fn` in one write transaction (all or nothing). */
  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      this.db.exec('COMMIT');
      return r;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  loadInstances(): PersistedInstance[] {
    const rows = this.db.prepare('SELECT data FROM alert_instances').all() as Array<{ data: string }>;
    return rows.map((r) => JSON.parse(r.data) as PersistedInstance);
  }

  saveInstance(inst: PersistedInstance): void {
    this.upsertInstance.run(inst.ruleId, inst.fingerprint, JSON.stringify(inst));
  }

  removeInstance(ruleId: string, fp: string): void {
    this.deleteInstance.run(ruleId, fp);
  }

  /** Records the rule's evaluation (its time and number) that rows rely on. */
  saveRuleEvaluation(ruleId: string, at: number, seq: number): void {
    this.upsertRuleEvaluation.run(ruleId, at, seq);
  }

  forgetRuleEvaluation(ruleId: string): void {
    this.db.prepare('DELETE FROM alert_rule_evaluations WHERE rule_id = ?').run(ruleId);
  }

  loadRuleEvaluations(): Map<string, { at: number; seq: number }> {
    const rows = this.db.prepare('SELECT rule_id, evaluated_at, seq FROM alert_rule_evaluations').all() as Array<{ rule_id: string; evaluated_at: number; seq: number }>;
    return new Map(rows.map((r) => [r.rule_id, { at: r.evaluated_at, seq: r.seq }]));
  }

  /** Inserts history rows; returns the events to deliver (with their transitionIds), in order. */
  appendHistory(entries: HistoryInsert[]): Array<{ id: number; event: AlertEvent; delivery: Delivery }> {
    const out: Array<{ id: number; event: AlertEvent; delivery: Delivery }> = [];
    for (const e of entries) {
      const res = this.insertHistory.run(
        e.ts, e.ruleId, e.ruleName, e.fingerprint, JSON.stringify(e.labels), e.kind, e.fromState, e.toState,
        e.value === null || !Number.isFinite(e.value) ? null : e.value, e.flapping ? 1 : 0, e.flap, e.delivery, e.error,
      );
      const id = Number(res.lastInsertRowid);
      if (e.event) {
        const event = e.event(id);
        this.setEvent.run(JSON.stringify(event), id);
        out.push({ id, event, delivery: e.delivery });
      }
    }
    return out;
  }

  markDelivered(ids: number[]): void {
    if (!ids.length || this.closed) return;
    this.transaction(() => {
      for (const id of ids) this.markDelivery.run(id);
    });
  }

  /** Events written but not yet accepted by the sink (crash or sink failure), oldest first. */
  undelivered(): Array<{ id: number; event: AlertEvent }> {
    const rows = this.db.prepare("SELECT id, event FROM alert_history WHERE delivery = 'pending' AND event IS NOT NULL ORDER BY id").all() as Array<{ id: number; event: string }>;
    return rows.map((r) => ({ id: r.id, event: JSON.parse(r.event) as AlertEvent }));
  }

  history(q: HistoryQuery): HistoryRow[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (q.rule) {
      where.push('rule_id = ?');
      params.push(q.rule);
    }
    if (q.fingerprint) {
      where.push('fingerprint = ?');
      params.push(q.fingerprint);
    }
    if (q.state?.length) {
      where.push(`to_state IN (${q.state.map(() => '?').join(', ')})`);
      params.push(...q.state);
    }
    if (q.sinceMs !== undefined) {
      where.push('ts >= ?');
      params.push(q.sinceMs);
    }
    if (q.untilMs !== undefined) {
      where.push('ts < ?');
      params.push(q.untilMs);
    }
    if (q.before !== undefined) {
      where.push('id < ?');
      params.push(q.before);
    }
    const sql = `SELECT id, ts, rule_id, rule_name, fingerprint, labels, kind, from_state, to_state, value, flapping, flap, delivery, error
      FROM alert_history ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, q.limit) as unknown as RawHistory[]).map(toRow);
  }

  /** Deletes history older than `beforeMs` that is not waiting for delivery. Returns rows deleted. */
  pruneHistory(beforeMs: number): number {
    const res = this.db.prepare("DELETE FROM alert_history WHERE ts < ? AND delivery != 'pending'").run(beforeMs);
    return Number(res.changes);
  }

  listRules(): Array<{ id: string; spec: unknown; createdAt: number; updatedAt: number }> {
    const rows = this.db.prepare('SELECT id, spec, created_at, updated_at FROM alert_rules ORDER BY id').all() as Array<{ id: string; spec: string; created_at: number; updated_at: number }>;
    return rows.map((r) => ({ id: r.id, spec: JSON.parse(r.spec) as unknown, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  putRule(id: string, spec: unknown, now: number): void {
    this.db
      .prepare('INSERT INTO alert_rules (id, spec, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at')
      .run(id, JSON.stringify(spec), now, now);
  }

  deleteRule(id: string): void {
    this.db.prepare('DELETE FROM alert_rules WHERE id = ?').run(id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
