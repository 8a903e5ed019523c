import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { anchoredRe2 } from './re2.ts';

// RE2 forms found in Prometheus rules and amtool silences, and what they must match (as RE2 does).
describe('anchoredRe2', () => {
  it.each([
    { name: 'escaped hyphen outside a class', re: 'api\\-gateway', yes: ['api-gateway'], no: ['api\\-gateway', 'apiXgateway'] },
    { name: 'escaped hyphen inside a class', re: '[a-z\\-]+', yes: ['web-a'], no: ['web_1'] },
    { name: 'escaped colon and at-sign', re: 'host\\:80\\@dc', yes: ['host:80@dc'], no: ['host80dc'] },
    { name: 'escaped dot stays a literal dot', re: 'a\\.b', yes: ['a.b'], no: ['axb'] },
    { name: 'a leading (?i) ignores case', re: '(?i)critical|warning', yes: ['CRITICAL', 'Warning'], no: ['info'] },
    { name: 'a leading (?s) lets . match a newline', re: '(?s)a.b', yes: ['a\nb'], no: ['ab'] },
    { name: 'RE2 named group (?P<name>)', re: '(?P<svc>api|web)-\\d+', yes: ['api-12'], no: ['db-1'] },
    { name: 'a ] first in a class is a literal', re: '[]a]+', yes: [']a]'], no: ['b'] },
    { name: 'a ] first in a negated class is a literal', re: '[^]a]', yes: ['b'], no: [']', 'a'] },
    { name: 'anchored: a match must be the whole value', re: 'web', yes: ['web'], no: ['web-1', 'my-web'] },
    { name: '\\d and \\w classes', re: '\\w+-\\d', yes: ['web-1'], no: ['web-x'] },
  ])('$name: $re', ({ re, yes, no }) => {
    const r = anchoredRe2(re);
    for (const v of yes) expect(r.test(v), v).toBe(true);
    for (const v of no) expect(r.test(v), v).toBe(false);
  });

  it('an invalid pattern throws with RE2\'s message, as Prometheus answers it; forms RE2 has not are invalid', () => {
    expect(() => anchoredRe2('(unclosed')).toThrow('missing closing ): `(unclosed`');
    expect(() => anchoredRe2('a{2,1}')).toThrow('invalid repeat count');
    expect(() => anchoredRe2('x(?=y)')).toThrow(); // lookahead: JavaScript has it, RE2 not
    expect(() => anchoredRe2('(a)\\1')).toThrow(); // backreference
  });

  it('matches in time linear in the value: a pattern JavaScript backtracks on exponentially does not hang the process', () => {
    // In a child process, so that a backtracking engine fails this test at the timeout instead of
    // hanging the test run: (a+)+ against 5000 a's and a "!" is 2^5000 steps for RegExp.
    const script = `import { anchoredRe2 } from ${JSON.stringify(new URL('./re2.ts', import.meta.url).href)};
      const r = anchoredRe2('(a+)+');
      process.stdout.write(String([r.test('a'.repeat(5000) + '!'), r.test('a'.repeat(5000))]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
    expect(out).toBe('false,true');
  });
});

describe('RE2 matchers where users write them', () => {
  it('rule selectors, and route / silence / inhibition matchers, take the RE2 forms', async () => {
    const { parseSelector, compileMatcher: compileRuleMatcher } = await import('./rules/matchers.ts');
    const { compileMatcher } = await import('./dispatch/matchers.ts');
    const selector = parseSelector('http_requests_total{route=~"api\\\\-.*", severity=~"(?i)critical"}');
    const [route, severity] = selector.matchers.map(compileRuleMatcher);
    expect([route.test('api-orders'), severity.test('CRITICAL')]).toEqual([true, true]);
    const silence = compileMatcher({ name: 'instance', value: 'host\\:9100', isRegex: true });
    expect(silence.test({ instance: 'host:9100' })).toBe(true);
  });
});
