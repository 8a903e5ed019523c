import { describe, expect, it } from 'vitest';
import { parseNdjson, parseNdjsonBytes } from './parse.ts';

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
