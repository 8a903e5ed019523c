import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/collector-process.ts';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { openDatabase } from './database.ts';
import { FtsIndexer } from './fts-indexer.ts';
import { CHUNK_SIZE, CJK_SPLIT_AFTER_KEY, INDEXED_ID_KEY, LEGACY_INDEXED_ID_KEY, TRACE_TOKEN_CHARS, traceIndexToken } from './fts-schema.ts';
import { appendIndexText, emptyIndexText } from './index-queue.ts';
import { filterToSql } from './log-filter.ts';
import { LogReader } from './log-reader.ts';
import { LogStore } from './log-store.ts';

const T1 = '0af7651916cd43dd8448eb211c80319c';
const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';
const ms = Date.UTC(2026, 11, 4);

function batch(records: Array<Pick<LogRecord, 'msg' | 'traceId'>>): LogBatch {
  const full = records.map((r) => ({ timestamp: '2026-12-04T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, ...r }) as LogRecord);
  return LogBatch.fromRecords(full, full.map(() => ms * 1000));
}

/** A store with the search index attached but its worker not started: the test plays the indexer. */
function openStore() {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-trace-'));
  const db = openDatabase(dir, 'normal');
  new FtsIndexer(db, dir, { enabled: true, intervalMs: 1000, batch: 1000 }); // attaches the index database
  const store = new LogStore(db);
  const reader = new LogReader(db);
  /**
   * Writes the index row of the chunk holding positions 0 … CHUNK_SIZE - 1, as the indexer does,
   * or (`wholeIds`) as versions before traceIndexToken did, with whole trace ids.
   */
  const indexFirstChunk = (rows: Array<{ msg: string; traceId?: string }>, wholeIds = false) => {
    const text = emptyIndexText();
    for (const r of rows) appendIndexText(text, r.msg, r.traceId);
    const traceIds = wholeIds ? rows.map((r) => `${r.traceId ?? ''}\n`).join('') : text.traceIds;
    db.prepare('INSERT OR REPLACE INTO fts.log_chunks(rowid, msg, trace_id) VALUES (0, ?, ?)').run(text.msgs, traceIds);
  };
  const indexedUpTo = (id: number) => db.prepare("INSERT INTO fts.kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(INDEXED_ID_KEY, String(id));
  const msgsOf = (filter: { traceId?: string; q?: string }) => reader.query({ sd: [], attrs: [], ...filter }, 100).records.map((r) => r.msg);
  return { db, store, indexFirstChunk, indexedUpTo, msgsOf };
}

describe('records by trace id (through the search index, not a B-tree index on random keys)', () => {
  it('finds records the indexer has not reached yet, then through the index once it has', () => {
    const { store, indexFirstChunk, indexedUpTo, msgsOf } = openStore();
    const ids = store.append(batch([{ msg: `a mentions ${T2}`, traceId: T1 }, { msg: 'b', traceId: T2 }, { msg: 'c' }, { msg: 'd', traceId: T1 }]))!;
    // nothing indexed: the newest positions are checked directly
    expect(msgsOf({ traceId: T1 })).toEqual(['d', `a mentions ${T2}`]);
    // the first two indexed; `d` not yet
    expect(ids.lastId).toBeLessThan(CHUNK_SIZE);
    indexFirstChunk([{ msg: `a mentions ${T2}`, traceId: T1 }, { msg: 'b', traceId: T2 }]);
    indexedUpTo(ids.firstId + 1);
    expect(msgsOf({ traceId: T1 })).toEqual(['d', `a mentions ${T2}`]);
    expect(msgsOf({ traceId: T2 })).toEqual(['b']); // not `a`, whose message only mentions it
    expect(msgsOf({ q: T2 })).toEqual([`a mentions ${T2}`]); // q= searches messages, not trace ids
  });

  it('tells apart trace ids that share the characters the index holds', () => {
    const { db, store, indexFirstChunk, indexedUpTo, msgsOf } = openStore();
    const twin = `${traceIndexToken(T1)}${'f'.repeat(32 - TRACE_TOKEN_CHARS)}`;
    const rows = [{ msg: 'a', traceId: T1 }, { msg: 'b', traceId: twin }, { msg: 'c', traceId: T2 }];
    const ids = store.append(batch(rows))!;
    indexFirstChunk(rows);
    indexedUpTo(ids.lastId);
    // the index holds the first characters only: the chunk is a candidate for both ids
    const chunks = (term: string) => db.prepare('SELECT rowid FROM fts.log_chunks WHERE log_chunks MATCH ?').all(`trace_id : "${term}"`);
    expect(chunks(traceIndexToken(T1))).toEqual([{ rowid: 0 }]);
    expect(chunks(T1)).toEqual([]);
    expect(msgsOf({ traceId: T1 })).toEqual(['a']);
    expect(msgsOf({ traceId: twin })).toEqual(['b']);
  });

  it('finds records in chunks that earlier versions indexed with whole trace ids', () => {
    const { store, indexFirstChunk, indexedUpTo, msgsOf } = openStore();
    const rows = [{ msg: 'a', traceId: T1 }, { msg: 'b', traceId: T2 }];
    const ids = store.append(batch(rows))!;
    indexFirstChunk(rows, true);
    indexedUpTo(ids.lastId);
    expect(msgsOf({ traceId: T1 })).toEqual(['a']);
    expect(msgsOf({ traceId: T2 })).toEqual(['b']);
  });

  it('uses the index for what it has indexed: a record it skipped is not found by a scan', () => {
    const { store, indexedUpTo, msgsOf } = openStore();
    store.append(batch([{ msg: 'a', traceId: T1 }]));
    indexedUpTo(1); // claims position 1 is indexed, but the index has no row for it
    expect(msgsOf({ traceId: T1 })).toEqual([]);
  });

  it('looks the records up by position, never by walking an index of all records', () => {
    const { db } = openStore();
    for (const extra of [{}, { service: 'checkout' }, { startMicros: 1, endMicros: 2 }, { maxSeverity: 3 }]) {
      const { where, params } = filterToSql({ sd: [], attrs: [], traceId: T1, ...extra }, 'index');
      const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT l.id FROM logs l WHERE ${where} ORDER BY l.ts DESC, l.id DESC LIMIT 101`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan, JSON.stringify(extra)).toContain('SEARCH l USING INTEGER PRIMARY KEY (rowid=?)');
      expect(plan.filter((d) => /^SCAN l\b/.test(d)), JSON.stringify(extra)).toEqual([]);
    }
  });

  it('the indexer worker indexes what was stored, and stops by itself when asked (no terminate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-trace-'));
    const db = openDatabase(dir, 'normal');
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 20, batch: 1000 });
    const store = new LogStore(db);
    store.append(batch([{ msg: 'x', traceId: T1 }, { msg: 'y', traceId: T2 }]));
    fts.start();
    await waitFor(() => fts.indexedId() >= 2, 30_000, 20);
    expect(fts.indexedId()).toBe(2);
    expect(await fts.shutdown()).toBe('stopped');
    expect(db.prepare('SELECT rowid FROM fts.log_chunks WHERE log_chunks MATCH ?').all(`trace_id : "${traceIndexToken(T2)}"`)).toEqual([{ rowid: 0 }]); // the chunk of positions 0-63
    db.close();
  });

  it('replaces the index of an earlier version (a row per record) and has it rebuilt from the log', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-trace-'));
    const old = new DatabaseSync(join(dir, 'periscope-fts.db'));
    old.exec("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO kv VALUES ('indexed_id', '7')");
    old.exec("CREATE VIRTUAL TABLE logs_fts USING fts5(msg, trace_id, content='', contentless_delete=1)");
    old.close();
    const db = openDatabase(dir, 'normal');
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 1000, batch: 1000 });
    expect(fts.rebuilding).toBe(true);
    expect(db.prepare("SELECT name FROM fts.sqlite_master WHERE name = 'logs_fts'").get()).toBeUndefined();
    expect((db.prepare('PRAGMA fts.table_info(log_chunks)').all() as Array<{ name: string }>).map((c) => c.name)).toEqual(['msg', 'trace_id']);
    expect(db.prepare("SELECT value FROM fts.kv WHERE key = 'indexed_id'").get()).toBeUndefined(); // rebuilt from position 0
    db.close();
    expect(new FtsIndexer(openDatabase(dir, 'normal'), dir, { enabled: true, intervalMs: 1000, batch: 1000 }).rebuilding).toBe(false); // once only
  });

  it('a version before log_chunks, started on the index this one wrote (a downgrade), finds no cursor and indexes the log again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-trace-'));
    const db = openDatabase(dir, 'normal');
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 20, batch: 1000 });
    new LogStore(db).append(batch([{ msg: 'x', traceId: T1 }, { msg: 'y', traceId: T2 }]));
    fts.start();
    await waitFor(() => fts.indexedId() >= 2, 30_000, 20);
    expect(await fts.shutdown()).toBe('stopped');
    db.close();
    // What such a version (up to Dec 4, 2026) did with periscope-fts.db at start and before each step.
    const old = new DatabaseSync(join(dir, 'periscope-fts.db'));
    old.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    old.exec("CREATE VIRTUAL TABLE IF NOT EXISTS logs_fts USING fts5(msg, trace_id, content='', contentless_delete=1)");
    expect(old.prepare("SELECT coalesce(max(CAST(value AS INTEGER)), 0) AS id FROM kv WHERE key = 'indexed_id'").get()).toEqual({ id: 0 });
    old.close();
  });

  it('keeps the position of a chunk index kept under the earlier cursor key: no rebuild', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-trace-'));
    const earlier = new DatabaseSync(join(dir, 'periscope-fts.db'));
    earlier.exec(`CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO kv VALUES ('${LEGACY_INDEXED_ID_KEY}', '640')`);
    earlier.exec("CREATE VIRTUAL TABLE log_chunks USING fts5(msg, trace_id, content='', contentless_delete=1, detail=column, tokenize='unicode61 remove_diacritics 2')");
    earlier.close();
    const db = openDatabase(dir, 'normal');
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 1000, batch: 1000 });
    expect(fts.rebuilding).toBe(false);
    expect(db.prepare('SELECT key, value FROM fts.kv ORDER BY key').all()).toEqual([{ key: INDEXED_ID_KEY, value: '640' }, { key: CJK_SPLIT_AFTER_KEY, value: '640' }]);
    db.close();
  });
});
