import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LEVEL_NAMES, type LogRecord } from '../../../sdk/src/record.ts';
import { LogBatch } from './log-batch.ts';
import { LogVolume } from './log-volume.ts';

function batch(...entries: Array<[service: string | undefined, severity: number]>): LogBatch {
  const records: LogRecord[] = entries.map(([appName, severity]) => ({ timestamp: '2026-12-07T00:00:00.000Z', severity, level: LEVEL_NAMES[severity], facility: 1, msg: 'm', ...(appName !== undefined && { appName }) }));
  return LogBatch.fromRecords(records, records.map(() => 0));
}

async function series(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await registry.getSingleMetric('periscope_log_records_total')!.get()).values) {
    out[JSON.stringify(v.labels)] = v.value;
  }
  return out;
}

describe('LogVolume', () => {
  it('counts by service and level, and records of services over maxServices in one overflow series per level', async () => {
    const registry = new Registry();
    const volume = new LogVolume(registry, { maxServices: 2, staleAfterMs: 60_000, now: () => 0 });
    volume.count(batch(['a', 6], ['a', 6], ['b', 3]));
    volume.count(batch(['c', 6], ['d', 6], ['d', 3], ['a', 6]));
    expect(await series(registry)).toEqual({
      '{"service":"a","level":"info"}': 3,
      '{"service":"b","level":"err"}': 1,
      '{"level":"info","otel_metric_overflow":"true"}': 2,
      '{"level":"err","otel_metric_overflow":"true"}': 1,
    });
    expect((await registry.getSingleMetric('periscope_log_volume_services')!.get()).values[0].value).toBe(2);
  });

  it('holds at most maxServices services however many distinct ones arrive', async () => {
    const registry = new Registry();
    const volume = new LogVolume(registry, { maxServices: 100, staleAfterMs: 60_000, now: () => 0 });
    for (let i = 0; i < 50; i++) volume.count(batch(...Array.from({ length: 200 }, (_, j): [string, number] => [`svc-${i * 200 + j}`, j % 8])));
    const all = await series(registry);
    const own = Object.keys(all).filter((k) => k.includes('"service"'));
    expect(new Set(own.map((k) => JSON.parse(k).service)).size).toBe(100);
    expect(Object.values(all).reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('at the bound, gives the place of a service idle for staleAfter to a new one; below it removes nothing', async () => {
    let now = 0;
    const registry = new Registry();
    const volume = new LogVolume(registry, { maxServices: 2, staleAfterMs: 60_000, now: () => now });
    volume.count(batch(['old', 6], ['old', 3], ['busy', 6]));
    now = 120_000;
    volume.count(batch(['busy', 6]));
    expect(Object.keys(await series(registry))).toContain('{"service":"old","level":"err"}'); // below the bound: kept
    volume.count(batch(['new', 6]));
    expect(await series(registry)).toEqual({
      '{"service":"busy","level":"info"}': 2,
      '{"service":"new","level":"info"}': 1,
    });
  });
});
