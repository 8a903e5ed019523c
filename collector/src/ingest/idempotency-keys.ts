// Idempotency keys for POST /api/v1/logs, after the IETF draft "The Idempotency-Key HTTP Header
// Field" (https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/, -06).
// Contract:
//  - A request that carries `Idempotency-Key` and whose records are committed stores the key,
//    a fingerprint of its body and its answer in the same transaction as the records. A request
//    with that key again (a sender's retry after a lost answer: a timeout, a dropped connection,
//    the collector killed between commit and answer) gets the stored answer, and nothing is
//    stored again: without the key such a retry stored the batch twice, and every exporter
//    delivered it twice.
//  - The same key with another body: 422 (the draft's "key reused with a different payload").
//    The same key while its first request is still being handled: 409 with Retry-After (the
//    draft's "request outstanding"); the sender retries and then gets the stored answer.
//  - A request refused (4xx/5xx, nothing committed) stores no key: its retry is handled anew.
//  - Keys are kept for `ttlMs` after their request (http.idempotencyKeyTtl); a retry later than
//    that is handled as a new request.

import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ERR, PeriscopeError } from '../errors.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ingest_keys (
  key TEXT PRIMARY KEY,
  at INTEGER NOT NULL,           -- when the request was committed, epoch ms
  fingerprint TEXT NOT NULL,     -- body length and CRC-32, after decompression
  status INTEGER NOT NULL,
  answer TEXT NOT NULL           -- the JSON body that was answered
) STRICT;
CREATE INDEX IF NOT EXISTS ingest_keys_at ON ingest_keys(at);
`;

/** Longest key taken; a UUID (the usual key) has 36 characters. */
export const MAX_KEY_LENGTH = 255;

/** How often expired keys are deleted. */
const PURGE_INTERVAL_MS = 60_000;
/**
 * Expired keys are deleted PURGE_CHUNK per transaction, PURGE_PAUSE_MS apart. One DELETE of every
 * expired key blocked the ingest thread, and grew the write-ahead log by every page it freed, in
 * proportion to the backlog: a collector started after a day or more down finds all its keys
 * expired at once (3 million keys: 45 s before it listened, a 365 MB WAL). Keys are random, so
 * each chunk rewrites index pages all over the file; with the pause the store's checkpoints keep
 * up and the WAL stays near its usual 64 MiB (the same backlog: listening at once, WAL at most
 * 95 MB, gone in about ten minutes). That is up to about 5 000 keys a second, far more requests
 * than one collector takes; expired keys left meanwhile are ignored by lookups.
 */
const PURGE_CHUNK = 500;
const PURGE_PAUSE_MS = 100;

export interface StoredAnswer {
  status: number;
  /** The JSON body as sent. */
  answer: string;
}

/** A key being handled: `commit` (inside the store's transaction) stores it with its answer. */
export interface KeyClaim {
  key: string;
  fingerprint: string;
}

/**
 * The key from an `Idempotency-Key` header: a Structured Field string (`"…"`, RFC 8941 §3.3.3),
 * as the draft defines it, or the bare token many clients send (`Idempotency-Key: 5f0c…`).
 * Pass the header's lines one by one (node's `headersDistinct`): `headers` joins repeated lines
 * with ", ", and the key given twice was then refused for its characters instead.
 * Undefined when absent; PeriscopeError 400 when empty, too long, given twice or not printable
 * ASCII.
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (Array.isArray(header)) {
    if (header.length > 1) throw badKey('Idempotency-Key is given more than once');
    header = header[0];
  }
  if (header === undefined) return undefined;
  let key = header.trim();
  if (key.startsWith('"')) {
    const m = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(key);
    if (!m) throw badKey('Idempotency-Key is not a valid string ("…" with printable ASCII, \\" and \\\\ escaped)');
    key = m[1].replace(/\\(["\\])/g, '$1');
  } else if (!/^[\x21-\x7e]*$/.test(key)) {
    throw badKey('Idempotency-Key must be printable ASCII');
  }
  if (key === '') throw badKey('Idempotency-Key is empty');
  if (key.length > MAX_KEY_LENGTH) throw badKey(`Idempotency-Key is longer than ${MAX_KEY_LENGTH} characters`);
  return key;
}

function badKey(message: string): PeriscopeError {
  return new PeriscopeError(ERR.BAD_IDEMPOTENCY_KEY, message, 400);
}

/** Length and CRC-32 of a body: tells a retry from another request reusing its key (not a security check). */
export function bodyFingerprint(body: Uint8Array): string {
  return `${body.length}:${crc32(body).toString(16)}`;
}

export class IdempotencyKeys {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #find: StatementSync;
  readonly #insert: StatementSync;
  readonly #purge: StatementSync;
  readonly #handling = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #purging: Promise<number> | undefined;
  #stopped = false;

  constructor(db: DatabaseSync, options: { ttlMs: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    db.exec(SCHEMA);
    this.#find = db.prepare('SELECT fingerprint, status, answer FROM ingest_keys WHERE key = ? AND at >= ?');
    this.#insert = db.prepare('INSERT OR REPLACE INTO ingest_keys(key, at, fingerprint, status, answer) VALUES (?, ?, ?, ?, ?)');
    this.#purge = db.prepare('DELETE FROM ingest_keys WHERE rowid IN (SELECT rowid FROM ingest_keys WHERE at < ? LIMIT ?)');
  }

  /**
   * Before handling a request with `key`: the stored answer when the key was committed (a
   * retry), else a claim that the caller must `release` when done (committed or not).
   * Throws 422 when the key was committed with another body, 409 while it is being handled.
   */
  claim(key: string, body: Uint8Array): { replay: StoredAnswer } | { claim: KeyClaim } {
    const fingerprint = bodyFingerprint(body);
    const row = this.#find.get(key, this.#now() - this.#ttlMs) as { fingerprint: string; status: number; answer: string } | undefined;
    if (row) {
      if (row.fingerprint !== fingerprint) {
        throw new PeriscopeError(ERR.IDEMPOTENCY_KEY_REUSED, 'Idempotency-Key was already used for a request with another body', 422);
      }
      return { replay: { status: row.status, answer: row.answer } };
    }
    if (this.#handling.has(key)) {
      throw new PeriscopeError(ERR.IDEMPOTENCY_KEY_IN_USE, 'a request with this Idempotency-Key is being handled; retry to get its answer', 409, undefined, 1);
    }
    this.#handling.add(key);
    return { claim: { key, fingerprint } };
  }

  /** Stores the claimed key with its answer. Call inside the transaction that commits the records. */
  commit(claim: KeyClaim, answer: StoredAnswer): void {
    this.#insert.run(claim.key, this.#now(), claim.fingerprint, answer.status, answer.answer);
  }

  release(claim: KeyClaim): void {
    this.#handling.delete(claim.key);
  }

  /**
   * Deletes keys older than the TTL, PURGE_CHUNK at a time with the event loop served in between;
   * resolves with how many. Concurrent calls share the purge in progress; stop() ends it after
   * its current chunk.
   */
  purge(): Promise<number> {
    this.#purging ??= this.#purgeInChunks().finally(() => {
      this.#purging = undefined;
    });
    return this.#purging;
  }

  async #purgeInChunks(): Promise<number> {
    const cutoff = this.#now() - this.#ttlMs;
    let deleted = 0;
    for (;;) {
      const n = Number(this.#purge.run(cutoff, PURGE_CHUNK).changes);
      deleted += n;
      if (n < PURGE_CHUNK) return deleted;
      await sleep(PURGE_PAUSE_MS, undefined, { ref: false });
      if (this.#stopped) return deleted;
    }
  }

  /** Purges expired keys now (in the background) and every minute. */
  start(onError: (err: unknown) => void): void {
    if (this.#timer) return;
    this.#stopped = false;
    // A full disk: the next run tries again; lookups ignore expired keys meanwhile.
    const run = () => void this.purge().catch(onError);
    run();
    this.#timer = setInterval(run, PURGE_INTERVAL_MS).unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
