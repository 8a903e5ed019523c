import { DatabaseSync, StatementSync } from 'node:sqlite';
import { describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { boundDeadLetters, countLetters, DeadLetterStore } from './dead-letter.ts';
import { createExporterMetrics } from './metrics.ts';

const record = { timestamp: '2026-12-04T10:00:00.000001Z', severity: 6, level: 'info', facility: 1, msg: 'hello' } as const;
/** A log letter refused with HTTP 400 (Loki's answer to a bad record), its record's msg `msg`. */
const letter = (logId: number, msg: string = record.msg, micros = logId) => ({ logId, micros, record: { ...record, msg } as never, reason: 'HTTP 400', status: 400 });

describe('DeadLetterStore', () => {
  it('keeps log records and span documents apart, each read back as it was added', () => {
    const store = new DeadLetterStore(new DatabaseSync(':memory:'));
    store.add('es', [{ logId: 7, micros: 1, record: record as never, reason: 'HTTP 400: mapper_parsing_exception', status: 400 }], 10, 1000);
    const document = { '@timestamp': '2026-12-04T10:00:00.000002Z', trace: { id: 'a'.repeat(32) }, span: { id: 'b'.repeat(16), name: 'GET /' } };
    // the same position under the traces export is another letter (one letter per item and exporter)
    store.add('es:traces', [{ kind: 'span', logId: 7, micros: 2, documentId: `${'a'.repeat(32)}-${'b'.repeat(16)}`, source: JSON.stringify(document), reason: 'HTTP 400: x', status: 400 }], 10, 2000);
    const [log, span] = store.list({ limit: 10 });
    expect(log).toMatchObject({ exporter: 'es', kind: 'log', logId: 7, micros: 1, record, status: 400, at: 1000, attempts: 1 });
    expect(span).toMatchObject({ exporter: 'es:traces', kind: 'span', logId: 7, micros: 2, documentId: `${'a'.repeat(32)}-${'b'.repeat(16)}`, document, at: 2000 });
    expect(store.count('es')).toBe(1);
    expect(store.count('es:traces')).toBe(1);
  });

  it('opens a table written before span letters existed: old rows are log letters, new span letters fit', () => {
    const db = new DatabaseSync(':memory:');
    db.exec(`CREATE TABLE deadletter (id INTEGER PRIMARY KEY, exporter TEXT NOT NULL, log_id INTEGER NOT NULL, ts INTEGER NOT NULL,
      body TEXT NOT NULL, reason TEXT NOT NULL, status INTEGER NOT NULL, at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 1) STRICT`);
    db.prepare('INSERT INTO deadletter (exporter, log_id, ts, body, reason, status, at) VALUES (?, ?, ?, ?, ?, ?, ?)').run('loki', 3, 5, JSON.stringify(record), "HTTP 400: entry for stream '{a=\"b\"}' has timestamp too old: 2026-01-01T00:00:00.000Z", 400, 9);
    const store = new DeadLetterStore(db);
    // the letters kept before the summary existed are counted by their cause too
    expect(store.summary({}).map((c) => [c.exporter, c.cause, c.count])).toEqual([['loki', 'timestamp too old', 1]]);
    store.add('es:traces', [{ kind: 'span', logId: 1, micros: 2, documentId: 't-s', source: '{"span":{"id":"s"}}', reason: 'r', status: 400 }], 10);
    const letters = store.list({ limit: 10 });
    expect(letters[0]).toMatchObject({ exporter: 'loki', kind: 'log', logId: 3, record, reason: expect.stringContaining('too old') });
    expect(letters[1]).toMatchObject({ exporter: 'es:traces', kind: 'span', documentId: 't-s', document: { span: { id: 's' } } });
    // the old table had no AUTOINCREMENT: migrated, its ids kept and never given out again
    expect(letters.map((l) => l.id)).toEqual([1, 2]);
    store.remove([2]);
    store.add('loki', [{ logId: 4, micros: 6, record: record as never, reason: 'r', status: 400 }], 10);
    expect(store.list({ limit: 10 }).map((l) => l.id)).toEqual([1, 3]);
  });

  it('opens a table of the version before the summary: each letter gets its cause, ids and rows kept', () => {
    const db = new DatabaseSync(':memory:');
    db.exec(`CREATE TABLE deadletter (id INTEGER PRIMARY KEY AUTOINCREMENT, exporter TEXT NOT NULL, log_id INTEGER NOT NULL, ts INTEGER NOT NULL,
      body TEXT NOT NULL, reason TEXT NOT NULL, status INTEGER NOT NULL, at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,
      kind TEXT NOT NULL DEFAULT 'log', doc_id TEXT) STRICT;
      CREATE INDEX deadletter_exporter ON deadletter(exporter, id);
      CREATE UNIQUE INDEX deadletter_record ON deadletter(exporter, log_id);`);
    const insert = db.prepare('INSERT INTO deadletter (id, exporter, log_id, ts, body, reason, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    insert.run(7, 'es', 1, 5, JSON.stringify(record), 'HTTP 400: mapper_parsing_exception: failed to parse [n]', 400, 9);
    insert.run(8, 'es', 2, 5, JSON.stringify(record), 'HTTP 400: mapper_parsing_exception: failed to parse [m]', 400, 10);
    const store = new DeadLetterStore(db);
    expect(store.summary({})).toEqual([{ exporter: 'es', status: 400, cause: 'mapper_parsing_exception', count: 2, example: 'HTTP 400: mapper_parsing_exception: failed to parse [m]', firstAt: 9, lastAt: 10 }]);
    expect(store.list({ limit: 10 }).map((l) => l.id)).toEqual([7, 8]);
    // refused again for another cause: counted under it
    store.update(7, "HTTP 400: entry for stream '{a=\"b\"}' has timestamp too old: x", 400, 11);
    expect(store.summary({ exporter: 'es' }).map((c) => [c.cause, c.count])).toEqual([['mapper_parsing_exception', 1], ['timestamp too old', 1]]);
  });

  it('a count by service that matches no letter still calls into JavaScript as it reads, so a query thread past its timeout can be stopped', () => {
    const db = new DatabaseSync(':memory:');
    const store = new DeadLetterStore(db);
    store.add('loki', Array.from({ length: 5000 }, (_, i) => letter(i + 1)), 5000);
    let calls = 0;
    db.function('periscope_running', { deterministic: false }, () => (calls++, 1));
    expect(countLetters(db, { service: 'none' })).toBe(0);
    expect(calls).toBeGreaterThanOrEqual(Math.floor(5000 / 256) - 1); // one per 256 letters read
  });

  it('pages up to limit letters and maxChars of them, at least one, saying whether more follow', () => {
    const store = new DeadLetterStore(new DatabaseSync(':memory:'));
    // refused for good because large (Loki's line limit): a page of 1000 such was gigabytes
    const big = (logId: number) => ({ logId, micros: logId, record: { ...record, msg: `${logId} ${'x'.repeat(1000)}` } as never, reason: 'HTTP 400: line too long', status: 400 });
    store.add('loki', [1, 2, 3, 4, 5].map(big), 10);
    const ids: number[][] = [];
    let afterId: number | undefined;
    for (;;) {
      const { letters, more } = store.page({ exporter: 'loki', afterId, limit: 100, maxChars: 2500 });
      ids.push(letters.map((l) => l.logId));
      if (!more) break;
      afterId = letters.at(-1)!.id;
    }
    expect(ids).toEqual([[1, 2], [3, 4], [5]]);
    expect(store.page({ limit: 100, maxChars: 10 })).toMatchObject({ letters: [{ logId: 1 }], more: true }); // one, however large
    expect(store.page({ limit: 5, maxChars: 1e9 }).more).toBe(false);
    expect(store.page({ limit: 4, maxChars: 1e9 })).toMatchObject({ letters: { length: 4 }, more: true });
  });

  // Backends refuse the large records for good (Loki's 256 KB line limit): 100 000 such letters
  // were tens of GB, and retention deleted every record to keep store.retention.maxBytes.
  it('keeps at most maxBytes of letters per exporter: the oldest beyond are evicted, the newest always stays', () => {
    const db = new DatabaseSync(':memory:');
    const store = new DeadLetterStore(db);
    const big = (logId: number) => ({ logId, micros: logId, record: { ...record, msg: `${logId} ${'x'.repeat(1000)}` } as never, reason: 'HTTP 400: line too long', status: 400 });
    const size = Buffer.byteLength(JSON.stringify(big(1).record));
    expect(store.add('loki', [1, 2, 3].map(big), 100, 0, 5 * size)).toMatchObject({ added: 3, evicted: 0 });
    expect(store.add('loki', [4, 5, 6, 7].map(big), 100, 0, 5 * size)).toMatchObject({ added: 4, evicted: 2 });
    expect(store.list({ exporter: 'loki', limit: 100 }).map((l) => l.logId)).toEqual([3, 4, 5, 6, 7]);
    expect(store.bytes('loki')).toBe(5 * size);
    // another exporter's letters have their own bound
    store.add('es', [1].map(big), 100, 0, 5 * size);
    expect(store.count('loki')).toBe(5);
    // a count bound and a byte bound together; the count is kept exact across both
    expect(store.add('loki', [8, 9].map(big), 4, 0, 3 * size)).toMatchObject({ added: 2, evicted: 4 });
    expect(store.list({ exporter: 'loki', limit: 100 }).map((l) => l.logId)).toEqual([7, 8, 9]);
    expect(store.count('loki')).toBe(3);
    expect(new DeadLetterStore(db).bytes('loki')).toBe(3 * size); // as stored, read again
    // one letter larger than the bound on its own is kept
    expect(store.add('loki', [10].map(big), 100, 0, 10)).toMatchObject({ added: 1, evicted: 3 });
    expect(store.list({ exporter: 'loki', limit: 100 }).map((l) => l.logId)).toEqual([10]);
  });

  it('never gives an id to a second letter, even after the newest were replayed and removed', () => {
    const db = new DatabaseSync(':memory:');
    let store = new DeadLetterStore(db);
    store.add('loki', [letter(1), letter(2), letter(3)], 10);
    const [a, b, c] = store.list({ limit: 10 });
    store.remove([b.id, c.id]);
    store = new DeadLetterStore(db); // a restart in between changes nothing
    store.add('loki', [letter(4)], 10);
    const after = store.list({ limit: 10 });
    expect(after.map((l) => l.id)).toEqual([a.id, c.id + 1]);
    // a page cursor (the id of a page's last letter) still points where it did
    expect(store.list({ afterId: a.id, limit: 10 }).map((l) => l.logId)).toEqual([4]);
  });

  it('at start, letters beyond the bounds are cut to them and counted; a failing write is logged, not thrown', async () => {
    const db = new DatabaseSync(':memory:');
    const store = new DeadLetterStore(db);
    const sized = (logId: number) => letter(logId, `${logId} ${'x'.repeat(1000)}`);
    store.add('loki', [1, 2, 3, 4, 5].map(sized), 100); // kept under a larger bound
    const registry = new Registry();
    const metrics = createExporterMetrics(registry);
    const warnings: string[] = [];
    const logger = { warn: (_: object, msg: string) => void warnings.push(msg) };
    const labels = { exporter: 'loki', type: 'loki' };
    await boundDeadLetters(store, metrics, labels, { records: 3, bytes: Number.POSITIVE_INFINITY }, logger);
    expect(store.list({ exporter: 'loki', limit: 10 }).map((l) => l.logId)).toEqual([3, 4, 5]);
    expect(await registry.getSingleMetricAsString('periscope_exporter_dropped_items_total')).toContain('reason="deadletter_full"} 2');
    expect(warnings).toEqual([expect.stringContaining('2 oldest dead letter(s)')]);
    // within the bounds: nothing written
    store.trim = () => {
      throw new Error('database or disk is full');
    };
    await boundDeadLetters(store, metrics, labels, 3, logger);
    expect(warnings).toHaveLength(1);
    delete (store as { trim?: unknown }).trim;
    db.exec('CREATE TRIGGER full BEFORE DELETE ON deadletter BEGIN SELECT RAISE(FAIL, \'database or disk is full\'); END');
    // a write that fails (a full disk) does not stop the exporter
    await expect(boundDeadLetters(store, metrics, labels, 2, logger)).resolves.toBeUndefined();
    expect(warnings[1]).toContain('applying the dead-letter bounds failed');
  });

  // Deleted by the bounds under a replay sending them, letters were counted as dropped and then
  // as replayed or failed.
  it('the bounds leave the letters a replay is sending to it, also at start, and apply to them once released', async () => {
    const store = new DeadLetterStore(new DatabaseSync(':memory:'));
    store.add('loki', [1, 2, 3].map((id) => letter(id)), 10);
    const ids = store.list({ limit: 10 }).map((l) => l.id);
    expect(store.claim(ids.slice(0, 2))).toEqual(new Set());
    expect(store.claim(ids.slice(1, 2))).toEqual(new Set([ids[1]])); // a second replay's
    expect(store.add('loki', [letter(4)], 1)).toMatchObject({ added: 1, evicted: 1 }); // 3, the oldest of the others
    const logIds = () => store.list({ exporter: 'loki', limit: 10 }).map((l) => l.logId);
    expect(logIds()).toEqual([1, 2, 4]);
    // at start: over the bound by the replay's letters alone, it ends (it went round until the replay ended)
    const logger = { warn: () => {} };
    await boundDeadLetters(store, createExporterMetrics(new Registry()), { exporter: 'loki', type: 'loki' }, 1, logger);
    expect(logIds()).toEqual([1, 2, 4]);
    store.release(ids.slice(0, 2));
    expect(store.trim('loki', 1, Number.POSITIVE_INFINITY, { records: 10, bytes: 2 ** 20 })).toEqual({ evicted: 2, more: false });
    expect(logIds()).toEqual([4]);
    expect(store.count('loki')).toBe(1);
  });

  // In one transaction before the collector listened, 200 000 letters held the start for seconds
  // (health checks failed, the pod was restarted and trimmed again).
  it('cuts a large excess in slices, the event loop turning between them; letters filed meanwhile take no more room than they make', async () => {
    const db = new DatabaseSync(':memory:');
    new DeadLetterStore(db).add('loki', Array.from({ length: 2500 }, (_, i) => letter(i + 1)), 10_000);
    const store = new DeadLetterStore(db); // at start: the letters' bytes not summed yet
    // over the count bound, the sum is not needed: it read every letter (2.5 s for 200 000 of 2 KB)
    const sums = vi.spyOn(store, 'bytes');
    const metrics = createExporterMetrics(new Registry());
    const counts: number[] = [];
    let turning = true;
    const bounding = boundDeadLetters(store, metrics, { exporter: 'loki', type: 'loki' }, 10, { warn: () => {} });
    const turns = (async () => {
      while (turning) {
        const n = store.count('loki');
        // filed while the bounds are applied: it takes the room of one letter, the rest is left to the slices
        if (n < 2500 && counts.length === 0) expect(store.add('loki', [letter(9999)], 10)).toMatchObject({ added: 1, evicted: 1 });
        if (n < 2500) counts.push(n);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await bounding;
    turning = false;
    await turns;
    expect(store.count('loki')).toBe(10);
    expect(store.list({ exporter: 'loki', limit: 100 }).map((l) => l.logId)).toEqual([2492, 2493, 2494, 2495, 2496, 2497, 2498, 2499, 2500, 9999]);
    // the counts seen between slices (once it began): 1000 letters at most deleted per slice
    expect(counts.slice(0, 2)).toEqual([1500, 500]);
    expect(sums).not.toHaveBeenCalled();
    // done: add() applies the bounds again
    expect(store.add('loki', [letter(10_000)], 10)).toMatchObject({ added: 1, evicted: 1 });
  });

  it('sums the letters\' sizes in slices for the byte bound, again after a deletion meanwhile', async () => {
    const db = new DatabaseSync(':memory:');
    const sized = (logId: number) => letter(logId, `${logId} ${'x'.repeat(1000)}`);
    new DeadLetterStore(db).add('loki', Array.from({ length: 5000 }, (_, i) => sized(1000 + i)), 10_000);
    const size = Buffer.byteLength(JSON.stringify(sized(1000).record)); // the same for each: four-digit ids
    const store = new DeadLetterStore(db); // at start: not summed yet
    let done = false;
    const bounding = boundDeadLetters(store, createExporterMetrics(new Registry()), { exporter: 'loki', type: 'loki' }, { records: 10_000, bytes: 3000 * size }, { warn: () => {} }).then(() => (done = true));
    let turns = 0;
    while (!done) {
      // a replay delivers the oldest letter while the sizes are summed
      if (++turns === 2) store.remove([store.list({ exporter: 'loki', limit: 1 })[0].id]);
      await new Promise((r) => setImmediate(r));
    }
    await bounding;
    expect(turns).toBeGreaterThan(3);
    expect(store.count('loki')).toBe(3000);
    expect(store.bytes('loki')).toBe(3000 * size);
    expect(new DeadLetterStore(db).bytes('loki')).toBe(3000 * size); // summed at once, from the table
  });

  // The sum started again after every deletion: with the exporter filing letters at the count
  // bound (each deleting the oldest), or another exporter's, it never ended and the byte bound was never applied.
  it('sums the sizes while letters filed at the count bound delete the oldest, each taken off the sum', async () => {
    const db = new DatabaseSync(':memory:');
    const sized = (logId: number) => letter(logId, `${logId} ${'x'.repeat(logId % 500)}`);
    new DeadLetterStore(db).add('loki', Array.from({ length: 5000 }, (_, i) => sized(1000 + i)), 10_000);
    const store = new DeadLetterStore(db); // at start: not summed yet
    let done = false;
    const bounding = boundDeadLetters(store, createExporterMetrics(new Registry()), { exporter: 'loki', type: 'loki' }, { records: 5000, bytes: 1e12 }, { warn: () => {} }).then(() => (done = true));
    let logId = 6000;
    for (let turns = 0; !done && turns < 200; turns++) {
      expect(store.add('loki', [sized(logId++)], 5000, 0, 1e12)).toMatchObject({ added: 1, evicted: 1 });
      await new Promise((r) => setImmediate(r));
    }
    expect(done).toBe(true);
    await bounding;
    expect(store.count('loki')).toBe(5000);
    expect(store.bytes('loki')).toBe(new DeadLetterStore(db).bytes('loki')); // summed at once, from the table
  });

  // Cleared after a replay or a discard, the byte count was summed again from every letter at the
  // next letter filed: 0.5–2.5 s for 200 000 letters of 2 KB, every POST held meanwhile.
  it('keeps its counts through replays and discards, without summing every letter again', () => {
    const db = new DatabaseSync(':memory:');
    const store = new DeadLetterStore(db);
    const sized = (logId: number) => letter(logId, 'x'.repeat(logId * 10));
    store.add('loki', [1, 2, 3, 4, 5, 6].map(sized), 100, 0, 1e9);
    store.add('es', [1, 2].map(sized), 100, 0, 1e9);
    const ids = store.list({ exporter: 'loki', limit: 10 }).map((l) => l.id);
    const gets = vi.spyOn(StatementSync.prototype, 'get');
    try {
      store.remove([ids[0], ids[1]]); // delivered by a replay
      expect(store.purge({ exporter: 'loki', ids: [ids[2]] })).toEqual(new Map([['loki', 1]])); // discarded
      store.add('loki', [sized(7)], 100, 0, 1e9);
      const sums = gets.mock.contexts.filter((st) => (st as StatementSync).sourceSQL.includes('sum(octet_length'));
      expect(sums).toHaveLength(0);
    } finally {
      gets.mockRestore();
    }
    const fresh = new DeadLetterStore(db); // counted from the table
    for (const exporter of ['loki', 'es']) {
      expect([store.count(exporter), store.bytes(exporter)]).toEqual([fresh.count(exporter), fresh.bytes(exporter)]);
    }
    expect(store.count('loki')).toBe(4);
  });

  // The first refusals after a start may come before the collector listens (the exporter's own
  // checks run when the backlog is read): filing one then deleted the whole excess at once.
  it('while the bounds are being applied, a letter filed takes the room of one letter, not of the excess', () => {
    const db = new DatabaseSync(':memory:');
    new DeadLetterStore(db).add('loki', Array.from({ length: 2500 }, (_, i) => letter(i + 1)), 10_000);
    const store = new DeadLetterStore(db); // a start: the bytes not summed
    store.beginTrim('loki'); // the exporter started; boundDeadLetters not yet
    expect(store.add('loki', [letter(9000), letter(9001)], 10, 0, 1e9)).toMatchObject({ added: 2, evicted: 2 });
    expect(store.count('loki')).toBe(2500);
    store.endTrim('loki');
    expect(store.add('loki', [letter(9002)], 10, 0, 1e9)).toMatchObject({ added: 1, evicted: 2491 });
  });

  // In one transaction, a DELETE of 200 000 letters of 2 KB held every request for 3 s.
  it('discards a thousand letters at a time, the event loop turning between; letters filed meanwhile stay', async () => {
    const store = new DeadLetterStore(new DatabaseSync(':memory:'));
    store.add('loki', Array.from({ length: 2500 }, (_, i) => letter(i + 1)), 10_000);
    store.add('es', [letter(1)], 10);
    const slices: number[] = [];
    let done = false;
    const discarding = store.discard({ exporter: 'loki' }, (deleted) => slices.push(deleted.get('loki') ?? 0)).finally(() => (done = true));
    const seen: number[] = [];
    while (!done) {
      const n = store.count('loki');
      if (seen.length === 0) store.add('loki', [letter(9999)], 10_000); // filed meanwhile
      seen.push(n);
      await new Promise((r) => setImmediate(r));
    }
    expect(await discarding).toEqual({ deleted: 2500, replaying: 0 });
    expect(slices).toEqual([1000, 1000, 500]);
    expect(seen.slice(0, 2)).toEqual([1500, 501]); // the counts between slices
    expect(store.list({ limit: 10 }).map((l) => [l.exporter, l.logId])).toEqual([['es', 1], ['loki', 9999]]);
  });

  // Discarded before the cursor passed their records, letters came back after a restart: the
  // records were sent again from the cursor, refused again and filed as new letters.
  it('a discarded letter of a record after the cursor is not filed again until the cursor passes it', () => {
    const db = new DatabaseSync(':memory:');
    let store = new DeadLetterStore(db);
    store.add('loki', [1, 5, 6].map((id) => letter(id)), 100);
    store.add('es', [5].map((id) => letter(id)), 100);
    // loki's cursor is at 4 (1 passed, 5 and 6 not); es has no cursor here (not running)
    expect(store.purge({ ids: store.list({ limit: 10 }).map((l) => l.id) }, { loki: 4 })).toEqual(new Map([['loki', 3], ['es', 1]]));
    store = new DeadLetterStore(db); // a restart
    // sent again from the cursor and refused again: 5 and 6 stay discarded; 7 is a new refusal
    expect(store.add('loki', [5, 6, 7].map((id) => letter(id)), 100)).toEqual({ added: 1, evicted: 0, discarded: 2 });
    // another record at position 6 (the log emptied by retention, positions given again) is filed
    expect(store.add('loki', [letter(6, record.msg, 600)], 100)).toMatchObject({ added: 1, discarded: 0 });
    expect(store.add('es', [letter(5)], 100)).toMatchObject({ added: 1, discarded: 0 });
    // the cursor passed 5: forgotten (a position is sent again only from an older cursor, which never comes back)
    store.forgetDiscarded('loki', 5);
    expect(store.add('loki', [letter(5)], 100)).toMatchObject({ added: 1, discarded: 0 });
    expect(store.list({ exporter: 'loki', limit: 10 }).map((l) => l.logId)).toEqual([7, 6, 5]);
  });

  // Deleted by the bounds before the cursor passed their records, letters came back after a
  // restart as the newest, counted as dead-lettered (and dropped) again.
  it('a letter the bounds delete after the cursor is not filed again; remembered until the cursor passes it', () => {
    const db = new DatabaseSync(':memory:');
    const remembered = () => db.prepare('SELECT log_id FROM deadletter_discarded ORDER BY log_id').all().map((r) => r.log_id);
    let store = new DeadLetterStore(db);
    store.forgetDiscarded('loki', 4); // running, its cursor at 4
    expect(store.add('loki', [1, 5, 6].map((id) => letter(id)), 2)).toEqual({ added: 3, evicted: 1, discarded: 0 }); // 1: passed
    expect(store.add('loki', [letter(7)], 2)).toEqual({ added: 1, evicted: 1, discarded: 0 }); // 5: not passed
    expect(store.trim('loki', 1, Number.POSITIVE_INFINITY, { records: 10, bytes: 2 ** 20 })).toEqual({ evicted: 1, more: false }); // 6, by trim
    expect(remembered()).toEqual([5, 6]);
    store = new DeadLetterStore(db); // a restart
    store.forgetDiscarded('loki', 4);
    expect(store.add('loki', [5, 6, 7].map((id) => letter(id)), 2)).toEqual({ added: 0, evicted: 0, discarded: 2 });
    expect(store.list({ exporter: 'loki', limit: 10 }).map((l) => [l.logId, l.attempts])).toEqual([[7, 2]]);
    store.forgetDiscarded('loki', 7);
    expect(remembered()).toEqual([]);
  });
});
