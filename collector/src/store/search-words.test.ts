// q= through the chunked search index: candidates per chunk of 64 records, each record checked.
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
import { appendIndexText, emptyIndexText } from './index-queue.ts';
import { CHUNK_SIZE } from './fts-schema.ts';
import { filterToSql, matchesFilter, parseLogFilter, type SearchMode } from './log-filter.ts';
import { LogReader } from './log-reader.ts';
import { LogStore } from './log-store.ts';
import { matchesWords } from './search-words.ts';

const T0 = Date.UTC(2026, 11, 5);

const MESSAGES = [
  'request handled path=/api/orders status=200',
  'unhandled request: orders api down',
  'Café ouvert à Paris',
  'cafe closed',
  'Über-Größe bestellt',
  'Việt Nam giao hàng',
  'ødelagt ordre fra Łódź',
  '주문 처리 완료',
  '注文を処理しました',
  'user_id=42 logged in 🎉',
  'ERROR: disk full (sda1)',
  "don't retry",
  'orders-api v2.3.1 started',
  'x🎉y naïve-approach',
  'C++ and C# ΑΒΓ σοφός 𝐀𝐁 end',
  'prefix-matching handler',
];

const QUERIES = [
  'handled', 'HANDLED', 'handl*', 'request handled', 'path=/api/orders', 'api/orders', 'orders/api', 'orders api',
  'cafe', 'café', 'CAFÉ', 'ouvert', 'größe', 'grosse', 'uber', 'viet', 'việt', 'hàng', 'hang',
  'ødelagt', 'łódź', 'lodz', '주문', '처리', '注文を処理しました', 'user_id', 'user', 'id=42', '🎉 logged',
  'sda1', 'sda', 'sda*', 'disk full', 'full disk', "don't", 'don', 't', 'v2.3.1', '2.3', 'orders-api', 'api v2',
  'x', 'y', 'x🎉y', 'naive', 'approach', 'c', 'c++', 'αβγ', 'σοφος', 'ΣΟΦΟΣ', 'σοφός', 'σοφόσ', 'ΣΟΦΌΣ', 'end', '𝐀𝐁', 'handl*', 'handler*', 'prefix-match*', 'match*', 'a', 'and',
];

/** What a per-record FTS5 index with the chunks' tokenizer matches: each word a quoted phrase. */
function perRecordIndex(): (q: string) => string[] {
  const db = new DatabaseSync(':memory:');
  db.exec("CREATE VIRTUAL TABLE t USING fts5(msg, tokenize='unicode61 remove_diacritics 2')");
  const insert = db.prepare('INSERT INTO t(rowid, msg) VALUES (?, ?)');
  MESSAGES.forEach((m, i) => insert.run(i + 1, m));
  const match = db.prepare('SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid');
  return (q) => {
    const words = q.split(/\s+/).map((w) => (w.length > 1 && w.endsWith('*') ? `"${w.slice(0, -1).replaceAll('"', '""')}"*` : `"${w.replaceAll('"', '""')}"`));
    return (match.all(words.join(' ')) as Array<{ rowid: number }>).map((r) => MESSAGES[r.rowid - 1]);
  };
}

function record(msg: string, i: number): LogRecord {
  return { timestamp: new Date(T0 + i).toISOString(), severity: 6, level: 'info', facility: 1, msg };
}

function openStore(dir = mkdtempSync(join(tmpdir(), 'periscope-words-'))): { db: DatabaseSync; store: LogStore; reader: LogReader; fts: FtsIndexer; dir: string } {
  const db = openDatabase(dir, 'normal');
  const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 10, batch: 1000 });
  return { db, store: new LogStore(db), reader: new LogReader(db), fts, dir };
}

function append(store: LogStore, msgs: string[]): void {
  const base = store.lastId();
  store.append(LogBatch.fromRecords(msgs.map((m, i) => record(m, base + i)), msgs.map((_, i) => (T0 + base + i) * 1000)));
}

