import { describe, expect, it } from 'vitest';
import { unknownKeyHint } from './unknown-key.ts';

describe('unknownKeyHint', () => {
  const known = ['dataDir', 'retention', 'maxAge', 'maxBytes', 'tenant', 'receiver', 'url'];
  it.each([
    { name: 'another case', key: 'datadir', want: 'did you mean dataDir?' },
    { name: 'a letter swapped', key: 'reciever', want: 'did you mean receiver?' },
    { name: 'a letter added', key: 'tennant', want: 'did you mean tenant?' },
    { name: 'a letter dropped', key: 'retntion', want: 'did you mean retention?' },
    { name: 'two letters changed', key: 'maxBites', want: 'did you mean maxBytes?' },
    { name: 'the closest of two', key: 'maxAgee', want: 'did you mean maxAge?' },
    { name: 'one letter in three changed', key: 'uri', want: 'did you mean url?' },
    { name: 'a key of two letters is not guessed', key: 'ul', want: `expected one of ${known.join(', ')}` },
    { name: 'nothing close: the keys there are', key: 'colour', want: `expected one of ${known.join(', ')}` },
  ])('$name', ({ key, want }) => {
    expect(unknownKeyHint(key, known)).toBe(want);
  });

  it('a section without keys says so', () => {
    expect(unknownKeyHint('x', [])).toBe('this section takes no keys');
  });
});
