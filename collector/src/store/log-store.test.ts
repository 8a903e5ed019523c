import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { openDatabase } from './database.ts';
import { LogStore } from './log-store.ts';
import { Retention } from './retention.ts';
import { FtsIndexer } from './fts-indexer.ts';
import { DatabaseSync } from 'node:sqlite';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 10, 1);

/** `n` info records dated `ms` (epoch ms). */
function recordsAt(n: number, ms: number): LogBatch {
  const r: LogRecord = { timestamp: new Date(ms).toISOString().replace('Z', '000Z'), severity: 6, level: 'info', facility: 1, msg: 'x' };
  return LogBatch.fromRecords(Array(n).fill(r), Array(n).fill(ms * 1000));
}

/** Retention over the logs at NOW, keeping store.count() in step as the collector does. */
function retentionOf(db: DatabaseSync, store: LogStore, maxAgeMs: number, maxBytes: number): Retention {
  return new Retention(db, { maxAgeMs, maxBytes, schedule: '0 * * * *', onDeleted: (table, rows) => table === 'logs' && store.noteDeleted(rows) }, () => NOW);
}

describe('LogStore.count', () => {
  it('follows appends and retention without count(*), and survives a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-count-'));
    const db = openDatabase(dir, 'normal');
    const store = new LogStore(db);
    store.append(recordsAt(7, NOW - 10 * DAY_MS)); // older than maxAge
    store.append(recordsAt(5, NOW - DAY_MS));
    expect(store.count()).toBe(12);
    await retentionOf(db, store, 7 * DAY_MS, 1e12).run();
    const actual = (db.prepare('SELECT count(*) AS n FROM logs').get() as { n: number }).n;
    expect(actual).toBe(5);
    expect(store.count()).toBe(actual);
    db.close();
    const reopened = openDatabase(dir, 'normal');
    expect(new LogStore(reopened).count()).toBe(5);
    reopened.close();
  });
});

describe('retention and log positions', () => {
  // Exporters, the search indexer and API cursors remember positions. SQLite gives a new row
  // max(id) + 1, so if retention deleted the newest row, the next record would get an old position
  // again and every cursor past it would skip it, silently.
  it('never frees the newest position: after everything expired, new records still get new positions', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-positions-')), 'normal');
    const store = new LogStore(db);
    const first = store.append(recordsAt(5, NOW - 10 * DAY_MS))!; // all older than maxAge
    await retentionOf(db, store, 7 * DAY_MS, 1e12).run();
    // the newest row stays (it holds the position), everything older is gone
    expect((db.prepare('SELECT id FROM logs').all() as Array<{ id: number }>).map((r) => r.id)).toEqual([first.lastId]);
    expect(store.append(recordsAt(1, NOW))!.firstId).toBe(first.lastId + 1);

    // the size rule too: a bound nothing fits under still keeps the newest row
    await retentionOf(db, store, 1e12, 1).run();
    expect(store.count()).toBe(1);
    expect(store.append(recordsAt(1, NOW))!.firstId).toBe(first.lastId + 2);
    db.close();
  });
});

describe('retention by size', () => {
  it('deletes about the excess, not a fixed chunk: a store twice its bound keeps about half', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-size-')), 'normal');
    const store = new LogStore(db);
    const pad = 'x'.repeat(500);
    for (let i = 0; i < 6; i++) store.append(LogBatch.fromRecords(Array.from({ length: 1000 }, (_, j) => ({ timestamp: '2026-11-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, msg: `${i}-${j} ${pad}` }) as LogRecord), Array.from({ length: 1000 }, () => NOW * 1000)));
    const retention = retentionOf(db, store, 1e12, 0);
    const bound = Math.round(retention.liveBytes() / 2);
    const sized = retentionOf(db, store, 1e12, bound);
    await sized.run();
    expect(sized.liveBytes()).toBeLessThanOrEqual(bound);
    // the old fixed 5000-row step left 1000 of 6000 rows; about 3000 fit under the bound
    expect(store.count()).toBeGreaterThan(2400);
    db.close();
  });
});

describe('LogStore.append', () => {
  it('never waits for the search indexer writing its own (attached) database', () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-lock-'));
    const db = openDatabase(dir, 'normal');
    const store = new LogStore(db);
    new FtsIndexer(db, dir, { enabled: true, intervalMs: 200, batch: 1000 }); // attaches periscope-fts.db to this connection, as the collector does
    const indexer = new DatabaseSync(join(dir, 'periscope-fts.db'));
    indexer.exec('BEGIN IMMEDIATE');
    indexer.exec("INSERT INTO kv(key, value) VALUES ('indexed_id', '0')");
    db.exec('PRAGMA busy_timeout = 0'); // any wait for a lock would now fail at once
    const r: LogRecord = { timestamp: '2026-11-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, msg: 'x' };
    expect(store.append(LogBatch.fromRecords([r], [Date.UTC(2026, 10, 1) * 1000]))).toEqual({ firstId: 1, lastId: 1 });
    indexer.exec('ROLLBACK');
    indexer.close();
    db.close();
  });

  it('a row SQLite refuses, deep in a multi-row insert, leaves no record of the batch behind', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-fail-')), 'normal');
    const store = new LogStore(db);
    const record = (i: number): LogRecord => ({ timestamp: '2026-11-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, msg: `m${i}` });
    const micros = (n: number) => Array.from({ length: n }, (_, i) => Date.UTC(2026, 10, 1) * 1000 + i);
    expect(store.append(LogBatch.fromRecords([record(0)], micros(1)))).toEqual({ firstId: 1, lastId: 1 });
    const bad = LogBatch.fromRecords(Array.from({ length: 200 }, (_, i) => record(i)), micros(200));
    (bad.severity as unknown[])[150] = 'not a number'; // the table is STRICT: the third 64-row statement fails
    expect(() => store.append(bad)).toThrow(/cannot store TEXT value in INTEGER column logs\.severity/);
    expect(store.count()).toBe(1);
    expect((db.prepare('SELECT count(*) AS n FROM logs').get() as { n: number }).n).toBe(1);
    // The next batch gets the positions right after the last stored record.
    expect(store.append(LogBatch.fromRecords([record(1), record(2)], micros(2)))).toEqual({ firstId: 2, lastId: 3 });
    db.close();
  });
});

describe('the retention schedule and a step of the wall clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs on schedule after the wall clock steps back an hour (NTP, a VM resumed, date -s), not an hour later', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true }); // node-cron reads new Date(); its timers stay real
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-cron-')), 'normal');
    const retention = new Retention(db, { maxAgeMs: 7 * DAY_MS, maxBytes: 1e12, schedule: '* * * * * *' }, Date.now, { clockCheckMs: 100 });
    let runs = 0;
    const run = retention.run.bind(retention);
    retention.run = () => {
      runs++;
      return run();
    };
    const until = async (done: () => boolean) => {
      const end = performance.now() + 10_000;
      while (!done() && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
    };
    retention.start();
    try {
      await until(() => runs >= 1);
      expect(runs).toBeGreaterThanOrEqual(1);
      vi.setSystemTime(Date.now() - 3_600_000);
      const before = runs;
      await until(() => runs > before + 1);
      expect(runs).toBeGreaterThan(before + 1);
    } finally {
      await retention.shutdown();
      db.close();
    }
  });
});
