import { describe, expect, it } from 'vitest';
import { IndexQueue } from './index-queue.ts';

// every third record has no trace id
const traceOf = (id: number) => (id % 3 === 0 ? null : `t${id}`);
const batch = (firstId: number, n: number) => ({
  firstId,
  msgs: Array.from({ length: n }, (_, i) => `m${firstId + i}`),
  traceIds: Array.from({ length: n }, (_, i) => traceOf(firstId + i)),
});
const row = (id: number) => ({ id, msg: `m${id}`, traceId: traceOf(id) });

describe('IndexQueue', () => {
  it('yields queued rows in order, across batches, at most max at a time', () => {
    const q = new IndexQueue();
    q.push(batch(1, 3));
    q.push(batch(4, 3));
    expect(q.next(0, 4)).toEqual({ rows: [1, 2, 3, 4].map(row) });
    expect(q.next(4, 4)).toEqual({ rows: [5, 6].map(row) });
    expect(q.next(6, 4)).toEqual({ readBefore: Number.POSITIVE_INFINITY });
  });

  it('asks for the log when the queue starts after indexed + 1, and resumes the queue after it', () => {
    const q = new IndexQueue();
    q.push(batch(11, 2));
    expect(q.next(0, 100)).toEqual({ readBefore: 11 });
    expect(q.next(10, 100)).toEqual({ rows: [row(11), row(12)] });
  });

  it('skips what is already indexed, also inside a batch, and stops at a gap between batches', () => {
    const q = new IndexQueue();
    q.push(batch(1, 5));
    q.push(batch(20, 2));
    expect(q.next(3, 100)).toEqual({ rows: [row(4), row(5)] });
    expect(q.next(5, 100)).toEqual({ readBefore: 20 });
    expect(q.next(25, 100)).toEqual({ readBefore: Number.POSITIVE_INFINITY });
    expect(q.length).toBe(0);
  });
});
