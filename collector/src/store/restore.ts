import { chownSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ERR, PeriscopeError } from '../errors.ts';
import { BACKUP_FILES } from './backup.ts';
import { DataDirLock } from './data-dir-lock.ts';

/** A database's companions: SQLite's write-ahead log and its index (https://www.sqlite.org/wal.html). */
const COMPANIONS = ['', '-wal', '-shm', '-journal'];

/** The suffix of a backup file while it is copied in and checked, before it takes its place. */
const INCOMING = '.restoring';

export interface RestoredFile {
  file: string;
  bytes: number;
}

export interface Restore {
  files: RestoredFile[];
  /** Where the data directory's previous files were moved, or undefined when it held none. */
  setAside: string | undefined;
}

function failed(message: string): PeriscopeError {
  return new PeriscopeError(ERR.RESTORE_FAILED, message, 500);
}

/**
 * SQLite's quick check of a copied database (https://www.sqlite.org/pragma.html#pragma_quick_check):
 * a file damaged in storage or in transfer is refused before it replaces anything, instead of
 * being found by the collector at start ("database disk image is malformed") with the previous
 * data already gone. The log must also be one: a table `logs`.
 */
function checkCopy(path: string, file: string): void {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    const rows = db.prepare('PRAGMA quick_check').all() as Array<{ quick_check: string }>;
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length) throw new Error(problems.slice(0, 3).join('; '));
    if (file === 'periscope.db' && !db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs'").get()) {
      throw new Error('no table "logs": not a collector log');
    }
  } catch (err) {
    throw failed(`${file} of the backup is not a sound collector database (${(err as Error).message}); nothing was changed`);
  } finally {
    db?.close();
    // Opening the copy made its own -wal and -shm, empty after a read: not to be left behind.
    for (const suffix of ['-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}

/**
 * Replaces the databases of `dataDir` with those of the backup in `source` (written by
 * `periscope backup`, or copied by hand while the collector was stopped), for a collector that
 * is not running: the data directory's lock is held throughout, and refused
 * (PERISCOPE_ERR_DATA_DIR_LOCKED) while a collector holds it.
 *
 * What the procedure by hand got wrong, this does not (docs/deploy.md, "Backup and restore"):
 *  - every file of the data directory's previous state goes, its `-wal` and `-shm` included: a
 *    `-wal` of a later state beside an older database is applied to it at the next open and
 *    damages it. They are moved (not deleted) into `<dataDir>/replaced-<time>/`;
 *  - a database the backup lacks (a search index, alerting state) is not left from the previous
 *    state: the collector rebuilds the index from the log and starts alerting afresh;
 *  - each file is copied in under a temporary name and checked (checkCopy) before anything is
 *    replaced: a damaged backup is refused with the data directory as it was;
 *  - run as root on a data directory owned by another user (the `node` user of the image), the
 *    files are given to that user, whom the collector runs as.
 * Errors are PERISCOPE_ERR_RESTORE_FAILED.
 */
export function restoreDataDir(source: string, dataDir: string, now = new Date()): Restore {
  if (!existsSync(join(source, 'periscope.db'))) {
    throw failed(`no backup in ${source} (no periscope.db): give the directory \`periscope backup\` wrote`);
  }
  const lock = DataDirLock.acquire(dataDir);
  const incoming = BACKUP_FILES.filter((file) => existsSync(join(source, file)));
  const removeIncoming = () => {
    for (const file of incoming) for (const suffix of COMPANIONS) rmSync(join(dataDir, file + INCOMING + suffix), { force: true });
  };
  try {
    const files: RestoredFile[] = [];
    try {
      for (const file of incoming) {
        const copy = join(dataDir, file + INCOMING);
        copyFileSync(join(source, file), copy);
        checkCopy(copy, file);
        files.push({ file, bytes: statSync(copy).size });
      }
    } catch (err) {
      removeIncoming();
      if (err instanceof PeriscopeError) throw err;
      throw failed(`copying the backup of ${source} into ${dataDir} failed (${(err as Error).message}); nothing was changed`);
    }
    const setAside = setPreviousAside(dataDir, now);
    const owner = statSync(dataDir);
    for (const { file } of files) {
      const target = join(dataDir, file);
      renameSync(join(dataDir, file + INCOMING), target);
      if (process.getuid?.() === 0 && owner.uid !== 0) chownSync(target, owner.uid, owner.gid);
    }
    return { files, setAside };
  } finally {
    lock.release();
  }
}

/** Moves every database file of `dataDir` (companions included) into a new folder; its path, or undefined when there was none. */
function setPreviousAside(dataDir: string, now: Date): string | undefined {
  const present = BACKUP_FILES.flatMap((file) => COMPANIONS.map((suffix) => file + suffix)).filter((name) => existsSync(join(dataDir, name)));
  if (present.length === 0) return undefined;
  const aside = join(dataDir, `replaced-${now.toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(aside);
  for (const name of present) renameSync(join(dataDir, name), join(aside, name));
  return aside;
}
