import type { DatabaseSync, StatementSync } from 'node:sqlite';

/**
 * A remote writer's queue of encoded WriteRequests, oldest first, kept in the collector's database
 * (table remote_write_queue) so that the requests waiting during an outage survive a restart,
 * `kill -9` included: Prometheus' own remote write resumes from its WAL after one. Only the index
 * (sequence, samples, bytes, time) stays in memory; a body is read back when it is sent. A request
 * the database cannot take (a full disk) is kept in memory instead, and lost with the process as
 * all of them were before. Without a database (unit tests) every body stays in memory.
 */
export interface QueuedRequest {
  readonly seq: number;
  readonly samples: number;
  readonly bytes: number;
  /** When the samples were read (ms since the epoch). */
  readonly at: number;
}

interface Entry extends QueuedRequest {
  /** The body when it is not in the database. */
  body?: Uint8Array;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS remote_write_queue (
  exporter TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (exporter, seq)
) STRICT, WITHOUT ROWID`;

/** Drops the queues of remote writers no longer configured; returns their samples per exporter. */
export function dropOtherQueues(db: DatabaseSync, keep: string[]): Map<string, number> {
  db.exec(SCHEMA);
  const gone = new Map<string, number>();
  const rows = db.prepare('SELECT exporter, sum(samples) AS samples FROM remote_write_queue GROUP BY exporter').all() as Array<{ exporter: string; samples: number }>;
  const remove = db.prepare('DELETE FROM remote_write_queue WHERE exporter = ?');
  for (const { exporter, samples } of rows) {
    if (keep.includes(exporter)) continue;
    remove.run(exporter);
    gone.set(exporter, samples);
  }
  return gone;
}

export class RequestQueue {
  readonly #exporter: string;
  readonly #entries: Entry[] = [];
  #samples = 0;
  #bytes = 0;
  #nextSeq = 1;
  readonly #insert?: StatementSync;
  readonly #select?: StatementSync;
  readonly #delete?: StatementSync;
  /** The last insert failed (logged once by the caller through onStoreError). */
  #unstored = false;
  readonly #onStoreError: (err: Error | undefined) => void;

  /**
   * `onStoreError(err)` is called when a request could not be stored (kept in memory), and with
   * undefined when storing works again.
   */
  constructor(exporter: string, db: DatabaseSync | undefined, onStoreError: (err: Error | undefined) => void = () => {}) {
    this.#exporter = exporter;
    this.#onStoreError = onStoreError;
    if (!db) return;
    db.exec(SCHEMA);
    this.#insert = db.prepare('INSERT INTO remote_write_queue (exporter, seq, at, samples, body) VALUES (?, ?, ?, ?, ?)');
    this.#select = db.prepare('SELECT body FROM remote_write_queue WHERE exporter = ? AND seq = ?');
    this.#delete = db.prepare('DELETE FROM remote_write_queue WHERE exporter = ? AND seq = ?');
    const rows = db.prepare('SELECT seq, at, samples, length(body) AS bytes FROM remote_write_queue WHERE exporter = ? ORDER BY seq').all(exporter) as Array<{ seq: number; at: number; samples: number; bytes: number }>;
    for (const r of rows) this.#add({ seq: r.seq, at: r.at, samples: r.samples, bytes: r.bytes });
    if (rows.length > 0) this.#nextSeq = rows[rows.length - 1].seq + 1;
  }

  get length(): number {
    return this.#entries.length;
  }

  get samples(): number {
    return this.#samples;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The oldest request, or undefined when the queue is empty. */
  get head(): QueuedRequest | undefined {
    return this.#entries[0];
  }

  push(body: Uint8Array, samples: number, at: number): void {
    const entry: Entry = { seq: this.#nextSeq++, samples, bytes: body.length, at };
    if (this.#insert) {
      try {
        this.#insert.run(this.#exporter, entry.seq, at, samples, body);
        if (this.#unstored) this.#onStoreError(undefined);
        this.#unstored = false;
      } catch (err) {
        if (!this.#unstored) this.#onStoreError(err as Error);
        this.#unstored = true;
        entry.body = body;
      }
    } else entry.body = body;
    this.#add(entry);
  }

  /** The body of a queued request; an Error when the database cannot give it back. */
  body(request: QueuedRequest): Uint8Array | Error {
    const entry = request as Entry;
    if (entry.body) return entry.body;
    try {
      const row = this.#select!.get(this.#exporter, entry.seq) as { body: Uint8Array } | undefined;
      return row ? row.body : new Error(`request ${entry.seq} is not in the database`);
    } catch (err) {
      return err as Error;
    }
  }

  /** Removes the request at `index` (0: the oldest) and returns it. */
  removeAt(index: number): QueuedRequest {
    const [entry] = this.#entries.splice(index, 1);
    this.#samples -= entry.samples;
    this.#bytes -= entry.bytes;
    // A request whose row cannot be deleted (a disk error) is sent again after a restart: remote
    // write receivers take a sample they already have.
    if (!entry.body) {
      try {
        this.#delete!.run(this.#exporter, entry.seq);
      } catch {}
    }
    return entry;
  }

  #add(entry: Entry): void {
    this.#entries.push(entry);
    this.#samples += entry.samples;
    this.#bytes += entry.bytes;
  }
}
