import { accessSync, constants, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

type PathKind = 'directory' | 'file' | undefined;

function pathKind(path: string): PathKind {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined ? undefined : stat.isDirectory() ? 'directory' : 'file';
}

/** The files the collector writes in its data directory (lock, log, search index, alerting state). */
const DATA_FILES = ['lock.db', 'periscope.db', 'periscope-fts.db', 'alerting.db'];

const ACCESS_REASONS: Record<string, string> = {
  EROFS: 'is on a read-only file system',
  EACCES: 'is not writable by this user',
  EPERM: 'is not writable by this user',
};

/**
 * Why the collector cannot write in `dataDir`, in words an operator acts on, or undefined when
 * the directory and its files look writable. SQLite and mkdir say less, or something else: "unable
 * to open database file" for a read-only directory, "attempt to write a readonly database" for a
 * read-only file, ENOENT from mkdir on a read-only file system. Checks the directory, or the
 * nearest existing folder above it when it does not exist yet, then each data file there.
 */
export function dataDirAccessProblem(dataDir: string, access: (path: string, mode: number) => void = accessSync, kind: (path: string) => PathKind = pathKind): string | undefined {
  const exists = (path: string) => kind(path) !== undefined;
  const uid = process.getuid?.();
  const who = uid === undefined ? '' : ` (uid ${uid})`;
  const check = (path: string, what: string, mode: number): string | undefined => {
    try {
      access(path, mode);
      return undefined;
    } catch (err) {
      const reason = ACCESS_REASONS[(err as NodeJS.ErrnoException).code ?? ''];
      return reason && `${what} ${reason}${reason.endsWith('user') ? who : ''}`;
    }
  };
  let dir = dataDir;
  while (!exists(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (kind(dir) !== 'directory') return undefined; // a file in the way: mkdir's EEXIST/ENOTDIR says it
  if (dir !== dataDir) return check(dir, `it does not exist, and ${dir}, where it would be created,`, constants.W_OK | constants.X_OK);
  const dirProblem = check(dataDir, 'the directory', constants.W_OK | constants.X_OK);
  if (dirProblem) return dirProblem;
  for (const file of DATA_FILES) {
    const path = join(dataDir, file);
    if (!exists(path)) continue;
    const problem = check(path, file, constants.R_OK | constants.W_OK);
    if (problem) return problem;
  }
  return undefined;
}
