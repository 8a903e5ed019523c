import { describe, expect, it, vi } from 'vitest';
import { countLoopTurns } from '../../../test/helpers/loop-turns.ts';
import { SlowOperations, type TimedSpan } from './slowest.ts';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 30);

function spans(service: string, name: string, durationsMs: number[], startMs = NOW - 1000): TimedSpan[] {
  return durationsMs.map((d, i) => ({ traceId: `${service}${name}${i}`.padEnd(32, '0').slice(0, 32), spanId: String(i).padStart(16, '0'), service, name, startMs, durationNs: d * 1e6 }));
}

describe('slow operations', () => {
  it('ranks operations by p95 (within the histogram resolution) with the slowest spans as examples', async () => {
    const clock = { now: NOW };
    const slow = new SlowOperations({ maxWindowMs: 3_600_000, maxOperations: 100, now: () => clock.now });
    const fast = Array.from({ length: 100 }, (_, i) => 1 + i / 100); // 1–2 ms
    const slowOp = Array.from({ length: 100 }, (_, i) => (i < 90 ? 10 : 400 + i)); // p95 ≈ 495 ms
    slow.record(spans('shop', 'GET /fast', fast));
    slow.record(spans('shop', 'GET /slow', slowOp));
    slow.record(spans('other', 'job', [50]));
    const all = await slow.slowest({ windowMs: 900_000, limit: 10 });
    expect(all.map((o) => o.operation)).toEqual(['GET /slow', 'job', 'GET /fast']);
    const top = all[0];
    expect(top.count).toBe(100);
    expect(top.p95Ms).toBeGreaterThanOrEqual(494);
    expect(top.p95Ms).toBeLessThanOrEqual(499 * 1.045);
    expect(top.maxMs).toBe(499);
    expect(top.examples.map((e) => e.durationMs)).toEqual([499, 498, 497]);
    expect((await slow.slowest({ service: 'other', windowMs: 900_000, limit: 10 })).map((o) => o.operation)).toEqual(['job']);
  });

  it('only spans of the window count; older minutes are pruned', async () => {
    const clock = { now: NOW };
    const slow = new SlowOperations({ maxWindowMs: 3_600_000, maxOperations: 100, now: () => clock.now });
    slow.record(spans('shop', 'op', [900], NOW - 30 * 60_000));
    slow.record(spans('shop', 'op', [10]));
    expect((await slow.slowest({ windowMs: 15 * 60_000, limit: 5 }))[0]).toMatchObject({ count: 1, maxMs: 10 });
    expect((await slow.slowest({ windowMs: 60 * 60_000, limit: 5 }))[0]).toMatchObject({ count: 2, maxMs: 900 });
    clock.now += 2 * 3_600_000;
    expect(await slow.slowest({ windowMs: 60 * 60_000, limit: 5 })).toEqual([]);
    expect(slow.operationCount).toBe(0);
  });

  it('spans that started before the largest window are left out, as the start-up rebuild leaves them out; future ones count now', async () => {
    // They were counted in the window's first minute: a backlog of day-old spans sent after an
    // outage showed as the last hour's slowest, until a restart rebuilt the view without them.
    const slow = new SlowOperations({ maxWindowMs: 3_600_000, maxOperations: 100, now: () => NOW });
    slow.record(spans('shop', 'op', [900], NOW - 24 * 3_600_000));
    slow.record(spans('shop', 'op', [10]));
    slow.record(spans('shop', 'op', [20], NOW + 5 * 60_000));
    expect((await slow.slowest({ windowMs: 3_600_000, limit: 5 }))[0]).toMatchObject({ count: 2, maxMs: 20 });
    slow.record(spans('shop', 'old-only', [5], NOW - 2 * 3_600_000));
    expect(slow.operationCount).toBe(1);
  });

  it('at most maxOperations operations are tracked; others are counted as dropped', async () => {
    const slow = new SlowOperations({ maxWindowMs: 3_600_000, maxOperations: 2, now: () => NOW });
    slow.record([...spans('s', 'a', [1]), ...spans('s', 'b', [1]), ...spans('s', 'c', [1])]);
    expect(slow.operationCount).toBe(2);
    expect(slow.dropped).toBe(1);
  });

  // Span names with ids in them (unnormalized URLs) keep bringing new operations: at the bound,
  // each of their spans pruned, walking every minute of every operation (10 000 × 60), and 100 such
  // spans held the ingest thread for 0.5–2 s.
  it('at the bound, spans of new operations prune only once a minute has left the window', async () => {
    const clock = { now: NOW };
    const slow = new SlowOperations({ maxWindowMs: 3_600_000, maxOperations: 2, now: () => clock.now });
    slow.record([...spans('s', 'a', [1], NOW - 59 * 60_000), ...spans('s', 'b', [1])]);
    const prune = vi.spyOn(slow, 'prune');
    slow.record(Array.from({ length: 100 }, (_, i) => spans('s', `GET /users/${i}`, [1])[0]));
    expect(slow.dropped).toBe(100);
    expect(prune.mock.calls.length).toBeLessThanOrEqual(1);
    slow.record(spans('s', 'GET /users/x', [1]));
    expect(prune.mock.calls.length).toBeLessThanOrEqual(1);
    // Two minutes later, a's only minute has left the window: the next new operation takes its place.
    clock.now += 2 * 60_000;
    slow.record(spans('s', 'c', [1], clock.now - 1000));
    expect((await slow.slowest({ windowMs: 3_600_000, limit: 5 })).map((o) => o.operation).sort()).toEqual(['b', 'c']);
    expect(slow.dropped).toBe(101);
  });

  // At the bounds (10 000 operations with spans in each minute of the hour) the merge took 1.7–2.6 s on the ingest thread.
  it('merges a slice of the operations at a time, with event-loop turns between the slices', async () => {
    const slow = new SlowOperations({ maxWindowMs: 3_600_000, maxOperations: 2000, now: () => NOW });
    for (let m = 0; m < 30; m++) slow.record(Array.from({ length: 2000 }, (_, o) => spans('s', `op${o}`, [1 + (o % 50)], NOW - m * 60_000)[0]));
    const turns = countLoopTurns();
    const top = await slow.slowest({ windowMs: 3_600_000, limit: 2 });
    turns.stop();
    // 60 000 operation minutes: at least two slices.
    expect(turns.count).toBeGreaterThanOrEqual(2);
    expect(top.map((o) => [o.operation, o.count, o.maxMs])).toEqual([['op49', 30, 50], ['op99', 30, 50]]);
  });
});
