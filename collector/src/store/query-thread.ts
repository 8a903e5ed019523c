// Worker thread that answers log queries (log-reader.ts), trace searches
// (traces/trace-search.ts), trace reads (traces/trace-answer.ts) and dead-letter pages
// (exporters/dead-letter-page.ts) on a read-only connection of its own.
// On the ingest thread, a count or stats over millions of records held the event loop for
// seconds: every POST waited, acknowledgements past a sender's timeout made it send again
// (duplicates). Here a query holds up only the queries queued behind it. WAL readers never
// block the writer and see every transaction committed before their statement began, so a
// record is found as soon as its POST was acknowledged (https://www.sqlite.org/wal.html).
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { PeriscopeError } from '../errors.ts';
import { deadLetterAnswer } from '../exporters/dead-letter-page.ts';
import { BUSY_TIMEOUT_MS } from './database.ts';
import { TraceReader } from '../traces/span-store.ts';
import { traceAnswer } from '../traces/trace-answer.ts';
import { searchTraces } from '../traces/trace-search.ts';
import { LogReader } from './log-reader.ts';
import type { QueryReply, QueryRequest, QueryThreadData } from './store-queries.ts';

const { logDbPath, ftsDbPath } = workerData as QueryThreadData;

const db = new DatabaseSync(logDbPath, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
db.exec('PRAGMA temp_store = MEMORY'); // GROUP BY and ORDER BY without a file
db.exec('PRAGMA cache_size = -65536'); // 64 MiB page cache, as the ingest connection's
// An attached database opens with the main one's flags: read-only too.
if (ftsDbPath !== undefined) db.exec(`ATTACH DATABASE '${ftsDbPath.replaceAll("'", "''")}' AS fts`);
const reader = new LogReader(db, { searchIndex: ftsDbPath !== undefined });
/** Prepared at the first trace read: the spans table exists once the collector has started. */
let traces: TraceReader | undefined;
// Queries are timed from here: loading the thread is not a query's running time.
parentPort!.postMessage({ ready: true } satisfies QueryReply);

function answer(request: QueryRequest): QueryReply['result'] {
  switch (request.op) {
    case 'page':
      return reader.page(request.filter, request.limit, request.cursor);
    case 'stats':
      return reader.stats(request.filter, request.intervalMicros);
    case 'count':
      return reader.countMatching(request.filter);
    case 'traces':
      return searchTraces(db, request.query);
    case 'trace':
      traces ??= new TraceReader(db);
      return traceAnswer(traces, reader, request.traceId);
    case 'deadletters':
      return deadLetterAnswer(db, request.query);
  }
}

parentPort!.on('message', (request: QueryRequest | 'stop') => {
  if (request === 'stop') {
    db.close();
    parentPort!.close();
    return;
  }
  try {
    const result = answer(request);
    // A trace's or a dead-letter page's answer (tens of MiB) is moved, not copied: the ingest thread only sends it.
    parentPort!.postMessage({ id: request.id, result } satisfies QueryReply, result instanceof Uint8Array ? [result.buffer as ArrayBuffer] : []);
  } catch (err) {
    const e = err as Error;
    const error = err instanceof PeriscopeError
      ? { message: e.message, code: err.code, statusCode: err.statusCode, details: err.details }
      : { message: e.message };
    parentPort!.postMessage({ id: request.id, error } satisfies QueryReply);
  }
});
