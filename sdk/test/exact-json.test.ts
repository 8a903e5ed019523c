import { describe, expect, it } from 'vitest';
import { hasLongDigitRun, parseJsonExact } from '../src/exact-json.ts';

describe('hasLongDigitRun', () => {
  it('answers as /\\d{16}/ does, wherever the run starts and however long the text', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const mismatches: string[] = [];
    let withRun = 0;
    for (let k = 0; k < 50_000; k++) {
      let text = '';
      const length = Math.floor(random() * 70);
      for (let j = 0; j < length; j++) text += random() < 0.85 ? String(Math.floor(random() * 10)) : 'x';
      const want = /\d{16}/.test(text);
      if (want) withRun++;
      if (hasLongDigitRun(text) !== want) mismatches.push(text);
    }
    expect(mismatches).toEqual([]);
    expect(withRun).toBeGreaterThan(1000); // both answers were asked for
    expect(hasLongDigitRun('1234567890123456')).toBe(true);
    expect(hasLongDigitRun('x123456789012345')).toBe(false);
    expect(hasLongDigitRun('123456789012345x1234567890123456')).toBe(true);
  });
});

describe('parseJsonExact', () => {
  it('keeps integers beyond 2^53 as their digits, everything else as JSON.parse reads it', () => {
    const text = '{"a":18446744073709551615,"b":-9007199254740993,"c":9007199254740991,"d":1e300,"e":0.12345678901234567891,"f":"12345678901234567891","g":[12345678901234567891]}';
    expect(parseJsonExact(text)).toEqual({ a: '18446744073709551615', b: '-9007199254740993', c: 9007199254740991, d: 1e300, e: 0.12345678901234568, f: '12345678901234567891', g: ['12345678901234567891'] });
    expect(parseJsonExact('{"n":123}')).toEqual({ n: 123 });
    expect(() => parseJsonExact('{"n":1234567890123456789')).toThrow(SyntaxError);
  });
});
