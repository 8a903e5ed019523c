import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, transaction } from '../store/database.ts';
import { bodyFingerprint, IdempotencyKeys, MAX_KEY_LENGTH, parseIdempotencyKey } from './idempotency-keys.ts';

function keysAt(clock: { now: number }, ttlMs = 60_000) {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-keys-')), 'normal');
  return { db, keys: new IdempotencyKeys(db, { ttlMs, now: () => clock.now }) };
}

const body = (s: string) => Buffer.from(s);

/** What the route does for a committed request: claim, store with the answer, release. */
function commitOnce(keys: IdempotencyKeys, db: ReturnType<typeof keysAt>['db'], key: string, b: Buffer, answer: string) {
  const found = keys.claim(key, b);
  if (!('claim' in found)) throw new Error('expected a claim');
  transaction(db, () => keys.commit(found.claim, { status: 200, answer }));
  keys.release(found.claim);
}

describe('parseIdempotencyKey', () => {
  it('reads the draft\'s Structured Field string and the bare token clients send', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('"a \\"quoted\\" \\\\ key"')).toBe('a "quoted" \\ key');
    expect(parseIdempotencyKey('x'.repeat(MAX_KEY_LENGTH))).toHaveLength(MAX_KEY_LENGTH);
    expect(parseIdempotencyKey(['"k1"'])).toBe('k1'); // one header line, as headersDistinct gives it
  });

  it.each([
    ['empty', ''],
    ['empty string', '""'],
    ['unterminated', '"abc'],
    ['a bare quote inside', '"a"b"'],
    ['a bad escape', '"a\\nb"'],
    ['non-ASCII', 'clé'],
    ['a space in a token', 'a b'],
    ['too long', 'x'.repeat(MAX_KEY_LENGTH + 1)],
    ['given twice', ['a', 'b']],
  ])('refuses a key that is %s with 400', (_, header) => {
    let err: any;
    try {
      parseIdempotencyKey(header as string | string[]);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ statusCode: 400, code: 'PERISCOPE_ERR_BAD_IDEMPOTENCY_KEY' });
  });
});

describe('IdempotencyKeys', () => {
  it('answers a committed key with its stored answer, and tells another body apart (422)', () => {
    const clock = { now: 1_000_000 };
    const { db, keys } = keysAt(clock);
    commitOnce(keys, db, 'k1', body('{"msg":"a"}'), '{"accepted":1,"rejected":[]}');
    expect(keys.claim('k1', body('{"msg":"a"}'))).toEqual({ replay: { status: 200, answer: '{"accepted":1,"rejected":[]}' } });
    // Same length, other bytes: the CRC tells them apart.
    expect(() => keys.claim('k1', body('{"msg":"b"}'))).toThrow(expect.objectContaining({ statusCode: 422, code: 'PERISCOPE_ERR_IDEMPOTENCY_KEY_REUSED' }));
    // Another key is a new request.
    expect(keys.claim('k2', body('{"msg":"a"}'))).toMatchObject({ claim: { key: 'k2' } });
  });

  it('answers 409 with Retry-After while the key\'s first request is handled, and a new claim once it failed', () => {
    const { keys } = keysAt({ now: 1 });
    const first = keys.claim('k', body('x'));
    expect(() => keys.claim('k', body('x'))).toThrow(expect.objectContaining({ statusCode: 409, code: 'PERISCOPE_ERR_IDEMPOTENCY_KEY_IN_USE', retryAfterSeconds: 1 }));
    if (!('claim' in first)) throw new Error('expected a claim');
    keys.release(first.claim); // refused without a commit (a 503): nothing stored
    expect(keys.claim('k', body('x'))).toMatchObject({ claim: { key: 'k' } });
  });

  it('a commit rolled back with its records stores no key', () => {
    const { db, keys } = keysAt({ now: 1 });
    const found = keys.claim('k', body('x'));
    if (!('claim' in found)) throw new Error('expected a claim');
    expect(() =>
      transaction(db, () => {
        keys.commit(found.claim, { status: 200, answer: '{}' });
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    keys.release(found.claim);
    expect(keys.claim('k', body('x'))).toMatchObject({ claim: { key: 'k' } });
  });

  it('forgets keys after the TTL: a later retry is a new request, and purge deletes them', async () => {
    const clock = { now: 1_000_000 };
    const { db, keys } = keysAt(clock, 60_000);
    commitOnce(keys, db, 'old', body('x'), '{}');
    clock.now += 30_000;
    commitOnce(keys, db, 'young', body('x'), '{}');
    clock.now += 30_001; // 'old' is 60.001 s old, 'young' 30.001 s
    expect(keys.claim('old', body('x'))).toMatchObject({ claim: { key: 'old' } });
    expect(keys.claim('young', body('x'))).toMatchObject({ replay: { status: 200 } });
    expect(await keys.purge()).toBe(1);
    expect((db.prepare('SELECT key FROM ingest_keys').all() as Array<{ key: string }>).map((r) => r.key)).toEqual(['young']);
  });

  it('deletes a large backlog of expired keys in chunks, serving the event loop in between, and in the background at start', async () => {
    const clock = { now: 10_000_000 };
    const { db, keys } = keysAt(clock, 60_000);
    const insert = db.prepare('INSERT INTO ingest_keys(key, at, fingerprint, status, answer) VALUES (?, ?, ?, ?, ?)');
    transaction(db, () => {
      for (let i = 0; i < 20_000; i++) insert.run(`expired-${i}`, clock.now - 120_000, '1:0', 200, '{}');
    });
    commitOnce(keys, db, 'live', body('x'), '{}');
    const count = () => (db.prepare('SELECT count(*) AS n FROM ingest_keys').get() as { n: number }).n;

    // A collector started after a long stop: start() returns before the backlog is gone.
    const errors: unknown[] = [];
    keys.start((err) => errors.push(err));
    expect(count()).toBeGreaterThan(1);
    // Other work (requests) runs between the chunks: it sees the backlog partly deleted.
    const seen = new Set<number>();
    while (count() > 1) {
      seen.add(count());
      await new Promise((resolve) => setImmediate(resolve));
    }
    keys.stop();
    expect([...seen].filter((n) => n > 1 && n < 20_001).length).toBeGreaterThan(1);
    expect(errors).toEqual([]);
    expect(keys.claim('live', body('x'))).toMatchObject({ replay: { status: 200 } });
  });

  it('keeps its keys in the database: a new instance (a restart) replays them', () => {
    const clock = { now: 5_000 };
    const { db, keys } = keysAt(clock);
    commitOnce(keys, db, 'k', body('abc'), '{"accepted":3}');
    const again = new IdempotencyKeys(db, { ttlMs: 60_000, now: () => clock.now });
    expect(again.claim('k', body('abc'))).toEqual({ replay: { status: 200, answer: '{"accepted":3}' } });
  });

  it('fingerprints by length and content', () => {
    expect(bodyFingerprint(body('abc'))).not.toBe(bodyFingerprint(body('abd')));
    expect(bodyFingerprint(body('abc'))).not.toBe(bodyFingerprint(body('abcd')));
    expect(bodyFingerprint(body('abc'))).toBe(bodyFingerprint(Buffer.from('abc')));
  });
});
