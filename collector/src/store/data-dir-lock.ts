import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ERR, PeriscopeError } from '../errors.ts';

/** https://www.sqlite.org/rescode.html#busy: another connection holds a conflicting lock. */
const SQLITE_BUSY = 5;

/**
 * One collector per data directory, as Prometheus locks its storage directory: two collectors on
 * the same files would each run retention and export every record twice. Node has no flock, so
 * the lock is SQLite's own: an exclusive transaction on `<dataDir>/lock.db`, opened and never
 * committed. SQLite's file locks are released by the operating system when the process ends,
 * kill -9 included, so a crash never leaves the directory locked.
 */
export class DataDirLock {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Takes the lock, or throws PERISCOPE_ERR_DATA_DIR_LOCKED when another process holds it. */
  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'lock.db');
    const log = join(dataDir, 'periscope.db');
    // Written by a version before this lock (up to Dec 4, 2026), whose collector may still run:
    // it takes no lock, so ask SQLite whether the log is open in another process (see logInUse).
    // Before lock.db is created, so that a start refused here is refused again the next time.
    if (!existsSync(path) && existsSync(log) && logInUse(log)) {
      throw new PeriscopeError(
        ERR.DATA_DIR_LOCKED,
        `data directory ${dataDir} is in use: ${log} is open in another process (a collector of a version before Dec 5, 2026, which takes no lock, or a tool reading it); stop it before starting this version on the directory`,
        500,
      );
    }
    const db = new DatabaseSync(path, { timeout: 0 });
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { errcode?: number }).errcode !== SQLITE_BUSY) throw err;
      throw new PeriscopeError(
        ERR.DATA_DIR_LOCKED,
        `data directory ${dataDir} is in use by another running collector (it holds ${path}); stop that one, or give this one its own store.dataDir (PERISCOPE_DATA_DIR)`,
        500,
      );
    }
    return new DataDirLock(db);
  }

  release(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

/**
 * Whether another connection has the database open. An exclusive lock (locking_mode EXCLUSIVE,
 * then an exclusive transaction) is refused while any other connection holds its shared lock on a
 * WAL database, which a collector's connections do for as long as they are open; released at
 * once. Only asked of a directory without lock.db: a tool that keeps the log open (a backup) would
 * otherwise stop every start.
 */
function logInUse(path: string): boolean {
  const probe = new DatabaseSync(path, { timeout: 0 });
  try {
    probe.exec('PRAGMA locking_mode = EXCLUSIVE');
    probe.exec('BEGIN EXCLUSIVE');
    probe.exec('COMMIT');
    return false;
  } catch (err) {
    // Any other failure (a damaged file) is for opening the log to report, naming the file.
    return (err as { errcode?: number }).errcode === SQLITE_BUSY;
  } finally {
    probe.close();
  }
}
