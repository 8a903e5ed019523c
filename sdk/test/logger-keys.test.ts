import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logs/logger.ts';
import { parseLevelSpec } from '../src/logs/level-spec.ts';
import { recordFromPino } from '../src/record.ts';
import { normalizeRecord } from '../../collector/src/records/normalize.ts';

/** The SDK's pino logger writing lines to an array, and each line as the transport maps it. */
function capture() {
  const lines: string[] = [];
  const logger = createLogger(parseLevelSpec('info'), [], { write: (line: string) => void lines.push(line) });
  const records = () => lines.map((l) => recordFromPino(JSON.parse(l), { appName: 'svc', hostname: 'host-1', procId: '42' }));
  return { logger, records };
}

describe('the SDK logger: an app key named like a record field', () => {
  it('stays an attribute and changes neither severity, time, host nor process', () => {
    const { logger, records } = capture();
    const before = Date.now();
    logger.error({ level: 3, time: 0, hostname: 'attacker', pid: 'abc', orderId: 7 }, 'payment failed');
    logger.child({ module: 'db' }).warn({ level: 'low' }, 'child');
    const [first, second] = records();
    expect(first).toMatchObject({ severity: 3, level: 'err', hostname: 'host-1', procId: '42', msg: 'payment failed' });
    expect(first.attributes).toEqual({ level: 3, time: 0, hostname: 'attacker', pid: 'abc', orderId: 7 });
    expect(Date.parse(first.timestamp)).toBeGreaterThanOrEqual(before - 1);
    expect(second).toMatchObject({ severity: 4, hostname: 'host-1', procId: '42' });
    expect(second.attributes).toEqual({ module: 'db', level: 'low' });
  });

  it('lifts facility, msgId, structuredData and trace ids only when valid; otherwise they stay attributes, and the record ships', () => {
    const { logger, records } = capture();
    logger.info({ facility: 999, msgId: 7, structuredData: { 'no spaces': {} }, traceId: 'req-42', spanId: 'x' }, 'odd keys');
    logger.info({ facility: 4, msgId: 'LOGIN', structuredData: { 'auth@1': { user: 'u' } }, traceId: 'AB'.repeat(16), spanId: 'cd'.repeat(8) }, 'valid keys');
    const [odd, valid] = records();
    expect(odd).toMatchObject({ facility: 1, msg: 'odd keys' });
    expect([odd.msgId, odd.structuredData, odd.traceId, odd.spanId]).toEqual([undefined, undefined, undefined, undefined]);
    expect(odd.attributes).toEqual({ facility: 999, msgId: 7, structuredData: { 'no spaces': {} }, traceId: 'req-42', spanId: 'x' });
    expect(normalizeRecord(JSON.parse(JSON.stringify(odd)), Date.now()).ok).toBe(true); // the collector takes it
    expect(valid).toMatchObject({ facility: 4, msgId: 'LOGIN', structuredData: { 'auth@1': { user: 'u' } }, traceId: 'AB'.repeat(16), spanId: 'cd'.repeat(8) });
    expect(valid.attributes).toBeUndefined();
  });

  it('leaves every other merge object as pino writes it', () => {
    const { logger, records } = capture();
    logger.info({ a: 1, nested: { level: 2 } }, 'plain');
    expect(records()[0].attributes).toEqual({ a: 1, nested: { level: 2 } });
  });
});
