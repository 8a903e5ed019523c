// Search: q= and traceId= over a million stored records, through the search index
// (store.search.enabled: true, the default) and by reading the records (search off, as Loki's
// line filters do) side by side; and what building the index costs.
//   node bench/search.ts [records]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../sdk/src/record.ts';
import { LogBatch } from '../collector/src/ingest/log-batch.ts';
import { openDatabase } from '../collector/src/store/database.ts';
import { FtsIndexer } from '../collector/src/store/fts-indexer.ts';
import { parseLogFilter } from '../collector/src/store/log-filter.ts';
import { LogReader } from '../collector/src/store/log-reader.ts';
import { LogStore } from '../collector/src/store/log-store.ts';
import { median, printTable } from './stats.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const T0 = Date.UTC(2026, 11, 5);
const TRACE = 'c'.repeat(32);
const NEEDLE_AT = Math.floor(N / 2);

function record(i: number): LogRecord {
  const status = i % 10 === 0 ? 500 : 200;
  return {
    timestamp: '',
    severity: status === 500 ? 3 : 6,
    level: status === 500 ? 'err' : 'info',
    facility: 1,
    appName: `svc-${i % 8}`,
    msg: i === NEEDLE_AT ? 'needle found here' : `request handled ${i % 16}-${i % 2000} path=/api/orders status=${status} user=${(i * 7919) % 100_000}`,
    traceId: i % 100_000 === 7 ? TRACE : randomBytes(16).toString('hex'),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'periscope-bench-search-'));
const db = openDatabase(dir, 'normal');
const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 50, batch: 5000 });
const store = new LogStore(db);
const indexed = new LogReader(db, { searchIndex: true });
const scanned = new LogReader(db, { searchIndex: false });
for (let b = 0; b < N; b += 5000) {
  const records = Array.from({ length: Math.min(5000, N - b) }, (_, j) => record(b + j));
  store.append(LogBatch.fromRecords(records, records.map((_, j) => (T0 + b + j) * 1000)));
}

// The index is built from the log, as after a restart or a rebuild (the worker reads the records back).
const started = performance.now();
fts.start();
while (fts.indexedId() < N) await new Promise((r) => setTimeout(r, 20));
const buildSeconds = (performance.now() - started) / 1000;
await fts.shutdown();

function ms(fn: () => number, runs: number): { ms: number; n: number } {
  const times: number[] = [];
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    n = fn();
    times.push(performance.now() - t);
  }
  return { ms: median(times), n };
}

const recent = { start: String(T0 + N - N / 10), end: String(T0 + N) };
const QUERIES: Array<{ what: string; query: Record<string, string>; count?: boolean }> = [
  { what: 'rare word (1 record), limit 100', query: { q: 'needle' } },
  { what: 'rare word and service', query: { q: 'needle', service: `svc-${NEEDLE_AT % 8}` } },
  { what: 'phrase in ~10 records', query: { q: 'user=12345' } },
  { what: 'word in 10 % of records, limit 100', query: { q: 'status=500' } },
  { what: 'word in every record, limit 100', query: { q: 'request' } },
  { what: 'count: word in 10 %, all records', query: { q: 'status=500' }, count: true },
  { what: 'count: word in 10 %, newest 10 %', query: { q: 'status=500', ...recent }, count: true },
  { what: 'count: word in every record, newest 10 %', query: { q: 'request', ...recent }, count: true },
  { what: 'trace id (10 records)', query: { traceId: TRACE } },
];

const rows = QUERIES.map(({ what, query, count }) => {
  const filter = parseLogFilter(query);
  const run = (store: LogReader) => () => (count ? store.countMatching(filter) : store.query(filter, 100).records.length);
  const index = ms(run(indexed), 5);
  const scan = ms(run(scanned), 3);
  return { query: what, matches: index.n, 'index ms': index.ms.toFixed(1), 'search off ms': scan.ms.toFixed(1), 'search off matches': scan.n };
});

printTable(`Search over ${N} records: through the index vs reading the records (medians)`, rows);
const size = statSync(join(dir, 'periscope-fts.db')).size;
console.log(`index built from the log in ${buildSeconds.toFixed(1)} s (${Math.round(N / buildSeconds)} records/s); index file ${(size / 1e6).toFixed(0)} MB (${(size / N).toFixed(0)} bytes/record)`);
console.log('search off matches words inside longer words too (live tail\'s meaning), so its counts can differ');
db.close();
rmSync(dir, { recursive: true, force: true });
