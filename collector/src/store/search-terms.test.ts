import { describe, expect, it } from 'vitest';
import { searchTerms } from './search-terms.ts';

const t = (text: string, exclude = false, quoted = false) => ({ text, exclude, quoted });

describe('searchTerms (q= syntax)', () => {
  it.each([
    ['payment failed', [t('payment'), t('failed')]],
    ['  "connection refused"  by ', [t('connection refused', false, true), t('by')]],
    ['-debug', [t('debug', true)]],
    ['-"health check" ok', [t('health check', true, true), t('ok')]],
    ['"unclosed phrase', [t('unclosed phrase', false, true)]],
    ['"" x', [t('x')]], // an empty phrase is nothing
    ['key="v" api-orders', [t('key="v"'), t('api-orders')]], // quotes and dashes inside a word are characters
    ['-->', [t('-->')]], // a dash before no letter or digit is text
    ['-', [t('-')]],
    ['--verbose', [t('-verbose', true)]],
    ['"a*" b*', [t('a*', false, true), t('b*')]],
  ])('%j', (q, want) => {
    expect(searchTerms(q)).toEqual(want);
  });
});
