// The encode pool against the sink encoding on this thread: same bodies and refusals, with the
// body moved (not copied) back from the worker thread intact.
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { testRecord } from './describe-exporter.ts';
import { elasticsearchConfigSchema } from './elasticsearch/config.ts';
import { ElasticsearchSink } from './elasticsearch/sink.ts';
import { EncodePool } from './encode-pool.ts';
import { lokiConfigSchema } from './loki/config.ts';
import { LokiSink } from './loki/sink.ts';
import { StoredItem, type LogSink } from './sink.ts';

const micros = Date.now() * 1000;
const items = Array.from({ length: 3000 }, (_, i) => {
  // record 7 breaks the Loki limit set below (maxLineSize 1KB); the others vary in size and script
  const record = testRecord({ appName: `svc-${i % 3}`, msg: i === 7 ? 'x'.repeat(2000) : `m${i} ${'ü€'.repeat(i % 40)}`, attributes: { i } });
  const body = JSON.stringify(record);
  return new StoredItem(i + 1, micros + i, record.severity, body, Buffer.byteLength(body));
});

const sinks: Array<[string, LogSink]> = [
  ['loki', new LokiSink(Value.Default(lokiConfigSchema, { type: 'loki', name: 'l', url: 'http://127.0.0.1:9', limits: { maxLineSize: '1KB' } }) as never)],
  ['elasticsearch', new ElasticsearchSink(Value.Default(elasticsearchConfigSchema, { type: 'elasticsearch', name: 'e', url: 'http://127.0.0.1:9' }) as never, '0123456789abcdef')],
];

const pools: EncodePool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe.each(sinks)('encode pool: %s', (_, sink) => {
  it('the body and refusals equal those of the sink on this thread, the body moved back whole', async () => {
    const pool = new EncodePool('test', sink.recipe!, 1);
    pools.push(pool);
    const outcome = await pool.encode(items);
    const encodedHere = (batch: StoredItem[]) => Buffer.from(sink.encode!(batch.filter((item) => sink.check?.(item) === undefined)) as Uint8Array);
    const refusedHere = items.flatMap((item, i) => (sink.check?.(item) === undefined ? [] : [i]));
    expect(outcome.refused.map(([i]) => i)).toEqual(refusedHere);
    expect(outcome.body).toBeInstanceOf(Uint8Array);
    const body = outcome.body as Uint8Array;
    expect(body.byteLength).toBeGreaterThan(10_000);
    const whole = encodedHere(items);
    expect(Buffer.from(body).equals(whole)).toBe(true);
    // a second batch through the same worker: the first body's memory was not reused under it
    const again = (await pool.encode(items.slice(0, 100))).body as Uint8Array;
    expect(Buffer.from(body).equals(whole)).toBe(true);
    expect(Buffer.from(again).equals(encodedHere(items.slice(0, 100)))).toBe(true);
  });
});
