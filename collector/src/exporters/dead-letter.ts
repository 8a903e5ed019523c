import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { setImmediate } from 'node:timers/promises';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { transaction } from '../store/database.ts';
import { allowRunningCheck, runningCheck } from '../store/running-check.ts';
import { causeOf } from './dead-letter-cause.ts';
import type { ExporterMetrics } from './metrics.ts';
import type { ExportResult } from './result.ts';

/**
 * One item a backend refused permanently (DESIGN.md principle 3: never silently lost): a log
 * record, or a span document of an Elasticsearch traces data stream (`<exporter>:traces`).
 */
export type DeadLetter = DeadLetterCommon & (LogLetter | SpanLetter);

export interface LogLetter {
  kind: 'log';
  record: LogRecord;
}

export interface SpanLetter {
  kind: 'span';
  /** The document's `_id` (`<traceId>-<spanId>`): a replay of a span already delivered meets 409. */
  documentId: string;
  /** The document as it was sent. */
  document: Record<string, unknown>;
}

interface DeadLetterCommon {
  id: number;
  exporter: string;
  /** Position of the item in the durable log, or in the span store for spans (keeps Elasticsearch `_id`s stable on replay). */
  logId: number;
  /** Record timestamp (a span's start), epoch microseconds. */
  micros: number;
  /** The backend's reason, e.g. Loki's 400 text or Elasticsearch's `mapper_parsing_exception: …`. */
  reason: string;
  /** HTTP status of the refusal (0 when refused before sending, e.g. an invalid label). */
  status: number;
  /** When it was dead-lettered (last time, for replayed items), epoch ms. */
  at: number;
  /** Delivery attempts so far, replays included. */
  attempts: number;
}

// AUTOINCREMENT: an id is never given to a second letter, even after the newest letters were
// replayed and removed (a plain INTEGER PRIMARY KEY reuses max(id) + 1), so an id from an earlier
// listing or page cursor never designates another letter. https://sqlite.org/autoinc.html
const TABLE = `
CREATE TABLE IF NOT EXISTS deadletter (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  exporter TEXT NOT NULL,
  log_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL,       -- the record as JSON, as in logs.body; for a span, its document
  reason TEXT NOT NULL,
  status INTEGER NOT NULL,
  at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1,
  kind TEXT NOT NULL DEFAULT 'log',   -- 'log' | 'span'
  doc_id TEXT,                        -- a span document's _id
  cause TEXT NOT NULL DEFAULT ''      -- causeOf(reason), kept with it
) STRICT;
`;
const INDEXES = `
CREATE INDEX IF NOT EXISTS deadletter_exporter ON deadletter(exporter, id);
-- One letter per record and exporter: a record refused again (after a crash, or a replay) updates it.
CREATE UNIQUE INDEX IF NOT EXISTS deadletter_record ON deadletter(exporter, log_id);
-- The summary reads this index only: reading each letter's reason took about a second for 100 000.
CREATE INDEX IF NOT EXISTS deadletter_cause ON deadletter(exporter, status, cause, at);
`;

/**
 * Records whose letters were discarded (DELETE /api/v1/deadletter) or deleted by the bounds
 * (deadletter_full) before the exporter's cursor passed them, by position and timestamp (a
 * position given again to another record, after retention emptied the log, is not taken for it):
 * refused again when the batch is sent again after a restart, they are not filed again (nor
 * counted again). Forgotten once the cursor passes them, so they are at most the records between
 * the cursor and what the exporter has read (its flights).
 */
const DISCARDED = `
CREATE TABLE IF NOT EXISTS deadletter_discarded (
  exporter TEXT NOT NULL,
  log_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (exporter, log_id)
) STRICT, WITHOUT ROWID;
`;

interface Row {
  id: number;
  exporter: string;
  log_id: number;
  ts: number;
  body: string;
  reason: string;
  status: number;
  at: number;
  attempts: number;
  kind: 'log' | 'span';
  doc_id: string | null;
}

const toLetter = (r: Row): DeadLetter => ({
  id: r.id,
  exporter: r.exporter,
  logId: r.log_id,
  micros: r.ts,
  ...(r.kind === 'span'
    ? { kind: 'span' as const, documentId: r.doc_id ?? '', document: JSON.parse(r.body) as Record<string, unknown> }
    : { kind: 'log' as const, record: JSON.parse(r.body) as LogRecord }),
  reason: r.reason,
  status: r.status,
  at: r.at,
  attempts: r.attempts,
});

/** A letter to add: a log record, or a span document with its `_id` and JSON source. */
export type NewLetter = { logId: number; micros: number; reason: string; status: number; attempts?: number } & (
  | { kind?: 'log'; record: LogRecord }
  | { kind: 'span'; documentId: string; source: string }
);

const COLUMNS = 'id, exporter, log_id, ts, body, reason, status, at, attempts, kind, doc_id, cause';

/**
 * Creates the table, or brings one written by an earlier version up to date: tables created before
 * span letters existed get their columns; tables created without AUTOINCREMENT are copied into one
 * with it (SQLite cannot add it in place; the copy keeps every id, and numbering continues above
 * the highest); tables created before the summary get each letter's cause.
 */
