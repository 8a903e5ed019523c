// A query thread past store.queryTimeout, or whose client went away, is stopped with
// worker.terminate(), which takes effect only when the thread runs JavaScript: node:sqlite has no
// sqlite3_interrupt. A statement that reads millions of rows without calling any (a log stats or
// count over weeks, a trace search whose attr. filters match few spans, a dead-letter count by
// service) ran on to its end after its 503, a core busy for an answer nobody waits for, and each
// repeat of the query started another thread beside it, past store.queryThreads. The check below,
// made the first WHERE term, has SQLite call into JavaScript every 256 rows it reads, also those
// the other terms leave out; it costs nothing measurable.
import type { DatabaseSync } from 'node:sqlite';

/** Rows a statement reads between two calls into JavaScript. */
const EVERY = 256;

/** The WHERE term, over the table's integer key `id` (with its alias: `l.id`). */
export function runningCheck(id: string): string {
  return `(${id} % ${EVERY} <> 0 OR periscope_running())`;
}

/** Registers the function the check calls on a connection (each connection that runs such SQL). */
export function allowRunningCheck(db: DatabaseSync): void {
  // Not deterministic: SQLite calls it for each row that reaches it.
  db.function('periscope_running', { deterministic: false }, () => 1);
}