async function indexed(fts: FtsIndexer, upTo: number): Promise<void> {
  await waitFor(() => fts.indexedId() >= upTo, 30_000, 10);
  expect(fts.indexedId()).toBe(upTo);
}

const found = (reader: LogReader, q: string) => reader.query(parseLogFilter({ q }), 1000).records.map((r) => r.msg).reverse();

describe('q= words', () => {
  it('match as a per-record FTS5 index (unicode61) matched them: whole tokens, phrases, prefixes, case and diacritics folded', () => {
    const fts5 = perRecordIndex();
    const differing = QUERIES.map((q) => ({ q, words: MESSAGES.filter((m) => matchesWords(m, q)), fts5: fts5(q) })).filter((c) => JSON.stringify(c.words) !== JSON.stringify(c.fts5));
    expect(differing).toEqual([]);
    // not vacuous: the cases differ from one another and from a substring match
    expect(MESSAGES.filter((m) => matchesWords(m, 'handled'))).toEqual([MESSAGES[0]]);
    expect(MESSAGES.filter((m) => matchesWords(m, 'cafe'))).toEqual([MESSAGES[2], MESSAGES[3]]);
    expect(MESSAGES.filter((m) => matchesWords(m, 'orders api'))).toHaveLength(3);
    expect(MESSAGES.filter((m) => matchesWords(m, 'orders/api'))).toEqual([MESSAGES[1], MESSAGES[12]]); // orders-api too: a phrase, as in FTS5
  });

  it('through the index, finds only the records of a chunk that match, not their neighbours', async () => {
    const { store, reader, fts, db } = openStore();
    append(store, Array.from({ length: 3 * CHUNK_SIZE }, (_, i) => MESSAGES[i % MESSAGES.length]));
    fts.start();
    await indexed(fts, 3 * CHUNK_SIZE);
    await fts.shutdown();
    // "handled" and "unhandled request" share every chunk; only whole-token matches come back
    expect(found(reader, 'handled')).toHaveLength(Math.ceil((3 * CHUNK_SIZE) / MESSAGES.length));
    expect(new Set(found(reader, 'handled'))).toEqual(new Set([MESSAGES[0]]));
    for (const q of ['cafe', 'orders api', 'sda*', 'lodz', '주문']) {
      const expected = Array.from({ length: 3 * CHUNK_SIZE }, (_, i) => MESSAGES[i % MESSAGES.length]).filter((m) => matchesWords(m, q));
      expect(found(reader, q), q).toEqual(expected);
      expect(reader.countMatching(parseLogFilter({ q })), q).toBe(expected.length);
    }
    // the answers came from the index: the chunks are there and nothing is left unindexed
    expect((db.prepare('SELECT count(*) AS n FROM fts.log_chunks WHERE log_chunks MATCH ?').get('msg : "handled"') as { n: number }).n).toBe(3);
    db.close();
  });

  it('finds records of a chunk indexed in several steps, across a restart in the middle of a chunk', async () => {
    const first = openStore();
    append(first.store, ['first alpha', 'second beta']);
    first.fts.start();
    await indexed(first.fts, 2);
    append(first.store, ['third gamma']);
    await indexed(first.fts, 3);
    await first.fts.shutdown();
    first.db.close();
    // restarted with the cursor in the middle of chunk 0: its earlier records are read back
    const { db, store, reader, fts: again } = openStore(first.dir);
    again.start();
    append(store, [...Array.from({ length: CHUNK_SIZE }, (_, i) => `filler ${i}`), 'last delta']);
    await indexed(again, CHUNK_SIZE + 4);
    await again.shutdown();
    // position 0 is never used: chunk 0 holds 1 … 63; everything is indexed, so no record is read as unindexed
    for (const [q, msg] of [['alpha', 'first alpha'], ['beta', 'second beta'], ['gamma', 'third gamma'], ['delta', 'last delta'], ['filler 62', 'filler 62']]) {
      expect(found(reader, q), q).toEqual([msg]);
    }
    const chunks = db.prepare('SELECT rowid FROM fts.log_chunks WHERE log_chunks MATCH ? ORDER BY rowid');
    expect(chunks.all('msg : "alpha"')).toEqual([{ rowid: 0 }]);
    expect(chunks.all('msg : "filler"')).toEqual([{ rowid: 0 }, { rowid: 1 }]);
    db.close();
  });

  it('indexes the text offered after each commit, not the log, sliced into chunks across batch boundaries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-words-'));
    const db = openDatabase(dir, 'normal');
    // a long interval: the offers below all arrive while the worker sleeps after its first step
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 2000, batch: 1000 });
    const store = new LogStore(db);
    fts.start();
    append(store, ['stored s1']); // not offered: read from the log
    await indexed(fts, 1);
    // The log says "stored s<id>"; the offers say "offered w<id>": the index shows which was read.
    // Every fifth offered record has no message, every third no trace id.
    let id = 2;
    for (const size of [5, 70, 1, 130, 64]) {
      const text = emptyIndexText();
      for (let i = id; i < id + size; i++) appendIndexText(text, i % 5 === 0 ? '' : `offered w${i}`, i % 3 === 0 ? null : `ot${i}`);
      const ids = store.append(LogBatch.fromRecords(Array.from({ length: size }, (_, k) => record(`stored s${id + k}`, id + k)), Array.from({ length: size }, (_, k) => (T0 + id + k) * 1000)));
      expect(ids?.firstId).toBe(id);
      fts.offer(id, text);
      id += size;
    }
    const last = id - 1;
    await indexed(fts, last);
    await fts.shutdown();
    const chunksOf = (column: string, word: string) => (db.prepare('SELECT rowid FROM fts.log_chunks WHERE log_chunks MATCH ? ORDER BY rowid').all(`${column} : "${word}"`) as Array<{ rowid: number }>).map((r) => r.rowid);
    expect(chunksOf('msg', 's1')).toEqual([0]);
    for (let i = 2; i <= last; i++) {
      const chunk = [Math.floor(i / CHUNK_SIZE)];
      expect(chunksOf('msg', `w${i}`), `msg of ${i}`).toEqual(i % 5 === 0 ? [] : chunk);
      expect(chunksOf('trace_id', `ot${i}`), `trace id of ${i}`).toEqual(i % 3 === 0 ? [] : chunk);
      expect(chunksOf('msg', `s${i}`), `log text of ${i}`).toEqual([]);
    }
    expect(chunksOf('msg', 'offered')).toEqual(Array.from({ length: Math.floor(last / CHUNK_SIZE) + 1 }, (_, c) => c));
    db.close();
  });

  it('drops the chunks whose records retention deleted, and keeps the chunk that still holds some', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-words-'));
    const db = openDatabase(dir, 'normal');
    const fts = new FtsIndexer(db, dir, { enabled: true, intervalMs: 1, batch: 1000 }); // prunes every 300 rounds: within a second
    const store = new LogStore(db);
    const reader = new LogReader(db);
    append(store, Array.from({ length: 3 * CHUNK_SIZE - 1 }, (_, i) => `kept ${i}`)); // positions 1 … 191: chunks 0, 1, 2
    fts.start();
    await indexed(fts, 3 * CHUNK_SIZE - 1);
    db.prepare('DELETE FROM logs WHERE id < ?').run(2 * CHUNK_SIZE + 2); // as retention does: the oldest rows
    const chunks = () => (db.prepare('SELECT rowid FROM fts.log_chunks').all() as Array<{ rowid: number }>).map((r) => r.rowid);
    expect(chunks()).toEqual([0, 1, 2]);
    await waitFor(() => chunks().length <= 1, 30_000, 20);
    await fts.shutdown();
    expect(chunks()).toEqual([2]);
    expect(found(reader, 'kept')).toHaveLength(CHUNK_SIZE - 2);
    db.close();
  });

  it('finds a word with a dotted capital I (Turkish İ) once indexed, as before', async () => {
    // 'İ'.toLowerCase() is 'i' + U+0307 (a combining dot, no token character): the index was asked
    // for "i" and "stanbul", and a record found while unindexed was lost once indexed.
    const { store, reader, fts, db } = openStore();
    append(store, ['İstanbul ofisi açıldı', 'İzmir', 'Ankara']);
    for (const q of ['İstanbul', 'istanbul', 'İSTANBUL', 'İst*', 'izmir', 'İzmir']) expect(found(reader, q), `${q} unindexed`).toHaveLength(1);
    fts.start();
    await indexed(fts, 3);
    await fts.shutdown();
    for (const q of ['İstanbul', 'istanbul', 'İSTANBUL', 'İst*', 'izmir', 'İzmir']) expect(found(reader, q), `${q} indexed`).toHaveLength(1);
    db.close();
  });

  // unicode61 made a run of Han or kana one token: 東京都で地震が発生しました was found by the whole
  // sentence only, where Elasticsearch (one token per ideograph) and Loki (a substring) find 東京.
  const CJK = ['東京都で地震が発生しました', 'Node.jsでエラーが発生', 'コーヒーを飲む', '北京欢迎你', 'plain english'];
  const CJK_QUERIES: Array<[string, string[]]> = [
    ['東京', [CJK[0]]], ['地震', [CJK[0]]], ['発生', [CJK[0], CJK[1]]], ['エラー', [CJK[1]]], ['node.js', [CJK[1]]], ['js', [CJK[1]]],
    ['コーヒー', [CJK[2]]], ['北京', [CJK[3]]], ['欢迎', [CJK[3]]], ['発生 エラー', [CJK[1]]], ['東京 -地震', []], ['"地震が発生"', [CJK[0]]],
    ['東京都で地震が発生しました', [CJK[0]]], ['english', [CJK[4]]], ['京東', []],
  ];

  it('finds a word of Chinese or Japanese text (one token per Han or kana character), before and after indexing', async () => {
    const { store, reader, fts, db } = openStore();
    append(store, CJK);
    for (const [q, want] of CJK_QUERIES) expect(found(reader, q), `${q} unindexed`).toEqual(want);
    fts.start();
    await indexed(fts, CJK.length);
    await fts.shutdown();
    for (const [q, want] of CJK_QUERIES) expect(found(reader, q), `${q} indexed`).toEqual(want);
    expect((db.prepare('SELECT count(*) AS n FROM fts.log_chunks WHERE log_chunks MATCH ?').get('msg : "東"') as { n: number }).n).toBe(1);
    db.close();
  });

  it('finds CJK words in records an earlier version indexed (a run of them one token), without rebuilding the index', async () => {
    const first = openStore();
    append(first.store, CJK);
    first.fts.start();
    await indexed(first.fts, CJK.length);
    await first.fts.shutdown();
    // What the earlier version left: the chunk's text as unicode61 saw it, and no CJK_SPLIT_AFTER_KEY.
    first.db.prepare('INSERT OR REPLACE INTO fts.log_chunks(rowid, msg, trace_id) VALUES (0, ?, ?)').run(CJK.join('\n'), '');
    first.db.prepare("DELETE FROM fts.kv WHERE key = 'cjk_split_after_id'").run();
    first.db.close();
    const { db, reader } = openStore(first.dir);
    // nothing left to index (the worker is not even started): the answers below use the earlier chunk
    expect(db.prepare("SELECT key, value FROM fts.kv WHERE key IN ('chunks_indexed_id', 'cjk_split_after_id') ORDER BY key").all()).toEqual([
      { key: 'chunks_indexed_id', value: String(CJK.length) },
      { key: 'cjk_split_after_id', value: String(CJK.length) },
    ]);
    expect(db.prepare('SELECT count(*) AS n FROM fts.log_chunks WHERE log_chunks MATCH ?').get('msg : "東"')).toEqual({ n: 0 });
    // A latin word written against CJK characters (Node.jsで…) was part of their token there, and stays unfound.
    for (const [q, want] of CJK_QUERIES.filter(([q]) => !['node.js', 'js'].includes(q))) expect(found(reader, q), q).toEqual(want);
    db.close();
  });

  it('finds records the indexer has not reached yet, and reads q without words (-->) like live tail', () => {
    const { store, reader, db } = openStore(); // worker never started
    append(store, ['retry --> later', 'nothing here', 'Payment FAILED']);
    expect(found(reader, 'failed')).toEqual(['Payment FAILED']);
    expect(found(reader, '-->')).toEqual(['retry --> later']);
    db.close();
  });

  it('"phrases" and -exclusions mean the same before indexing, through the index, without it and in live tail', async () => {
    const { store, reader, fts, db } = openStore();
    const msgs = ['connection refused by upstream', 'refused connection to db', 'connection reset by peer', 'DEBUG connection pool ok'];
    append(store, msgs);
    const cases: Array<[string, string[]]> = [
      ['connection refused', [msgs[0], msgs[1]]],
      ['"connection refused"', [msgs[0]]],
      ['"refused connection"', [msgs[1]]],
      ['"connection', msgs], // an unclosed quote runs to the end
      ['connection -reset', [msgs[0], msgs[1], msgs[3]]],
      ['connection -"refused by"', [msgs[1], msgs[2], msgs[3]]],
      ['-debug', [msgs[0], msgs[1], msgs[2]]], // only excluding: read, not looked up
      ['connection -debug -reset', [msgs[0], msgs[1]]],
      ['"connection refused" -upstream', []],
    ];
    const read = (q: string) => {
      const { where, params } = filterToSql(parseLogFilter({ q }), 'read');
      return (db.prepare(`SELECT l.body FROM logs l WHERE ${where} ORDER BY l.id`).all(...params) as Array<{ body: string }>).map((r) => (JSON.parse(r.body) as LogRecord).msg);
    };
    const tail = (q: string) => msgs.filter((m, i) => matchesFilter(parseLogFilter({ q }), record(m, i), (T0 + i) * 1000));
    for (const [q, want] of cases) {
      expect(found(reader, q), `${q} unindexed`).toEqual(want);
      expect(read(q), `${q} read`).toEqual(want);
      expect(tail(q), `${q} tail`).toEqual(want);
    }
    fts.start();
    await indexed(fts, msgs.length);
    await fts.shutdown();
    for (const [q, want] of cases) expect(found(reader, q), `${q} indexed`).toEqual(want);
    db.close();
  });

  it('answers the same by position and by probing each record read, each with the plan it is for', async () => {
    const { store, fts, db } = openStore();
    const msgs = Array.from({ length: 3 * CHUNK_SIZE }, (_, i) => MESSAGES[i % MESSAGES.length]);
    append(store, msgs);
    fts.start();
    await indexed(fts, msgs.length);
    await fts.shutdown();
    const ids = (mode: SearchMode, query: Record<string, string | undefined>, order: string) => {
      const { where, params } = filterToSql(parseLogFilter(query), mode);
      return (db.prepare(`SELECT l.id FROM logs l WHERE ${where} ${order}`).all(...params) as Array<{ id: number }>).map((r) => r.id);
    };
    const plan = (mode: SearchMode, query: Record<string, string | undefined>, order: string) => {
      const { where, params } = filterToSql(parseLogFilter(query), mode);
      return (db.prepare(`EXPLAIN QUERY PLAN SELECT l.id FROM logs l WHERE ${where} ${order}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
    };
    const newestFirst = 'ORDER BY l.ts DESC, l.id DESC LIMIT 101';
    const range = { start: String(T0 + 20), end: String(T0 + 150) };
    const queries: Array<{ q: string; start?: string; end?: string; severity?: string }> = [{ q: 'cafe' }, { q: 'orders api' }, { q: 'handl*', ...range }, { q: 'request', severity: 'info' }, { q: 'sda1', ...range }, { q: '注文' }, { q: '処理', ...range }];
    for (const query of queries) {
      const expected = msgs.map((m, i) => ({ m, id: i + 1 })).filter(({ m, id }) => matchesWords(m, query.q) && (query.start === undefined || (T0 + id - 1 >= Number(query.start) && T0 + id - 1 < Number(query.end))));
      expect(expected.length, JSON.stringify(query)).toBeGreaterThan(0);
      const want = expected.map((e) => e.id).reverse().slice(0, 101);
      expect(ids('index', query, newestFirst), JSON.stringify(query)).toEqual(want);
      expect(ids('index-probe', query, newestFirst), JSON.stringify(query)).toEqual(want);
    }
    // a record stored after the indexer stopped is found both ways
    append(store, ['late café']);
    expect(ids('index', { q: 'cafe' }, newestFirst)[0]).toBe(msgs.length + 1);
    expect(ids('index-probe', { q: 'cafe' }, newestFirst)[0]).toBe(msgs.length + 1);
    // by position: each candidate looked up, even with a service (not every record of the service walked)
    for (const query of [{ q: 'cafe' }, { q: 'cafe', service: 'x' }, { q: 'cafe', ...range }]) {
      const p = plan('index', query, newestFirst);
      expect(p, JSON.stringify(query)).toContain('SEARCH l USING INTEGER PRIMARY KEY (rowid=?)');
      expect(p.filter((d) => d.startsWith('SCAN l')), JSON.stringify(query)).toEqual([]);
    }
    // probing: the records are read newest first through an index on time, no sort, so a limit stops the read
    for (const query of [{ q: 'cafe' }, { q: 'cafe', service: 'x' }, { q: 'cafe', ...range }]) {
      const p = plan('index-probe', query, newestFirst);
      expect(p.some((d) => /^(SCAN|SEARCH) l USING INDEX logs_(service_)?ts\b/.test(d)), `${JSON.stringify(query)} ${p.join('; ')}`).toBe(true);
      expect(p, JSON.stringify(query)).not.toContain('USE TEMP B-TREE FOR ORDER BY');
    }
    db.close();
  });

  it('a word in most chunks: newest first with a limit, page after page, and counts', async () => {
    const { store, reader, fts, db } = openStore();
    const n = 1100 * CHUNK_SIZE; // more chunks than LogStore looks up by position
    for (let b = 0; b < n; b += 10_000) append(store, Array.from({ length: Math.min(10_000, n - b) }, (_, i) => (b + i === 5000 ? 'common and rare' : `common line ${b + i}`)));
    fts.start();
    await indexed(fts, n);
    await fts.shutdown();
    const first = reader.query(parseLogFilter({ q: 'common' }), 3);
    expect(first.records.map((r) => r.msg)).toEqual([`common line ${n - 1}`, `common line ${n - 2}`, `common line ${n - 3}`]);
    const second = reader.query(parseLogFilter({ q: 'common' }), 3, first.nextCursor!);
    expect(second.records.map((r) => r.msg)).toEqual([`common line ${n - 4}`, `common line ${n - 5}`, `common line ${n - 6}`]);
    expect(reader.query(parseLogFilter({ q: 'rare' }), 3).records.map((r) => r.msg)).toEqual(['common and rare']);
    expect(reader.countMatching(parseLogFilter({ q: 'common' }))).toBe(n);
    expect(reader.countMatching(parseLogFilter({ q: 'line' }))).toBe(n - 1);
    expect(reader.countMatching(parseLogFilter({ q: 'common', start: String(T0 + 1000), end: String(T0 + 2000) }))).toBe(1000);
    let exported = 0;
    let cursor: string | undefined;
    do {
      const page = reader.page(parseLogFilter({ q: 'line' }), 5000, cursor);
      exported += page.bodies.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(exported).toBe(n - 1);
    db.close();
  });
});
