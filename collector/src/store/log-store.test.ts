import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { openDatabase } from './database.ts';
import { LogStore } from './log-store.ts';
import { Retention } from './retention.ts';

const DAY_MS = 86_400_000;

describe('LogStore.count', () => {
  it('follows appends and retention without count(*), and survives a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-count-'));
    const now = Date.UTC(2026, 10, 1);
    const db = openDatabase(dir, 'normal');
    const store = new LogStore(db);
    const records = (n: number, ageDays: number) => {
      const ms = now - ageDays * DAY_MS;
      const r: LogRecord = { timestamp: new Date(ms).toISOString().replace('Z', '000Z'), severity: 6, level: 'info', facility: 1, msg: 'x' };
      return LogBatch.fromRecords(Array(n).fill(r), Array(n).fill(ms * 1000));
    };
    store.append(records(7, 10)); // older than maxAge
    store.append(records(5, 1));
    expect(store.count()).toBe(12);
    const retention = new Retention(db, { maxAgeMs: 7 * DAY_MS, maxBytes: 1e12, schedule: '0 * * * *', onDeleted: (table, rows) => table === 'logs' && store.noteDeleted(rows) }, () => now);
    await retention.run();
    const actual = (db.prepare('SELECT count(*) AS n FROM logs').get() as { n: number }).n;
    expect(actual).toBe(5);
    expect(store.count()).toBe(actual);
    db.close();
    const reopened = openDatabase(dir, 'normal');
    expect(new LogStore(reopened).count()).toBe(5);
    reopened.close();
  });
});
