// The notification side's tables in `<dataDir>/alerting.db`. The rules side keeps its own tables in
// the same file through its own connection; every table here is prefixed `notify_`.
// WAL + synchronous=NORMAL: a committed transaction survives a crash or kill -9 of the process
// (https://www.sqlite.org/wal.html); the busy timeout (5 s, given at open) lets the two
// connections take turns writing.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export const ALERTING_DB_FILE = 'alerting.db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notify_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS notify_alerts (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS notify_nflog (key TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS notify_escalations (group_key TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS notify_silences (id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS notify_acks (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS notify_outbox (
  id INTEGER PRIMARY KEY,
  idem_key TEXT NOT NULL UNIQUE,
  integration TEXT NOT NULL,
  channel TEXT NOT NULL,
  receiver TEXT NOT NULL,
  group_key TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  step TEXT NOT NULL,
  fingerprints TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  last_result TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS notify_outbox_thread ON notify_outbox(integration, thread_id);
-- The outbox sends a row only when no earlier row of its integration and group is pending: without
-- this index that check scans every pending row for each one (seconds per pass in a long outage).
CREATE INDEX IF NOT EXISTS notify_outbox_group ON notify_outbox(integration, group_key, status);
CREATE TABLE IF NOT EXISTS notify_timeline (
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  incident_id TEXT,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  details TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS notify_timeline_fp ON notify_timeline(fingerprint, id);
CREATE INDEX IF NOT EXISTS notify_timeline_incident ON notify_timeline(incident_id, id);
CREATE TABLE IF NOT EXISTS notify_incidents (
  id TEXT PRIMARY KEY,
  opened_at INTEGER NOT NULL,
  last_alert_at INTEGER NOT NULL,
  resolved_at INTEGER,
  body TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS notify_incident_alerts (
  incident_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  resolved_at INTEGER,
  alertname TEXT,
  PRIMARY KEY (incident_id, fingerprint)
) STRICT;
`;

/** Columns added after a table's first version: added to a file an earlier version wrote. */
const ADDED_COLUMNS: Array<{ table: string; column: string; type: string }> = [{ table: 'notify_incident_alerts', column: 'alertname', type: 'TEXT' }];

function addMissingColumns(db: DatabaseSync): void {
  for (const { table, column, type } of ADDED_COLUMNS) {
    const columns = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

/** One connection to alerting.db (the rules engine and the notification pipeline each open one). */
export function openAlertingFile(path: string): DatabaseSync {
  mkdirSync(dirname(path), { recursive: true });
  // The busy timeout at open: a statement meeting the other connection's lock (the first one
  // included) waits instead of failing.
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  return db;
}

export function openNotifyDatabase(dataDir: string): DatabaseSync {
  const db = openAlertingFile(join(dataDir, ALERTING_DB_FILE));
  db.exec(SCHEMA);
  addMissingColumns(db);
  return db;
}

/** Runs `fn` in one transaction (BEGIN IMMEDIATE: the other connection to the file never deadlocks an upgrade). */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

export function kvGet(db: DatabaseSync, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM notify_kv WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function kvSet(db: DatabaseSync, key: string, value: string): void {
  db.prepare('INSERT INTO notify_kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
