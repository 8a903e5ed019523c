import { statSync, type Stats } from 'node:fs';

/** How often the database file's path is checked. */
export const WATCH_INTERVAL_MS = 2000;

/**
 * Called by the stores before a write (`committed` false) and after its commit (true); throws
 * when the write must not be acknowledged. collector.ts checks the file's identity after each
 * commit, so a record committed to a file deleted under the collector is refused, not acknowledged.
 */
export type WriteGuard = (committed: boolean) => void;

/** Why the open database file is no longer the one at its path, and since when. */
export interface LostFile {
  reason: string;
  since: string;
}

function identity(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

/**
 * Notices when the database file the collector writes is no longer the file at its path: the
 * data directory deleted (`rm -rf`), moved or replaced while the collector runs. SQLite keeps
 * writing the open file without an error, but no one will open it again: every record
 * acknowledged after that would be gone at the next start, and another collector could take the
 * directory (its lock file went too). `onLost` is called once; what to do is the caller's (the
 * collector refuses writes with 503 and reports the store down until it is restarted). The timer
 * notices a loss while nothing is written; the collector also calls check() after each commit,
 * before acknowledging (one stat() per written batch).
 */
export class DatabaseFileWatch {
  readonly #path: string;
  readonly #identity: string;
  readonly #timer: NodeJS.Timeout;
  #lost: LostFile | undefined;

  constructor(path: string, onLost: (lost: LostFile) => void, intervalMs = WATCH_INTERVAL_MS) {
    this.#path = path;
    this.#identity = identity(statSync(path));
    this.#timer = setInterval(() => {
      const lost = this.check();
      if (lost) {
        clearInterval(this.#timer);
        onLost(lost);
      }
    }, intervalMs);
    this.#timer.unref();
  }

  /** The loss, as of the last check (no file system call: cheap enough for every write). */
  get lost(): LostFile | undefined {
    return this.#lost;
  }

  /** Compares the path with the file opened; the loss once seen, undefined while all is well. */
  check(): LostFile | undefined {
    if (this.#lost) return this.#lost;
    let reason: string | undefined;
    try {
      if (identity(statSync(this.#path)) !== this.#identity) reason = `${this.#path} was replaced by another file while the collector ran`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') reason = `${this.#path} was deleted (or its directory moved) while the collector ran`;
      // anything else (EACCES, EIO) is not evidence of a different file: checked again next time
    }
    if (reason !== undefined) this.#lost = { reason, since: new Date().toISOString() };
    return this.#lost;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
