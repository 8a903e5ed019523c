import { afterAll, describe, expect, it } from 'vitest';
import { ParsePool } from './parse-pool.ts';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);

/** An NDJSON body over the inline threshold with a malformed line and an invalid record in it. */
function bigBody(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) {
    if (i === 17) lines.push('{"msg": "cut off');
    else if (i === 250) lines.push(JSON.stringify({ msg: 'bad severity', severity: 9 }));
    else lines.push(JSON.stringify({ timestamp: `2026-01-02T03:04:05.${String(i).padStart(6, '0')}Z`, appName: `svc-${i % 3}`, msg: `line ${i} ${'x'.repeat(80)}` }));
  }
  return Buffer.from(lines.join('\n'));
}

describe('ParsePool', () => {
  const pool = new ParsePool(1);
  const inline = new ParsePool(0);
  afterAll(() => pool.close());

  it('parses a large body in a worker exactly as on the ingest thread', async () => {
    const body = bigBody();
    expect(body.byteLength).toBeGreaterThan(32 * 1024);
    const viaWorker = await pool.parse('application/x-ndjson', body, NOW);
    const onThread = await inline.parse('application/x-ndjson', body, NOW);
    expect(viaWorker).toEqual(onThread);
    expect(viaWorker.columns.bodies).toHaveLength(398);
    expect(viaWorker.rejected.map((r) => [r.index, r.code])).toEqual([
      [17, 'PERISCOPE_ERR_BAD_JSON'],
      [250, 'PERISCOPE_ERR_BAD_SEVERITY'],
    ]);
    // Columns line up with the canonical bodies.
    const i = 100;
    const record = JSON.parse(viaWorker.columns.bodies[i]);
    expect(viaWorker.columns.service[i]).toBe(record.appName);
    expect(viaWorker.columns.severity[i]).toBe(record.severity);
    expect(viaWorker.columns.micros[i]).toBe(Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 + 101);
  });

  it('keeps requests apart when many are in flight', async () => {
    const bodies = Array.from({ length: 8 }, (_, k) =>
      Buffer.from(Array.from({ length: 300 }, (_, i) => JSON.stringify({ appName: `req-${k}`, msg: `${k}:${i} ${'y'.repeat(100)}` })).join('\n')),
    );
    const results = await Promise.all(bodies.map((b) => pool.parse('application/x-ndjson', b, NOW)));
    results.forEach((r, k) => {
      expect(r.columns.service.every((s) => s === `req-${k}`)).toBe(true);
      expect(JSON.parse(r.columns.bodies[299]).msg.startsWith(`${k}:299 `)).toBe(true);
    });
  });
});
