import { mkdirSync } from 'node:fs';
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
