import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { openDatabase, pageSize } from './database.ts';
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
