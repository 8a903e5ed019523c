import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { openDatabase, pageSize, transaction } from './database.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { LogStore } from './log-store.ts';

const walAutocheckpoint = (db: DatabaseSync) => (db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint;
const record = { timestamp: '2026-11-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, msg: 'kept' } as const;

describe('openDatabase', () => {
  it('a new database has 8 KiB pages, and its WAL safety net stays at ~256 MiB', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-db-')), 'normal');
    expect(pageSize(db)).toBe(8192);
    expect(walAutocheckpoint(db)).toBe(32768);
    db.close();
  });

  it('a WAL grown by one large transaction is cut back when it starts over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-db-'));
    const db = openDatabase(dir, 'normal');
    db.exec('CREATE TABLE big (b BLOB)');
    const insert = db.prepare('INSERT INTO big VALUES (randomblob(1048576))');
    transaction(db, () => {
      for (let i = 0; i < 96; i++) insert.run(); // 96 MiB in one commit: the WAL holds all of it
    });
    const walBytes = () => statSync(join(dir, 'periscope.db-wal')).size;
    expect(walBytes()).toBeGreaterThan(96 * 2 ** 20);
    db.exec('PRAGMA wal_checkpoint(PASSIVE)'); // copies every frame
    db.exec('DELETE FROM big WHERE rowid = 1'); // the next commit writes the WAL over from its start
    expect(walBytes()).toBeLessThanOrEqual(64 * 2 ** 20);
    db.close();
  });

  it('a database an earlier version made with 4 KiB pages opens as it is, records and all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-db-'));
    const old = new DatabaseSync(join(dir, 'periscope.db'));
    old.exec('PRAGMA auto_vacuum = INCREMENTAL');
    old.exec('PRAGMA journal_mode = WAL');
    new LogStore(old).append(LogBatch.fromRecords([record], [Date.UTC(2026, 10, 1) * 1000]));
    old.close();

    const db = openDatabase(dir, 'normal');
    expect(pageSize(db)).toBe(4096);
    expect(walAutocheckpoint(db)).toBe(65536);
    const store = new LogStore(db);
    expect(store.count()).toBe(1);
    expect(store.append(LogBatch.fromRecords([record], [Date.UTC(2026, 10, 1) * 1000]))).toEqual({ firstId: 2, lastId: 2 });
    expect((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check).toBe('ok');
    db.close();
  });
});

describe('transaction', () => {
  it('rethrows the error that ended it, also when SQLite had already rolled back (disk full)', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-tx-')), 'normal');
    // SQLITE_FULL / SQLITE_IOERR roll the transaction back themselves; the ROLLBACK after them
    // failed with "cannot rollback - no transaction is active", which replaced the real error.
    expect(() => transaction(db, () => {
      db.exec('ROLLBACK');
      throw new Error('database or disk is full');
    })).toThrow('database or disk is full');
    expect(db.isTransaction).toBe(false);
    expect(() => transaction(db, () => {
      db.exec('CREATE TABLE t (x)');
      throw new Error('boom');
    })).toThrow('boom');
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'").get()).toEqual({ n: 0 });
    db.close();
  });
});

describe('Ingest: a failing store write', () => {
  it('answers 503 with Retry-After, shows the store down with the error, and clears it once a write succeeds', async () => {
    const { Ingest } = await import('../ingest/ingest.ts');
    const { createSelfMetrics } = await import('../ingest/self-metrics.ts');
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-fail-')), 'normal');
    const store = new LogStore(db);
    const ingest = new Ingest(store, createSelfMetrics());
    const batch = () => LogBatch.fromRecords([{ timestamp: '2026-11-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, msg: 'x' }], [Date.UTC(2026, 10, 1) * 1000]);
    const append = store.append.bind(store);
    store.append = () => {
      throw new Error('database or disk is full');
    };
    let thrown: any;
    try {
      ingest.appendBatch('http', batch());
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ statusCode: 503, retryAfterSeconds: 1, message: expect.stringContaining('disk is full') });
    expect(ingest.writeFailure).toMatchObject({ lastError: 'database or disk is full' });
    store.append = append;
    ingest.appendBatch('http', batch());
    expect(ingest.writeFailure).toBeNull();
    db.close();
  });
});
