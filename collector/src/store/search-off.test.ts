// store.search.enabled: false — q= and traceId= read the records instead of the search index.
// The scan must mean what live tail (matchesFilter) and, for what FTS5 also matches, the index mean.
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/collector-process.ts';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { LogBatch } from '../ingest/log-batch.ts';
import { openDatabase } from './database.ts';
import { FtsIndexer } from './fts-indexer.ts';
import { matchesFilter, parseLogFilter } from './log-filter.ts';
import { LogReader } from './log-reader.ts';
import { LogStore } from './log-store.ts';
import { logCountSource } from '../alerting.ts';

const T0 = Date.UTC(2026, 10, 1);
const TRACE_A = 'a'.repeat(32);
const TRACE_B = 'b'.repeat(32);

const MESSAGES = ['Order created', 'order CANCELLED by user', 'payment failed: card declined', 'Über-Größe bestellt', 'user logged in', 'ORDERS exported'];

function records(): LogRecord[] {
  return Array.from({ length: 60 }, (_, i) => ({
    timestamp: new Date(T0 + i * 1000).toISOString().replace('Z', '000Z'),
    severity: i % 3 === 0 ? 3 : 6,
    level: i % 3 === 0 ? 'err' : 'info',
    facility: 1,
    appName: i % 2 === 0 ? 'checkout' : 'billing',
    msg: `${MESSAGES[i % MESSAGES.length]} #${i}`,
    ...(i % 4 === 0 ? { traceId: TRACE_A } : i % 5 === 0 ? { traceId: TRACE_B } : {}),
  }));
}

function storeWith(searchIndex: boolean): { store: LogStore; reader: LogReader; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-search-off-'));
  const db = openDatabase(dir, 'normal');
  const store = new LogStore(db);
  const reader = new LogReader(db, { searchIndex });
  const rs = records();
  store.append(LogBatch.fromRecords(rs, rs.map((_, i) => (T0 + i * 1000) * 1000)));
  return { store, reader, dir };
}

const QUERIES: Array<Record<string, string>> = [
  { q: 'order' },
  { q: 'ORDER created' },
  { q: 'ord*' },
  { q: 'größe' }, // non-ASCII letters fold case too
  { q: 'über' },
  { q: 'declined card' },
  { q: 'nothing-like-this' },
  { q: 'order', service: 'billing' },
  { q: 'user', severity: 'error' },
  { traceId: TRACE_A },
  { traceId: TRACE_B, service: 'checkout' },
  { traceId: TRACE_A, q: 'order' },
];

describe('store.search.enabled: false', () => {
  it('answers q= and traceId= like live tail does, newest first', () => {
    const { reader } = storeWith(false);
    const all = records();
    for (const query of QUERIES) {
      const filter = parseLogFilter(query);
      const expected = all.filter((r, i) => matchesFilter(filter, r, (T0 + i * 1000) * 1000)).reverse().map((r) => r.msg);
      expect(reader.query(filter, 1000).records.map((r) => r.msg), JSON.stringify(query)).toEqual(expected);
      expect(reader.countMatching(filter), JSON.stringify(query)).toBe(expected.length);
    }
    // the cases above are not all empty: they would pass against a store that finds nothing
    expect(reader.query(parseLogFilter({ q: 'order' }), 1000).records).toHaveLength(30);
    expect(reader.query(parseLogFilter({ q: 'größe' }), 1000).records).toHaveLength(10);
    expect(reader.query(parseLogFilter({ traceId: TRACE_A }), 1000).records).toHaveLength(15);
  });

  it('finds what the search index finds for words that occur only whole (a scan also matches inside words: order finds ORDERS)', async () => {
    const off = storeWith(false).reader;
    const { reader: on, dir } = storeWith(true);
    const fts = new FtsIndexer(on.db, dir, { enabled: true, intervalMs: 20, batch: 1000 });
    fts.start();
    await waitFor(() => fts.indexedId() >= 60, 30_000, 20);
    await fts.shutdown();
    for (const query of [{ q: 'cancelled' }, { q: 'card declined' }, { q: 'user', service: 'checkout' }, { traceId: TRACE_B }, { traceId: TRACE_A, q: 'created' }]) {
      const filter = parseLogFilter(query);
      expect(off.query(filter, 1000).records, JSON.stringify(query)).toEqual(on.query(filter, 1000).records);
    }
  });

  it('creates no index database and still checkpoints the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-search-off-'));
    const db = openDatabase(dir, 'normal');
    const store = new LogStore(db);
    const fts = new FtsIndexer(db, dir, { enabled: false, intervalMs: 20, batch: 1000 });
    fts.start();
    const rs = records();
    const micros = rs.map((_, i) => (T0 + i * 1000) * 1000);
    for (let k = 0; k < 50; k++) store.append(LogBatch.fromRecords(rs, micros));
    // Pages reach the database file only through a checkpoint (the connection's own autocheckpoint
    // is set far beyond this much WAL): the worker still runs them.
    const pages = () => (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    const fileBytes = () => statSync(join(dir, 'periscope.db')).size;
    await waitFor(() => fileBytes() >= pages() * 4096, 30_000, 50);
    expect(fileBytes()).toBeGreaterThanOrEqual(pages() * 4096);
    expect(fts.health(store.lastId())).toEqual({ status: 'up', enabled: false });
    expect(fts.lag(store.lastId())).toBe(0);
    await fts.shutdown();
    expect(existsSync(join(dir, 'periscope-fts.db'))).toBe(false);
    db.close();
  });

  it('log alert rules still count, and a rule filtering on q or traceId is warned about once', async () => {
    const { reader } = storeWith(false);
    const warnings: unknown[] = [];
    const source = logCountSource(reader, { warn: (obj: unknown) => warnings.push(obj) });
    const window = [T0, T0 + 60_000] as const;
    expect(await source.count({ q: 'payment' }, ...window)).toBe(10);
    expect(await source.count({ q: 'payment' }, ...window)).toBe(10);
    expect(await source.count({ traceId: TRACE_B }, ...window)).toBe(9);
    expect(await source.count({ service: 'billing' }, ...window)).toBe(30);
    expect(warnings).toEqual([{ filter: { q: 'payment' } }, { filter: { traceId: TRACE_B } }]);
  });
});
