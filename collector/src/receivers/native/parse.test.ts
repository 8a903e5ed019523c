import { describe, expect, it } from 'vitest';
import { MAX_LISTED_REJECTIONS, parseLogBatch, parseNdjson, parseNdjsonBytes } from './parse.ts';

/**
 * A body of several 64 KiB chunks whose lines put at chunk boundaries what a wrong split would
 * break: 2-, 3- and 4-byte UTF-8 characters, invalid UTF-8, blank and CRLF lines, malformed JSON,
 * and one line longer than a chunk.
 */
function trickyBody(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i === 700) parts.push(Buffer.from(JSON.stringify({ msg: `long ${'é'.repeat(70_000)}` })));
    else if (i % 97 === 0) parts.push(Buffer.from('{"msg": "cut off'));
    else if (i % 89 === 0) parts.push(Buffer.concat([Buffer.from('{"msg":"bad '), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]));
    else if (i % 83 === 0) parts.push(Buffer.from('   '));
    else if (i % 79 === 0) parts.push(Buffer.from(`{"msg":"crlf ${i}"}\r`));
    else parts.push(Buffer.from(JSON.stringify({ msg: `${i} ${'ü€😀'.repeat(i % 13)} ${'x'.repeat(i % 50)}` })));
  }
  return Buffer.from(parts.map((p) => p.toString('latin1')).join('\n'), 'latin1');
}

describe('parseNdjsonBytes', () => {
  it('gives what decoding the whole body and splitting its lines gives, across many chunks', () => {
    const body = trickyBody();
    expect(body.byteLength).toBeGreaterThan(5 * 64 * 1024);
    const chunked = parseNdjsonBytes(body);
    expect(chunked).toEqual(parseNdjson(body.toString('utf8')));
    // Every non-blank line is an item, in order, so rejection indexes stay those of the lines.
    expect(chunked).toHaveLength(3000 - 36);
    expect(chunked.filter((item) => !item.ok)).toHaveLength(31);
    const values = chunked.flatMap((item) => (item.ok ? [(item.value as { msg: string }).msg] : []));
    expect(values).toContain(`long ${'é'.repeat(70_000)}`);
    expect(values).toContain(`bad \ufffd`);
    expect(values).toContain(`12 ${'ü€😀'.repeat(12)} ${'x'.repeat(12)}`);
  });

  it('reads a body without a trailing newline, with one, and an empty one', () => {
    expect(parseNdjsonBytes(Buffer.from('{"a":1}\n{"a":2}'))).toEqual([{ ok: true, value: { a: 1 } }, { ok: true, value: { a: 2 } }]);
    expect(parseNdjsonBytes(Buffer.from('{"a":1}\n'))).toEqual([{ ok: true, value: { a: 1 } }]);
    expect(parseNdjsonBytes(Buffer.alloc(0))).toEqual([]);
  });
});

describe('parseLogBatch', () => {
  it('a record nested too deeply to store is refused alone; its neighbours are kept', () => {
    let deep = '1';
    for (let i = 0; i < 20_000; i++) deep = `{"a":${deep}}`;
    const body = `{"msg":"before"}\n{"msg":"deep","attributes":${deep}}\n{"msg":"after"}\n`;
    const { columns, rejected } = parseLogBatch('application/x-ndjson', new TextEncoder().encode(body), Date.now());
    expect(columns.bodies.map((b) => JSON.parse(b).msg)).toEqual(['before', 'after']);
    expect(columns.micros).toHaveLength(2);
    expect(rejected).toMatchObject([{ index: 1, code: 'PERISCOPE_ERR_BAD_RECORD' }]);
  });
});

