// The store's worker thread (fts-worker.ts) survives a failed step: it reports it and tries again,
// where an uncaught error ended the thread, and with it indexing and the log's checkpoints.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/collector-process.ts';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { openDatabase } from './database.ts';
import { FtsIndexer } from './fts-indexer.ts';
import { parseLogFilter } from './log-filter.ts';
import { LogReader } from './log-reader.ts';
import { LogStore } from './log-store.ts';

const T0 = Date.UTC(2026, 11, 6);

function batch(msgs: string[]): LogBatch {
  const records = msgs.map((msg, i) => ({ timestamp: new Date(T0 + i).toISOString().replace('Z', '000Z'), severity: 6, level: 'info', facility: 1, msg }) as LogRecord);
  return LogBatch.fromRecords(records, records.map((_, i) => (T0 + i) * 1000));
}

describe('store worker', () => {
  it('reports a failed indexing step and indexes those records once the cause is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-fts-worker-'));
    const db = openDatabase(dir, 'normal');
    const store = new LogStore(db);
    const reader = new LogReader(db);
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 20, batch: 1000 });
    fts.start();
    try {
      store.append(batch(['alpha one', 'alpha two']));
      await waitFor(() => fts.indexedId() === store.lastId(), 30_000, 20);

      // Another connection holds the index database's write lock past the worker's busy_timeout.
      const blocker = new DatabaseSync(join(dir, 'periscope-fts.db'));
      blocker.exec('BEGIN IMMEDIATE');
      store.append(batch(['bravo three', 'bravo four']));
      // and new pages for the log (~2 MB), to see its checkpoints go on
      store.append(batch(Array.from({ length: 2000 }, (_, i) => `filler ${i} ${'x'.repeat(1000)}`)));
      await waitFor(() => fts.health(store.lastId()).lastError !== undefined, 30_000, 50);
      const failing = fts.health(store.lastId());
      expect(failing).toMatchObject({ status: 'degraded', lastError: expect.stringMatching(/locked|busy/i), failingSince: expect.any(String) });
      expect(failing.lag).toBe(2002);
      // the log is still checkpointed meanwhile: its pages reach the database file (the ingest
      // connection's own autocheckpoint is set far beyond this much WAL)
      const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get()!)[0] as number;
      await waitFor(() => statSync(join(dir, 'periscope.db')).size >= pragma('page_count') * pragma('page_size'), 30_000, 50);

      blocker.exec('COMMIT');
      blocker.close();
      await waitFor(() => fts.indexedId() === store.lastId(), 30_000, 20);
      await waitFor(() => fts.health(store.lastId()).status === 'up', 30_000, 20);
      expect(fts.health(store.lastId())).toMatchObject({ lag: 0, lastError: failing.lastError });
      expect(fts.health(store.lastId()).failingSince).toBeUndefined();
      // found through the index: the records of the failed step, and those before them in their chunk
      const found = (q: string) => reader.query(parseLogFilter({ q }), 10).records.map((r) => r.msg).sort();
      expect(found('bravo')).toEqual(['bravo four', 'bravo three']);
      expect(found('alpha')).toEqual(['alpha one', 'alpha two']);
    } finally {
      await fts.shutdown();
      db.close();
    }
  });

  it('a database locked while the worker opens it: reported and tried again, not the end of the thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-fts-worker-'));
    const db = openDatabase(dir, 'normal');
    const store = new LogStore(db);
    const reader = new LogReader(db);
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 20, batch: 1000 });
    // Another connection holds the index database's write lock past busy_timeout while the worker starts.
    const blocker = new DatabaseSync(join(dir, 'periscope-fts.db'));
    blocker.exec('BEGIN IMMEDIATE');
    blocker.exec("INSERT INTO kv(key, value) VALUES ('blocker', 'x')");
    fts.start();
    try {
      store.append(batch(['charlie five']));
      await waitFor(() => fts.health(store.lastId()).lastError !== undefined, 30_000, 50);
      expect(fts.health(store.lastId())).toMatchObject({ status: 'degraded', lastError: expect.stringMatching(/locked|busy/i) });
      blocker.exec('ROLLBACK');
      blocker.close();
      await waitFor(() => fts.indexedId() === store.lastId(), 30_000, 20);
      expect(fts.health(store.lastId()).status).toBe('up');
      expect(reader.query(parseLogFilter({ q: 'charlie' }), 10).records.map((r) => r.msg)).toEqual(['charlie five']);
    } finally {
      await fts.shutdown();
      db.close();
    }
  });
});