function createOrMigrate(db: DatabaseSync): void {
  const existing = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'deadletter'").get() as { sql: string } | undefined;
  if (!existing) {
    db.exec(TABLE + INDEXES);
    return;
  }
  const columns = new Set((db.prepare('PRAGMA table_info(deadletter)').all() as Array<{ name: string }>).map((c) => c.name));
  transaction(db, () => {
    if (!columns.has('kind')) db.exec("ALTER TABLE deadletter ADD COLUMN kind TEXT NOT NULL DEFAULT 'log'");
    if (!columns.has('doc_id')) db.exec('ALTER TABLE deadletter ADD COLUMN doc_id TEXT');
    if (!columns.has('cause')) {
      db.exec("ALTER TABLE deadletter ADD COLUMN cause TEXT NOT NULL DEFAULT ''");
      const set = db.prepare('UPDATE deadletter SET cause = ? WHERE id = ?');
      for (const r of db.prepare('SELECT id, reason FROM deadletter').all() as Array<{ id: number; reason: string }>) set.run(causeOf(r.reason), r.id);
    }
    if (!/AUTOINCREMENT/i.test(existing.sql)) {
      db.exec('ALTER TABLE deadletter RENAME TO deadletter_old');
      db.exec('DROP INDEX IF EXISTS deadletter_exporter; DROP INDEX IF EXISTS deadletter_record');
      db.exec(TABLE);
      db.exec(`INSERT INTO deadletter (${COLUMNS}) SELECT ${COLUMNS} FROM deadletter_old ORDER BY id`);
      db.exec('DROP TABLE deadletter_old');
    }
    db.exec(INDEXES);
  });
}

/**
 * Which letters: of an exporter, refused with an HTTP status (0: by the exporter's own checks),
 * whose reason contains a text (case-insensitive: a cause of the summary, an Elasticsearch error
 * type, a phrase of Loki's), of a service (a log record's appName, a span's service.name), with a
 * record time (a span's start) in [startMicros, endMicros), listed ids, after a position.
 */
export interface LetterSelection {
  exporter?: string;
  status?: number;
  reason?: string;
  service?: string;
  startMicros?: number;
  endMicros?: number;
  ids?: number[];
  afterId?: number;
}

/** A letter's service: the record's appName, or the span document's service.name. */
const SERVICE = "(CASE kind WHEN 'span' THEN json_extract(body, '$.service.name') ELSE json_extract(body, '$.appName') END)";