describe('parseLogBatch: integers beyond 2^53', () => {
  // A 64-bit id in the body: JSON.parse would store 12345678901234567000.
  const attrs = '{"id":12345678901234567891,"neg":-9007199254740993,"safe":9007199254740991,"big":1e300,"frac":0.12345678901234567891,"text":"12345678901234567891"}';
  const want = { id: '12345678901234567891', neg: '-9007199254740993', safe: 9007199254740991, big: 1e300, frac: 0.12345678901234568, text: '12345678901234567891' };
  it.each([
    ['application/x-ndjson', `{"msg":"m","attributes":${attrs}}\n`],
    ['application/json', `[{"msg":"m","attributes":${attrs}}]`],
    ['application/json', `{"msg":"m","attributes":${attrs}}`],
  ])('%s %s: kept as the exact digits (a string), as OTLP/JSON and the SDK keep them', (type, body) => {
    const { columns, rejected } = parseLogBatch(type, new TextEncoder().encode(body), Date.now());
    expect(rejected).toEqual([]);
    expect(JSON.parse(columns.bodies[0]).attributes).toEqual(want);
  });

  // Every epoch in nanoseconds is beyond 2^53: its digits came to the record as a string, refused
  // with BAD_TIMESTAMP ("expected RFC 3339") although docs/record-format.md takes nanoseconds.
  it.each([
    { name: 'timestamp in ns', line: '{"msg":"m","timestamp":1772359200123456789}', want: '2026-03-01T10:00:00.123456Z' },
    { name: "pino's time in ns", line: '{"level":30,"time":1772359200123456789,"msg":"m"}', want: '2026-03-01T10:00:00.123456Z' },
    { name: 'timestamp in ns, the last µs of a second', line: '{"msg":"m","timestamp":1772359200999999999}', want: '2026-03-01T10:00:00.999999Z' },
  ])('an epoch number beyond 2^53 is a time: $name', ({ line, want }) => {
    const { columns, rejected } = parseLogBatch('application/x-ndjson', new TextEncoder().encode(line), Date.now());
    expect(rejected).toEqual([]);
    expect(JSON.parse(columns.bodies[0]).timestamp).toBe(want);
  });

  it('an epoch number beyond 2^53 out of the store\'s range is refused as such', () => {
    const { rejected } = parseLogBatch('application/x-ndjson', new TextEncoder().encode('{"msg":"m","timestamp":99999999999999999999999}'), Date.now());
    expect(rejected).toMatchObject([{ index: 0, code: 'PERISCOPE_ERR_BAD_TIMESTAMP', message: expect.stringContaining('outside the range') }]);
  });
});

describe('parseLogBatch: nesting limit', () => {
  const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
  const batch = (attributes: string) => parseLogBatch('application/x-ndjson', new TextEncoder().encode(`{"msg":"m","attributes":${attributes}}\n`), Date.now());

  it('keeps a record nested 1000 levels deep (the record itself is one) and refuses one level more', () => {
    expect(batch(nested(999)).columns.bodies).toHaveLength(1);
    expect(batch(nested(1000)).rejected).toMatchObject([{ index: 0, code: 'PERISCOPE_ERR_BAD_RECORD', message: expect.stringContaining('nested more than 1000 levels deep') }]);
  });

  it('does not count brackets inside strings', () => {
    const { columns, rejected } = batch(JSON.stringify({ text: '{['.repeat(5000), 'quote\\"{': '[[[' }));
    expect(rejected).toEqual([]);
    expect(columns.bodies).toHaveLength(1);
  });
});

