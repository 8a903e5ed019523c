import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { ERR, PeriscopeError } from '../errors.ts';
import { BUSY_TIMEOUT_MS } from './database.ts';

/**
 * The files a backup holds, in the order they are copied. The search index goes before the log:
 * an index older than its log is caught up from the log at the next start, while one ahead of it
 * had positions taken for records the log does not hold (fts-worker.ts clamps it since). alerting.db
 * is a database of its own, copied last. lock.db holds nothing (its lock is the operating system's).
 */
export const BACKUP_FILES = ['periscope-fts.db', 'periscope.db', 'alerting.db'] as const;

/**
 * Pages per step of SQLite's backup: all of them. The online backup API starts over when another
 * connection writes the source between two steps (https://www.sqlite.org/backup.html), which a
 * collector taking records does every few milliseconds: copied 100 pages at a time (node:sqlite's
 * default), a busy log was never done. In one step the copy is a single read transaction, a
 * snapshot of the moment it began; in WAL mode it does not block the collector's writes (the
 * WAL grows until it ends).
 */
const ALL_PAGES = 2 ** 31 - 1;

export interface BackedUpFile {
  file: string;
  bytes: number;
}

/**
 * Copies the collector's databases from `dataDir` into `dest` (created; it must not exist or be
 * empty), each a consistent snapshot taken with SQLite's online backup API while a collector may
 * be running on `dataDir`. The files are snapshots of slightly different moments (the log's
 * cursors and dead letters are in the same file as the records, so they match). A failure
 * removes what was written (and `dest`, when it created it), and is thrown as
 * PERISCOPE_ERR_BACKUP_FAILED.
 */
export async function backupDataDir(dataDir: string, dest: string): Promise<BackedUpFile[]> {
  if (!existsSync(join(dataDir, 'periscope.db'))) {
    throw new PeriscopeError(ERR.BACKUP_FAILED, `no collector data in ${dataDir} (no periscope.db): check store.dataDir (PERISCOPE_DATA_DIR)`, 500);
  }
  if (existsSync(dest) && (!statSync(dest).isDirectory() || readdirSync(dest).length > 0)) {
    throw new PeriscopeError(ERR.BACKUP_FAILED, `${dest} exists and is not an empty directory: a backup is written into a new (or empty) one`, 500);
  }
  const created = !existsSync(dest);
  mkdirSync(dest, { recursive: true });
  const written: BackedUpFile[] = [];
  try {
    for (const file of BACKUP_FILES) {
      const source = join(dataDir, file);
      if (!existsSync(source)) continue;
      const target = join(dest, file);
      const db = new DatabaseSync(source, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
      try {
        await backup(db, target, { rate: ALL_PAGES });
      } finally {
        db.close();
      }
      written.push({ file, bytes: statSync(target).size });
    }
  } catch (err) {
    // The copies, and the rollback journal SQLite leaves beside a target it could not finish (a full disk).
    for (const file of BACKUP_FILES) for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(join(dest, file + suffix), { force: true });
    if (created) rmSync(dest, { recursive: true, force: true });
    throw new PeriscopeError(ERR.BACKUP_FAILED, `backup of ${dataDir} into ${dest} failed: ${(err as Error).message}`, 500);
  }
  return written;
}