/** The WHERE clause (and its parameters) picking letters by the selection's fields. */
function selection(options: LetterSelection): { where: string; params: Array<string | number> } {
  // First: a count by service or reason reads every letter's body in one step (running-check.ts).
  const clauses: string[] = [runningCheck('id')];
  const params: Array<string | number> = [];
  if (options.status !== undefined) {
    clauses.push('status = ?');
    params.push(options.status);
  }
  if (options.afterId !== undefined) {
    clauses.push('id > ?');
    params.push(options.afterId);
  }
  if (options.exporter) {
    clauses.push('exporter = ?');
    params.push(options.exporter);
  }
  if (options.reason) {
    clauses.push('instr(lower(reason), lower(?)) > 0');
    params.push(options.reason);
  }
  if (options.service) {
    clauses.push(`${SERVICE} = ?`);
    params.push(options.service);
  }
  if (options.startMicros !== undefined) {
    clauses.push('ts >= ?');
    params.push(options.startMicros);
  }
  if (options.endMicros !== undefined) {
    clauses.push('ts < ?');
    params.push(options.endMicros);
  }
  if (options.ids) {
    clauses.push('id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(options.ids));
  }
  return { where: `WHERE ${clauses.join(' AND ')}`, params };
}

/** Letters deleted together, of one exporter. */
interface DeletedGroup {
  exporter: string;
  n: number;
  bytes: number;
}

/** Letters of one exporter refused for one cause (GET /api/v1/deadletter/summary). */
export interface CauseCount {
  exporter: string;
  status: number;
  /** What the letters' reasons share (dead-letter-cause.ts): pass it as `reason` to pick them. */
  cause: string;
  count: number;
  /** The newest letter's reason, whole. */
  example: string;
  /** When the oldest and the newest were dead-lettered, epoch ms. */
  firstAt: number;
  lastAt: number;
}

/**
 * A page of GET /api/v1/deadletter: oldest first, up to `limit` letters and `maxChars`
 * characters of their bodies (always one letter), and whether more follow. The records a
 * backend refuses for good are often the large ones (Loki's 256 KB line limit), up to 16 MiB
 * each, so 1000 of them in one page were gigabytes parsed on the ingest thread. A function of the
 * database, not of DeadLetterStore: the query thread reads pages on its own connection
 * (dead-letter-page.ts).
 */
export function letterPage(db: DatabaseSync, options: LetterSelection & { limit: number; maxChars: number }): { letters: DeadLetter[]; more: boolean } {
  const { where, params } = selection(options);
  const letters: DeadLetter[] = [];
  let chars = 0;
  for (const row of db.prepare(`SELECT * FROM deadletter ${where} ORDER BY id LIMIT ?`).iterate(...params, options.limit + 1) as Iterable<Row>) {
    if (letters.length === options.limit || (letters.length > 0 && chars + row.body.length > options.maxChars)) return { letters, more: true };
    chars += row.body.length;
    letters.push(toLetter(row));
  }
  return { letters, more: false };
}

/** The letters the selection picks, counted in SQL. */
export function countLetters(db: DatabaseSync, options: LetterSelection): number {
  const { where, params } = selection(options);
  return (db.prepare(`SELECT count(*) AS n FROM deadletter ${where}`).get(...params) as { n: number }).n;
}

/**
 * Dead-letter store: a table of the collector's database (same durability as the log, and not
 * touched by log retention). Bounded per exporter: past `maxPerExporter` the oldest letters are
 * deleted and reported to the caller, who counts them as dropped (reason `deadletter_full`).
 */
export class DeadLetterStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #exists: StatementSync;
  readonly #count: StatementSync;
  readonly #countAll: StatementSync;
  readonly #sizes: StatementSync;
  readonly #oldestSizes: StatementSync;
  readonly #deleteIds: StatementSync;
  readonly #oldestIds: StatementSync;
  readonly #counts = new Map<string, number>();
  /** Bytes of the letters' bodies per exporter (cached like #counts; octet_length reads no body). */
  readonly #bytes = new Map<string, number>();
  readonly #isDiscarded: StatementSync;
  readonly #forget: StatementSync;
  readonly #countDiscarded: StatementSync;
  /** Positions remembered in deadletter_discarded per exporter (cached like #counts). */
  readonly #discarded = new Map<string, number>();
  /** Each running exporter's cursor, as last told (forgetDiscarded): the bounds remember the letters they delete after it. */
  readonly #cursors = new Map<string, number>();
  readonly #rememberEvicted: StatementSync;
  /**
   * Ids of the letters a replay is sending now (claim/release). Two replays at once (a script's
   * retry after its client timed out, two operators) both sent the same letters, and both
   * answered them as replayed; a DELETE meanwhile counted a delivered letter as discarded; the
   * bounds deleting it meanwhile counted it as dropped, then as replayed or failed: each leaves
   * such a letter to the replay.
   */
  readonly #sending = new Set<number>();
  readonly #sendingSizes: StatementSync;
  readonly #existing: StatementSync;
  /** Exporters whose letters are being brought within the bounds, slice by slice (beginTrim). */
  readonly #trimming = new Set<string>();
  /**
   * Sums of the letters' sizes being made in slices (sumBytes), by exporter: of the letters up to
   * `afterId`. The oldest letters the bounds delete meanwhile are taken off it; any other deletion
   * (a replay, a discard) makes it start again (`stale`).
   */
  readonly #summing = new Map<string, { afterId: number; sum: number; stale: boolean }>();
  readonly #sizesAfter: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    allowRunningCheck(db); // its selections carry the check (query threads register it with their LogReader)
    createOrMigrate(db);
    db.exec(DISCARDED);
    this.#isDiscarded = db.prepare('SELECT 1 FROM deadletter_discarded WHERE exporter = ? AND log_id = ? AND ts = ?');
    this.#forget = db.prepare('DELETE FROM deadletter_discarded WHERE exporter = ? AND log_id <= ?');
    this.#countDiscarded = db.prepare('SELECT count(*) AS n FROM deadletter_discarded WHERE exporter = ?');
    this.#rememberEvicted = db.prepare(
      'INSERT OR REPLACE INTO deadletter_discarded (exporter, log_id, ts) SELECT exporter, log_id, ts FROM deadletter WHERE id IN (SELECT value FROM json_each(?)) AND log_id > ?',
    );
    this.#insert = db.prepare(
      `INSERT INTO deadletter(exporter, log_id, ts, body, reason, status, at, attempts, kind, doc_id, cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(exporter, log_id) DO UPDATE SET reason = excluded.reason, status = excluded.status, at = excluded.at, attempts = attempts + 1, cause = excluded.cause`,
    );
    this.#exists = db.prepare('SELECT 1 FROM deadletter WHERE exporter = ? AND log_id = ?');
    this.#count = db.prepare('SELECT count(*) AS n FROM deadletter WHERE exporter = ?');
    this.#countAll = db.prepare('SELECT count(*) AS n FROM deadletter');
    this.#sizes = db.prepare('SELECT coalesce(sum(octet_length(body)), 0) AS n FROM deadletter WHERE exporter = ?');
    this.#oldestSizes = db.prepare('SELECT id, octet_length(body) AS n FROM deadletter WHERE exporter = ? ORDER BY id');
    this.#deleteIds = db.prepare('DELETE FROM deadletter WHERE id IN (SELECT value FROM json_each(?))');
    this.#sizesAfter = db.prepare('SELECT id, octet_length(body) AS n FROM deadletter WHERE exporter = ? AND id > ? ORDER BY id LIMIT ?');
    this.#oldestIds = db.prepare('SELECT id, octet_length(body) AS n FROM deadletter WHERE exporter = ? ORDER BY id LIMIT ?');
    this.#sendingSizes = db.prepare(
      'SELECT count(*) AS n, coalesce(sum(octet_length(body)), 0) AS bytes FROM deadletter WHERE exporter = ? AND id IN (SELECT value FROM json_each(?))',
    );
    this.#existing = db.prepare('SELECT id FROM deadletter WHERE id IN (SELECT value FROM json_each(?))');
  }

  /** Bytes of the letters held for `exporter` (their bodies, as stored). */
  bytes(exporter: string): number {
    let n = this.#bytes.get(exporter);
    if (n === undefined) {
      n = (this.#sizes.get(exporter) as { n: number }).n;
      this.#bytes.set(exporter, n);
    }
    return n;
  }

  /** Letters held for `exporter` (cached; kept exact by this class's own writes). */
  count(exporter: string): number {
    let n = this.#counts.get(exporter);
    if (n === undefined) {
      n = (this.#count.get(exporter) as { n: number }).n;
      this.#counts.set(exporter, n);
    }
    return n;
  }

  total(exporter?: string): number {
    return exporter ? this.count(exporter) : (this.#countAll.get() as { n: number }).n;
  }

  /**
   * The picked letters counted by exporter, status and cause, the largest groups first: what an
   * operator reads before replaying or discarding one cause, instead of paging through every
   * letter. Without filters beyond exporter and status, from the cause index alone.
   */
  summary(options: LetterSelection): CauseCount[] {
    const { where, params } = selection(options);
    const groups = this.#db
      .prepare(`SELECT exporter, status, cause, count(*) AS count, min(at) AS firstAt, max(at) AS lastAt, max(id) AS last FROM deadletter ${where} GROUP BY exporter, status, cause`)
      .all(...params) as Array<Omit<CauseCount, 'example'> & { last: number }>;
    const example = this.#db.prepare('SELECT reason FROM deadletter WHERE id = ?');
    return groups
      .map(({ last, ...g }) => ({ ...g, example: (example.get(last) as { reason: string }).reason }))
      .sort((a, b) => b.count - a.count || (a.exporter < b.exporter ? -1 : a.exporter > b.exporter ? 1 : 0) || (a.cause < b.cause ? -1 : 1));
  }

  /**
   * Adds letters for one exporter and trims the oldest beyond `max` letters, and beyond
   * `maxBytes` of their bodies (the newest letter always stays). A record that already has a
   * letter (refused again after a restart read it again from the cursor) updates it instead.
   * Returns how many letters are new, and how many old letters were deleted to make room.
   * Between beginTrim and endTrim (trim() brings the letters within the bounds in slices), as
   * many of the oldest letters are deleted as are added, at most: the whole excess, deleted here
   * in one transaction, took seconds for 200 000.
   */
  add(
    exporter: string,
    items: NewLetter[],
    max: number,
    now = Date.now(),
    maxBytes = Number.POSITIVE_INFINITY,
  ): { added: number; evicted: number; discarded: number } {
    let evicted = 0;
    let added = 0;
    let discarded = 0;
    const remembered = items.length > 0 && this.#rememberedCount(exporter) > 0;
    try {
      transaction(this.#db, () => {
        // Not summed here when unknown (a sum reads every letter: seconds for a huge store being
        // trimmed); #evict sums them when it applies the byte bound.
        let bytes = this.#bytes.get(exporter);
        const held = this.count(exporter);
        for (const it of items) {
          if (remembered && this.#isDiscarded.get(exporter, it.logId, it.micros) !== undefined) {
            discarded++;
            continue;
          }
          const [body, kind, docId] = it.kind === 'span' ? [it.source, 'span', it.documentId] : [JSON.stringify(it.record), 'log', null];
          if (this.#exists.get(exporter, it.logId) === undefined) {
            added++;
            if (bytes !== undefined) bytes += Buffer.byteLength(body); // an existing letter keeps its body
          }
          this.#insert.run(exporter, it.logId, it.micros, body, it.reason, it.status, now, it.attempts ?? 1, kind, docId, causeOf(it.reason));
        }
        if (bytes !== undefined) this.#bytes.set(exporter, bytes);
        this.#counts.set(exporter, held + added);
        if (!this.#trimming.has(exporter)) {
          this.bytes(exporter); // summed before #evict, which applies the count bound alone while the sum is unknown
          evicted = this.#evict(exporter, max, maxBytes, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY).evicted;
        } else if (added > 0 && (this.#bytes.has(exporter) || this.count(exporter) > max)) {
          // trim() is on its way through the excess: these letters take no more room than they make
          evicted = this.#evict(exporter, max, maxBytes, added, Number.POSITIVE_INFINITY).evicted;
        }
      });
    } catch (err) {
      this.#forgetCached(exporter);
      throw err;
    }
    return { added, evicted, discarded };
  }

  #rememberedCount(exporter: string): number {
    let n = this.#discarded.get(exporter);
    if (n === undefined) {
      n = (this.#countDiscarded.get(exporter) as { n: number }).n;
      this.#discarded.set(exporter, n);
    }
    return n;
  }

  /**
   * The exporter's cursor is at `cursor`: the discarded records at or below it are not sent again,
   * and the letters the bounds delete after it are remembered. O(1) when none is remembered.
   */
  forgetDiscarded(exporter: string, cursor: number): void {
    this.#cursors.set(exporter, cursor);
    const remembered = this.#rememberedCount(exporter);
    if (remembered === 0) return;
    // Kept counted: each move of the cursor (every batch delivered) would count them again.
    this.#discarded.set(exporter, remembered - Number(this.#forget.run(exporter, cursor).changes));
  }

  /**
   * Deletes the oldest letters of `exporter` beyond `max` letters and `maxBytes` of their bodies
   * (the newest always stays), at most `slice.records` letters and, past the first, `slice.bytes`
   * of their bodies in one transaction: what the bounds leave over is deleted by the next calls
   * (`more`). Over the count bound while the bytes are not summed, by the count alone.
   */
  trim(exporter: string, max: number, maxBytes: number, slice: { records: number; bytes: number }): { evicted: number; more: boolean } {
    let result = { evicted: 0, more: false };
    try {
      transaction(this.#db, () => {
        result = this.#evict(exporter, max, maxBytes, slice.records, slice.bytes);
      });
    } catch (err) {
      this.#forgetCached(exporter);
      throw err;
    }
    return result;
  }

  /** After a failed transaction: what is cached of `exporter` may count what was rolled back. */
  #forgetCached(exporter: string): void {
    this.#counts.delete(exporter);
    this.#bytes.delete(exporter);
    this.#discarded.delete(exporter);
    const summing = this.#summing.get(exporter);
    if (summing) summing.stale = true;
  }

  /**
   * Until endTrim, add() deletes as many letters as it adds at most, leaving the excess over the
   * bounds to trim(): from an exporter's start (the first refusals may come before the collector
   * listens) to the end of boundDeadLetters.
   */
  beginTrim(exporter: string): void {
    this.#trimming.add(exporter);
  }

  endTrim(exporter: string): void {
    this.#trimming.delete(exporter);
  }

  /** Between beginTrim and endTrim. */
  trimming(exporter: string): boolean {
    return this.#trimming.has(exporter);
  }

  /**
   * Sums the sizes of the exporter's letters SUM_SLICE at a time, the event loop turning between
   * slices, and keeps the sum as bytes() does: bytes() reads every letter at once, 2.5 s for
   * 200 000 of 2 KB. Letters filed meanwhile come after the slices read (ids only grow); the
   * oldest deleted by the bounds meanwhile are taken off the sum; another deletion makes it start
   * again. Between beginTrim and endTrim (add() then does not
   * sum either). False when `stopped()` first.
   */
  async sumBytes(exporter: string, stopped: () => boolean): Promise<boolean> {
    try {
      while (!this.#bytes.has(exporter)) {
        const summing = { afterId: 0, sum: 0, stale: false };
        this.#summing.set(exporter, summing);
        for (;;) {
          if (stopped()) return false;
          const rows = this.#sizesAfter.all(exporter, summing.afterId, SUM_SLICE) as Array<{ id: number; n: number }>;
          for (const r of rows) summing.sum += r.n;
          if (rows.length < SUM_SLICE) break;
          summing.afterId = rows[rows.length - 1].id;
          await setImmediate();
          if (summing.stale) break;
        }
        if (!summing.stale && !this.#bytes.has(exporter)) this.#bytes.set(exporter, summing.sum);
      }
    } finally {
      this.#summing.delete(exporter);
    }
    return true;
  }

  /**
   * Deletes the oldest letters over the bounds, up to a slice of them; inside a transaction. The
   * letters a replay is sending are left to it, and held beside the bounds until it ends (then
   * Exporters.replay applies them to those it did not deliver): the bounds delete the oldest of the
   * others.
   */
  #evict(exporter: string, max: number, maxBytes: number, sliceRecords: number, sliceBytes: number): { evicted: number; more: boolean } {
    const sending = this.#sendingOf(exporter);
    let n = this.count(exporter) - sending.n;
    if (n > max && !this.#bytes.has(exporter)) {
      // Over the count bound with the bytes not summed yet (trim at start): the oldest beyond `max`
      // go whatever their size. Summed first, the sizes of every letter were
      // read in one slice (2.5 s for 200 000 of 2 KB); boundDeadLetters sums them in slices later.
      const k = Math.min(n - max, sliceRecords);
      const summing = this.#summing.get(exporter);
      // Those a sum in slices has read come off it (it started again at each deletion: never
      // ended with letters filed at the bound).
      const ids: number[] = [];
      for (const row of this.#oldestIds.iterate(exporter, k + sending.n) as Iterable<{ id: number; n: number }>) {
        if (ids.length === k) break;
        if (this.#sending.has(row.id)) continue;
        ids.push(row.id);
        if (summing && row.id <= summing.afterId) summing.sum -= row.n;
      }
      this.#deleteEvicted(exporter, ids);
      n -= ids.length;
      this.#counts.set(exporter, n + sending.n);
      return { evicted: ids.length, more: ids.length > 0 && (n > max || Number.isFinite(maxBytes)) };
    }
    let bytes = this.bytes(exporter) - sending.bytes;
    const over = () => n > max || (bytes > maxBytes && n > 1);
    if (!over()) return { evicted: 0, more: false };
    const ids: number[] = [];
    let freed = 0;
    for (const row of this.#oldestSizes.iterate(exporter) as Iterable<{ id: number; n: number }>) {
      if (!over() || ids.length === sliceRecords || (ids.length > 0 && freed >= sliceBytes)) break;
      if (this.#sending.has(row.id)) continue;
      ids.push(row.id);
      freed += row.n;
      bytes -= row.n;
      n--;
    }
    this.#deleteEvicted(exporter, ids);
    this.#counts.set(exporter, n + sending.n);
    this.#bytes.set(exporter, bytes + sending.bytes);
    return { evicted: ids.length, more: ids.length > 0 && over() };
  }

  /** The letters of `exporter` a replay is sending: how many, and the bytes of their bodies. */
  #sendingOf(exporter: string): { n: number; bytes: number } {
    if (this.#sending.size === 0) return { n: 0, bytes: 0 };
    return this.#sendingSizes.get(exporter, JSON.stringify([...this.#sending])) as { n: number; bytes: number };
  }

  /** A replay sends these letters: a second replay, a DELETE and the bounds leave them to it until release(). Returns those another replay is sending already, not claimed. */
  claim(ids: number[]): Set<number> {
    const taken = new Set(ids.filter((id) => this.#sending.has(id)));
    for (const id of ids) if (!taken.has(id)) this.#sending.add(id);
    return taken;
  }

  release(ids: number[]): void {
    for (const id of ids) this.#sending.delete(id);
  }

  /** Of these ids, those that name a letter. */
  existing(ids: number[]): Set<number> {
    if (ids.length === 0) return new Set();
    const rows = this.#existing.all(JSON.stringify(ids)) as Array<{ id: number }>;
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Deletes letters the bounds evict, remembering (deadletter_discarded) those of records after the
   * exporter's cursor: a restart sends those records again, and a letter counted as dropped came
   * back, as the newest, counted again. As final as a discard.
   */
  #deleteEvicted(exporter: string, ids: number[]): void {
    const cursor = this.#cursors.get(exporter);
    if (cursor !== undefined && Number(this.#rememberEvicted.run(JSON.stringify(ids), cursor).changes) > 0) this.#discarded.delete(exporter);
    this.#deleteIds.run(JSON.stringify(ids));
  }

  /** Oldest first; `afterId`: only letters with a greater id (the next page). */
  list(options: LetterSelection & { limit: number }): DeadLetter[] {
    const { where, params } = selection(options);
    return (this.#db.prepare(`SELECT * FROM deadletter ${where} ORDER BY id LIMIT ?`).all(...params, options.limit) as unknown as Row[]).map(toLetter);
  }

  /** A page of GET /api/v1/deadletter (letterPage). */
  page(options: LetterSelection & { limit: number; maxChars: number }): { letters: DeadLetter[]; more: boolean } {
    return letterPage(this.#db, options);
  }

  /** Removes delivered letters. */
  remove(ids: number[]): void {
    if (ids.length > 0) this.purge({ ids });
  }

  /**
   * Takes deleted letters off the cached counts and bytes. Cleared instead, the next letter filed
   * summed the sizes of every letter again (bytes()): 0.5–2.5 s for 200 000 of 2 KB, after each
   * replay or discard.
   */
  #deleted(groups: DeletedGroup[]): void {
    for (const g of groups) {
      const summing = this.#summing.get(g.exporter);
      if (summing) summing.stale = true;
      const n = this.#counts.get(g.exporter);
      if (n !== undefined) this.#counts.set(g.exporter, n - g.n);
      const bytes = this.#bytes.get(g.exporter);
      if (bytes !== undefined) this.#bytes.set(g.exporter, bytes - g.bytes);
    }
  }

  /**
   * Discards letters (DELETE /api/v1/deadletter): those of `exporter`, or the listed `ids`, or
   * both, narrowed by the other fields. Returns how many, by exporter. `cursors`: each running
   * exporter's cursor; the letters of records after it are remembered (deadletter_discarded), so
   * that a restart that sends those records again does not file them again.
   */
  purge(options: LetterSelection, cursors: Record<string, number> = {}): Map<string, number> {
    if (!options.exporter && !options.ids) throw new Error('purge: give an exporter or ids');
    const { where, params } = selection(options);
    const deleted = new Map<string, number>();
    try {
      transaction(this.#db, () => {
        const groups = this.#db.prepare(`SELECT exporter, count(*) AS n, sum(octet_length(body)) AS bytes FROM deadletter ${where} GROUP BY exporter`).all(...params) as unknown as DeletedGroup[];
        for (const g of groups) deleted.set(g.exporter, g.n);
        if (deleted.size > 0 && Object.keys(cursors).length > 0) {
          this.#db
            .prepare(
              `INSERT OR REPLACE INTO deadletter_discarded (exporter, log_id, ts) SELECT d.exporter, d.log_id, d.ts FROM (SELECT exporter, log_id, ts FROM deadletter ${where}) AS d
               JOIN json_each(?) AS c ON c.key = d.exporter WHERE d.log_id > c.value`,
            )
            .run(...params, JSON.stringify(cursors));
          this.#discarded.clear();
        }
        this.#db.prepare(`DELETE FROM deadletter ${where}`).run(...params);
        this.#deleted(groups);
      });
    } catch (err) {
      this.#counts.clear();
      this.#bytes.clear();
      throw err;
    }
    return deleted;
  }

  /**
   * Discards the letters the selection picks (DELETE /api/v1/deadletter), PURGE_SLICE at a time
   * through purge(), the event loop turning between slices: in one transaction, 200 000 letters of
   * 2 KB held every request for 3 s. Letters filed meanwhile are not picked (ids above the newest
   * at the call). `slice` gets what each slice deleted, by exporter; the running exporters'
   * cursors, as last told (forgetDiscarded), are read at each (purge). A picked letter a replay is
   * sending is left to it (claim), as a second replay leaves it. Returns how many were deleted in
   * all, and how many picked were left to a replay (`replaying`).
   */
  async discard(options: LetterSelection, slice: (deleted: Map<string, number>) => void): Promise<{ deleted: number; replaying: number }> {
    if (!options.exporter && !options.ids) throw new Error('discard: give an exporter or ids');
    const newest = (this.#db.prepare('SELECT max(id) AS id FROM deadletter').get() as { id: number | null }).id ?? 0;
    let total = 0;
    let replaying = 0;
    let afterId = options.afterId;
    for (;;) {
      const { where, params } = selection({ ...options, afterId });
      const rows = this.#db.prepare(`SELECT id FROM deadletter ${where} ORDER BY id LIMIT ?`).all(...params, PURGE_SLICE) as Array<{ id: number }>;
      const picked = rows.map((r) => r.id).filter((id) => id <= newest);
      if (picked.length === 0) break;
      // asked at the slice a letter is in: a replay may have begun or ended since the call
      const ids = picked.filter((id) => !this.#sending.has(id));
      replaying += picked.length - ids.length;
      if (ids.length > 0) {
        const deleted = this.purge({ ids }, Object.fromEntries(this.#cursors));
        slice(deleted);
        for (const n of deleted.values()) total += n;
      }
      if (picked.length < PURGE_SLICE) break;
      afterId = picked[picked.length - 1];
      await setImmediate();
    }
    return { deleted: total, replaying };
  }

  /** Records a failed replay: new reason, one more attempt. */
  update(id: number, reason: string, status: number, now = Date.now()): void {
    this.#db.prepare('UPDATE deadletter SET reason = ?, status = ?, at = ?, attempts = attempts + 1, cause = ? WHERE id = ?').run(reason, status, now, causeOf(reason), id);
  }
}

/**
 * Files what a backend refused for good under the exporter of `labels` and accounts for it:
 * `dead_lettered` counts the new letters (a record refused again updates its letter: counted
 * again, a restart that re-sent the batches after the cursor made `dead_lettered` exceed the
 * records moved to the dead letters), `dropped{reason="deadletter_full"}` the oldest ones the
 * bounds (`max`: letters, and bytes of their bodies) evicted. Shared by every exporter that keeps dead letters.
 * Returns how many were not filed (`discarded`): records whose letters were discarded, or deleted by
 * the bounds, before their exporter's cursor passed them, refused again (deadletter_discarded);
 * and how many of the oldest letters the bounds deleted (`evicted`), for the exporter's log.
 */
export function fileDeadLetters(
  store: DeadLetterStore,
  metrics: ExporterMetrics,
  labels: { exporter: string; type: string },
  letters: NewLetter[],
  max: number | { records: number; bytes: number },
  now?: number,
): { discarded: number; evicted: number } {
  const bound = deadLetterBound(max);
  const { added, evicted, discarded } = store.add(labels.exporter, letters, bound.records, now, bound.bytes);
  if (added) metrics.deadLettered.inc(labels, added);
  countEvicted(metrics, labels, evicted);
  return { discarded, evicted };
}

/** An exporter's dead-letter bounds as letters and bytes (a number: letters alone). */
export function deadLetterBound(max: number | { records: number; bytes: number }): { records: number; bytes: number } {
  return typeof max === 'number' ? { records: max, bytes: Number.POSITIVE_INFINITY } : max;
}

/** Letters the bounds deleted: counted as dropped and as discarded (deadletter_full). */
export function countEvicted(metrics: ExporterMetrics, labels: { exporter: string; type: string }, evicted: number): void {
  if (evicted === 0) return;
  metrics.dropped.inc({ ...labels, reason: 'deadletter_full' }, evicted);
  metrics.discarded.inc({ ...labels, reason: 'deadletter_full' }, evicted);
}

/**
 * Letters deleted per transaction when bringing a store within lowered bounds (boundDeadLetters):
 * about 20 ms of work each on a loaded 2-core machine for letters of 2 KB.
 */
const TRIM_SLICE = { records: 1000, bytes: 16 * 2 ** 20 };
/** Letters deleted per transaction by a DELETE /api/v1/deadletter (DeadLetterStore.discard). */
const PURGE_SLICE = 1000;
/** Letters whose sizes are summed per slice (sumBytes): the sum reads each of them. */
const SUM_SLICE = 2000;

/**
 * Once the collector listens: the letters an exporter holds beyond its bounds (kept by a version
 * without `deadLetter.maxBytes`, or under a larger bound) are deleted, oldest first, and counted
 * as dropped (deadletter_full), as when a new letter makes room. Without this they stayed until
 * the next letter was filed, which may be long (a refusal of everything now waits instead), and
 * took the room of records under store.retention.maxBytes meanwhile. In slices of TRIM_SLICE,
 * the event loop turning between them: in one transaction before the collector listened, 200 000
 * letters of 2 KB held the start for 4–18 s, long enough for health checks to fail and a pod to be
 * restarted, to trim again. Stops between slices when `stopped()` (the exporter's shutdown).
 */
export async function boundDeadLetters(
  store: DeadLetterStore,
  metrics: ExporterMetrics,
  labels: { exporter: string; type: string },
  max: number | { records: number; bytes: number },
  logger: { warn(obj: object, msg: string): void },
  stopped: () => boolean = () => false,
): Promise<void> {
  const bound = deadLetterBound(max);
  let evicted = 0;
  const exporter = labels.exporter;
  const count = (slice: { evicted: number }) => {
    countEvicted(metrics, labels, slice.evicted);
    evicted += slice.evicted;
  };
  store.beginTrim(exporter);
  try {
    await setImmediate(); // after what the start left to do (its log line, the first requests)
    // The count bound first, by the index alone; then the bytes, summed in slices (sumBytes).
    while (!stopped() && store.count(exporter) > bound.records) {
      const slice = store.trim(exporter, bound.records, bound.bytes, TRIM_SLICE);
      count(slice);
      if (slice.evicted === 0) break; // the rest is a replay's, until it ends (DeadLetterBounds.apply)
      await setImmediate();
    }
    const summed = !Number.isFinite(bound.bytes) || (await store.sumBytes(exporter, stopped));
    while (summed && !stopped() && (store.count(exporter) > bound.records || (Number.isFinite(bound.bytes) && store.bytes(exporter) > bound.bytes))) {
      const slice = store.trim(exporter, bound.records, bound.bytes, TRIM_SLICE);
      count(slice);
      if (!slice.more) break;
      await setImmediate();
    }
  } catch (err) {
    // A full disk must not stop the exporter: the next letter filed applies the bounds again.
    logger.warn({ exporter, err: (err as Error).message }, `exporter ${exporter}: applying the dead-letter bounds failed; the next dead letter applies them`);
  } finally {
    store.endTrim(exporter);
  }
  if (evicted > 0) logger.warn({ exporter, count: evicted }, `exporter ${exporter}: ${evicted} oldest dead letter(s) over deadLetter.maxRecords or deadLetter.maxBytes deleted (counted as dropped, deadletter_full)`);
}

export interface ReplayOutcome {
  delivered: DeadLetter[];
  failed: Array<{ letter: DeadLetter; result: ExportResult }>;
}

/**
 * Completes a replay's outcome from what became of the letters sent (`sent`: item → its letter):
 * refused again (with the backend's answer), still unresolved when the attempts ran out (with the
 * backend's last error), or else delivered, in the order they were sent.
 */
export function completeReplay<T>(
  outcome: ReplayOutcome,
  sent: Map<T, DeadLetter>,
  refused: Array<{ item: T; result: ExportResult }>,
  unresolved: T[],
  lastError: string | undefined,
): ReplayOutcome {
  const failed = new Set<T>();
  for (const { item, result } of refused) {
    failed.add(item);
    outcome.failed.push({ letter: sent.get(item)!, result });
  }
  for (const item of unresolved) {
    failed.add(item);
    outcome.failed.push({ letter: sent.get(item)!, result: { status: 'retryable', error: lastError ?? 'not delivered' } });
  }
  for (const [item, letter] of sent) if (!failed.has(item)) outcome.delivered.push(letter);
  return outcome;
}

/**
 * Why a replay left letters unsent: the backend's last error, and, when the circuit is not closed,
 * that they were not sent (a replay does not wait for the circuit, see ResolveLimits.notWhileOpen).
 */
export function replayFailure(circuit: string, lastError: string | undefined): string | undefined {
  if (circuit === 'closed') return lastError;
  return `${lastError ?? 'backend failing'} (circuit ${circuit}: not sent again until the backend answers; replay later)`;
}