describe('parseLogBatch: application/json', () => {
  const json = (body: string) => parseLogBatch('application/json', new TextEncoder().encode(body), Date.now());
  it('a pretty-printed array with one bad element stores nothing and says why', () => {
    const { columns, rejected } = json('[\n{"msg":"good one"},\n{"msg": NaN},\n{"msg":"good two"}\n]\n');
    expect(columns.bodies).toEqual([]);
    expect(rejected).toMatchObject([{ index: 0, code: 'PERISCOPE_ERR_BAD_JSON', message: expect.stringContaining('malformed JSON array') }]);
  });
  it.each([
    { name: 'an array', body: '[{"msg":"a"},{"msg":"b"}]', msgs: ['a', 'b'] },
    { name: 'one record', body: '{"msg":"a"}', msgs: ['a'] },
  ])('$name after a UTF-8 BOM is read as without it (RFC 8259 §8.1)', ({ body, msgs }) => {
    const { columns, rejected } = parseLogBatch('application/json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]), Date.now());
    expect(rejected).toEqual([]);
    expect(columns.bodies.map((b) => JSON.parse(b).msg)).toEqual(msgs);
  });
  it('JSON lines sent as application/json are still read line by line', () => {
    const { columns, rejected } = json('{"msg":"a"}\n{"msg": broken}\n{"msg":"b"}\n');
    expect(columns.bodies.map((b) => JSON.parse(b).msg)).toEqual(['a', 'b']);
    expect(rejected).toMatchObject([{ index: 1, code: 'PERISCOPE_ERR_BAD_JSON' }]);
  });
});

describe('parseLogBatch: many rejections', () => {
  it('lists the first MAX_LISTED_REJECTIONS and counts every one by code', () => {
    const lines = ['{"msg":"first"}'];
    for (let i = 0; i < MAX_LISTED_REJECTIONS + 500; i++) lines.push(i % 2 ? 'plain text' : '{"msg":"x","severity":9}');
    lines.push('{"msg":"last"}');
    const parsed = parseLogBatch('application/x-ndjson', Buffer.from(lines.join('\n')), Date.now());
    expect(parsed.columns.bodies.map((b) => JSON.parse(b).msg)).toEqual(['first', 'last']);
    expect(parsed.rejected).toHaveLength(MAX_LISTED_REJECTIONS);
    expect(parsed.rejected[0]).toMatchObject({ index: 1, code: 'PERISCOPE_ERR_BAD_SEVERITY' });
    expect(parsed.rejected.at(-1)).toMatchObject({ index: MAX_LISTED_REJECTIONS, code: 'PERISCOPE_ERR_BAD_JSON' });
    expect(parsed.rejectedCount).toBe(MAX_LISTED_REJECTIONS + 500);
    expect(parsed.rejectedByCode).toEqual({ PERISCOPE_ERR_BAD_SEVERITY: 750, PERISCOPE_ERR_BAD_JSON: 750 });
  });
});

describe('parseLogBatch: invalid UTF-8', () => {
  const bad = Buffer.from([0xc3, 0x28]); // a lead byte without its continuation
  const stored = (type: string, body: Buffer) => {
    const { columns, rejected } = parseLogBatch(type, body, Date.now());
    expect(rejected).toEqual([]);
    return columns.bodies.map((b) => JSON.parse(b) as { msg: string; attributes?: Record<string, unknown> });
  };

  it('NDJSON: the record whose line held it is kept, with U+FFFD and attributes.invalidUtf8; its neighbours are untouched', () => {
    const body = Buffer.concat([
      Buffer.from('{"msg":"clean \uFFFD written by the sender"}\n{"msg":"bad '), bad, Buffer.from('","attributes":{"k":1}}\n\n{"msg":"after"}'),
    ]);
    const records = stored('application/x-ndjson', body);
    expect(records.map((r) => r.msg)).toEqual(['clean \uFFFD written by the sender', 'bad \uFFFD(', 'after']);
    expect(records.map((r) => r.attributes)).toEqual([undefined, { k: 1, invalidUtf8: true }, undefined]);
  });

  it('a valid body flags nothing, also with a U+FFFD the sender wrote', () => {
    expect(stored('application/x-ndjson', Buffer.from('{"msg":"\uFFFD"}\n'))[0].attributes).toBeUndefined();
    expect(stored('application/json', Buffer.from('[{"msg":"\uFFFD"}]'))[0].attributes).toBeUndefined();
  });

  it('application/json: the elements holding a replaced byte are flagged', () => {
    const body = Buffer.concat([Buffer.from('[{"msg":"ok"},{"msg":"x'), bad, Buffer.from('"}]')]);
    expect(stored('application/json', body).map((r) => r.attributes)).toEqual([undefined, { invalidUtf8: true }]);
  });
});
