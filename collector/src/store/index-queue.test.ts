import { describe, expect, it } from 'vitest';
import { appendIndexText, emptyIndexText, IndexQueue, sliceIndexText, type IndexRun } from './index-queue.ts';

// every third record has no trace id, every fifth no message
const msgOf = (id: number) => (id % 5 === 0 ? '' : `m${id}`);
const traceOf = (id: number) => (id % 3 === 0 ? null : `t${id}`);
const batch = (firstId: number, n: number) => {
  const text = emptyIndexText();
  for (let id = firstId; id < firstId + n; id++) appendIndexText(text, msgOf(id), traceOf(id));
  return { firstId, text };
};
/** The lines records firstId … lastId should give. */
const lines = (firstId: number, lastId: number) => {
  let msgs = '';
  let traceIds = '';
  for (let id = firstId; id <= lastId; id++) {
    if (msgOf(id)) msgs += `${msgOf(id)}\n`;
    if (traceOf(id)) traceIds += `${traceOf(id)}\n`;
  }
  return { msgs, traceIds };
};
/** Runs as [first id, last id] pairs with their text. */
const described = (next: ReturnType<IndexQueue['next']>) =>
  'runs' in next ? next.runs.map((r: IndexRun) => ({ ids: [r.firstId + r.from, r.firstId + r.to - 1], ...sliceIndexText(r.text, r.from, r.to) })) : next;
const run = (firstId: number, lastId: number) => ({ ids: [firstId, lastId], ...lines(firstId, lastId) });

describe('index text', () => {
  it('slices out the lines of any run of records, skipping empty messages and absent trace ids', () => {
    const { text } = batch(1, 12);
    for (const [from, to] of [[0, 12], [0, 1], [2, 7], [4, 5], [11, 12], [9, 12]]) {
      expect(sliceIndexText(text, from, to), `${from}-${to}`).toEqual(lines(1 + from, to));
    }
    expect(sliceIndexText(text, 4, 5)).toEqual({ msgs: '', traceIds: 't5\n' }); // id 5: no message
    expect(sliceIndexText(text, 2, 3)).toEqual({ msgs: 'm3\n', traceIds: '' }); // id 3: no trace id
  });
});

describe('IndexQueue', () => {
  it('yields queued records in order, across batches, at most max at a time', () => {
    const q = new IndexQueue();
    q.push(batch(1, 3));
    q.push(batch(4, 3));
    expect(described(q.next(0, 4))).toEqual([run(1, 3), run(4, 4)]);
    expect(described(q.next(4, 4))).toEqual([run(5, 6)]);
    expect(q.next(6, 4)).toEqual({ readBefore: Number.POSITIVE_INFINITY });
  });

  it('asks for the log when the queue starts after indexed + 1, and resumes the queue after it', () => {
    const q = new IndexQueue();
    q.push(batch(11, 2));
    expect(q.next(0, 100)).toEqual({ readBefore: 11 });
    expect(described(q.next(10, 100))).toEqual([run(11, 12)]);
  });

  it('skips what is already indexed, also inside a batch, and stops at a gap between batches', () => {
    const q = new IndexQueue();
    q.push(batch(1, 5));
    q.push(batch(20, 2));
    expect(described(q.next(3, 100))).toEqual([run(4, 5)]);
    expect(q.next(5, 100)).toEqual({ readBefore: 20 });
    expect(q.next(25, 100)).toEqual({ readBefore: Number.POSITIVE_INFINITY });
    expect(q.length).toBe(0);
  });
});
