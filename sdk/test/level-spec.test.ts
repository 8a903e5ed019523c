import { describe, expect, it } from 'vitest';
import { parseLevelSpec } from '../src/logs/level-spec.ts';

describe('parseLevelSpec', () => {
  it.each([
    { name: 'bare level', spec: 'debug', expected: { defaultLevel: 'debug', modules: {} } },
    { name: 'default and modules', spec: 'info,db=debug,http=warn', expected: { defaultLevel: 'info', modules: { db: 'debug', http: 'warn' } } },
    { name: 'modules only → fallback default', spec: 'db=trace', expected: { defaultLevel: 'info', modules: { db: 'trace' } } },
    { name: 'bare entry not first', spec: 'db=debug,error', expected: { defaultLevel: 'error', modules: { db: 'debug' } } },
    { name: 'whitespace and case', spec: ' WARN , db = Debug ,', expected: { defaultLevel: 'warn', modules: { db: 'debug' } } },
    { name: 'silent', spec: 'silent,audit=info', expected: { defaultLevel: 'silent', modules: { audit: 'info' } } },
    { name: 'later module entry wins', spec: 'info,db=debug,db=error', expected: { defaultLevel: 'info', modules: { db: 'error' } } },
    { name: 'empty', spec: '', expected: { defaultLevel: 'info', modules: {} } },
  ])('$name: "$spec"', ({ spec, expected }) => {
    const parsed = parseLevelSpec(spec);
    expect({ defaultLevel: parsed.defaultLevel, modules: { ...parsed.modules } }).toEqual(expected);
  });

  it.each([
    { name: 'unknown level', spec: 'verbose', error: /invalid log level "verbose"/ },
    { name: 'unknown module level', spec: 'info,db=loud', error: /invalid log level "loud"/ },
    { name: 'two defaults', spec: 'info,debug', error: /more than one default level/ },
    { name: 'missing module name', spec: 'info,=debug', error: /missing module name/ },
  ])('rejects $name', ({ spec, error }) => {
    expect(() => parseLevelSpec(spec)).toThrow(error);
  });

  it('module names like __proto__ are plain keys', () => {
    expect(parseLevelSpec('info,__proto__=debug').modules.__proto__).toBe('debug');
  });
});
