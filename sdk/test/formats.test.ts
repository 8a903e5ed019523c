import { describe, expect, it } from 'vitest';
import { consoleFormatter, formatLogfmt } from '../src/logs/formats.ts';
import type { LogRecord } from '../src/record.ts';

const base: LogRecord = { timestamp: '2026-01-02T03:04:05.123000Z', severity: 6, level: 'info', facility: 1, appName: 'checkout', msg: 'order created' };

describe('formatLogfmt', () => {
  it.each([
    { name: 'header fields first, msg always quoted', record: base, expected: 'timestamp=2026-01-02T03:04:05.123000Z level=info service=checkout msg="order created"' },
    { name: 'numbers and booleans bare', record: { ...base, attributes: { orderId: 42, ok: true, ratio: 0.5 } }, expected: '… orderId=42 ok=true ratio=0.5' },
    { name: 'strings with spaces, quotes, = and newlines quoted and escaped', record: { ...base, attributes: { a: 'x y', b: 'say "hi"', c: 'k=v', d: 'l1\nl2', e: '' } }, expected: '… a="x y" b="say \\"hi\\"" c="k=v" d="l1\\nl2" e=""' },
    { name: 'plain strings bare, unicode kept', record: { ...base, attributes: { user: 'u1', city: 'Zürich' } }, expected: '… user=u1 city=Zürich' },
    { name: 'nested objects flatten to dotted keys', record: { ...base, attributes: { req: { method: 'GET', headers: { host: 'h' } } } }, expected: '… req.method=GET req.headers.host=h' },
    { name: 'arrays and null', record: { ...base, attributes: { ids: [1, 2], none: null } }, expected: '… ids=[1,2] none=null' },
    { name: 'keys with spaces are sanitized', record: { ...base, attributes: { 'my key': 1 } }, expected: '… my_key=1' },
    { name: 'trace context after msg', record: { ...base, traceId: 'abc', spanId: 'def' }, expected: '… traceId=abc spanId=def' },
    { name: 'message with quotes', record: { ...base, msg: 'said "no"' }, expected: 'timestamp=2026-01-02T03:04:05.123000Z level=info service=checkout msg="said \\"no\\""' },
  ])('$name', ({ record, expected }) => {
    const out = formatLogfmt(record);
    expect(out.endsWith('\n')).toBe(true);
    const head = 'timestamp=2026-01-02T03:04:05.123000Z level=info service=checkout msg="order created"';
    expect(out.trimEnd()).toBe(expected.startsWith('…') ? head + expected.slice(1) : expected);
  });
});

describe('consoleFormatter', () => {
  const json = `${JSON.stringify(base)}\n`;
  it.each([
    { name: 'json', check: (s: string | undefined) => expect(s).toBe(json) },
    { name: 'logfmt', check: (s: string | undefined) => expect(s).toBe(formatLogfmt(base)) },
    { name: 'pretty', check: (s: string | undefined) => expect(s).toMatch(/INFO.*\(checkout\): order created\n$/) },
  ])('$name', ({ name, check }) => {
    const f = consoleFormatter(name as 'json', 'checkout')!;
    check(f({ level: 30, time: Date.parse(base.timestamp), msg: 'order created' }, base, json));
  });

  it('none → no formatter', () => {
    expect(consoleFormatter('none', 'checkout')).toBeUndefined();
  });
});
