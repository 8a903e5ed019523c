import { describe, expect, it } from 'vitest';
import { RecordBuffer } from '../src/logs/buffer.ts';

/** A line of exactly `bytes` bytes, tagged so tests can tell records apart. */
const line = (tag: string, bytes = 10) => `${tag}`.padEnd(bytes - 1, '.') + '\n';
const tags = (b: RecordBuffer) => b.take(1000, Infinity).map((e) => e.line.replace(/\.*\n$/, ''));

describe('RecordBuffer drop policy', () => {
  it.each([
    {
      name: 'incoming more important evicts the least important (highest severity number)',
      adds: [[7, 'd1'], [6, 'i1'], [4, 'w1'], [3, 'e1']] as const,
      expected: ['i1', 'w1', 'e1'],
      accepted: [true, true, true, true],
      dropped: 1,
    },
    {
      name: 'incoming least important is dropped itself',
      adds: [[3, 'e1'], [4, 'w1'], [6, 'i1'], [7, 'd1']] as const,
      expected: ['e1', 'w1', 'i1'],
      accepted: [true, true, true, false],
      dropped: 1,
    },
    {
      name: 'tie: incoming dropped, the oldest of a severity survive',
      adds: [[6, 'i1'], [6, 'i2'], [6, 'i3'], [6, 'i4']] as const,
      expected: ['i1', 'i2', 'i3'],
      accepted: [true, true, true, false],
      dropped: 1,
    },
    {
      name: 'within the victim severity the newest is evicted first',
      adds: [[7, 'd1'], [7, 'd2'], [7, 'd3'], [2, 'c1']] as const,
      expected: ['d1', 'd2', 'c1'],
      accepted: [true, true, true, true],
      dropped: 1,
    },
    {
      name: 'debug goes before info even if the info is newer',
      adds: [[6, 'i1'], [7, 'd1'], [6, 'i2'], [3, 'e1']] as const,
      expected: ['i1', 'i2', 'e1'],
      accepted: [true, true, true, true],
      dropped: 1,
    },
  ])('$name', ({ adds, expected, accepted, dropped }) => {
    const b = new RecordBuffer(30); // room for three 10-byte lines
    let evicted = 0;
    const acc: boolean[] = [];
    for (const [sev, tag] of adds) {
      const r = b.add(sev, line(tag));
      acc.push(r.accepted);
      evicted += r.evicted;
    }
    expect(acc).toEqual(accepted);
    expect(evicted + acc.filter((a) => !a).length).toBe(dropped);
    expect(tags(b)).toEqual(expected);
  });

  it('a large record evicts as many lower-severity records as needed', () => {
    const b = new RecordBuffer(40);
    for (const t of ['d1', 'd2', 'd3', 'd4']) b.add(7, line(t));
    const r = b.add(3, line('E', 25));
    expect(r).toEqual({ accepted: true, evicted: 3 });
    expect(b.queuedBytes).toBe(35);
    expect(tags(b)).toEqual(['d1', 'E']);
  });

  it('a record larger than the whole buffer is refused as too large', () => {
    const b = new RecordBuffer(20);
    expect(b.add(0, line('huge', 21))).toEqual({ accepted: false, evicted: 0, tooLarge: true });
    expect(b.queuedCount).toBe(0);
  });

  it.each([
    { name: 'empty buffer', fill: 0, severity: 7, expected: false },
    { name: 'room left for the smallest record seen', fill: 2, severity: 6, expected: false },
    { name: 'full, only equal severity queued', fill: 3, severity: 6, expected: true },
    { name: 'full, only more important queued', fill: 3, severity: 7, expected: true },
    { name: 'full, but something less important queued', fill: 3, severity: 3, expected: false },
  ])('certainlyRejects: $name → $expected', ({ fill, severity, expected }) => {
    const b = new RecordBuffer(30);
    for (let i = 0; i < fill; i++) b.add(6, line(`i${i}`));
    expect(b.certainlyRejects(severity)).toBe(expected);
    // it agrees with what add() would do for a record of the same size
    if (expected) expect(b.add(severity, line('n')).accepted).toBe(false);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const b = new RecordBuffer(100);
    b.add(6, '世界\n');
    expect(b.queuedBytes).toBe(7);
  });

  it('never exceeds maxBytes, in-flight records included, and never evicts in-flight ones', () => {
    const b = new RecordBuffer(50);
    for (let i = 0; i < 5; i++) b.add(7, line(`d${i}`));
    const inflight = b.take(3, Infinity);
    expect(b.inFlightBytes).toBe(30);
    for (let i = 0; i < 100; i++) {
      b.add(i % 8, line(`x${i}`));
      expect(b.totalBytes).toBeLessThanOrEqual(50);
    }
    expect(inflight.map((e) => e.line[0] + e.line[1])).toEqual(['d0', 'd1', 'd2']);
    b.release(inflight);
    expect(b.inFlightBytes).toBe(0);
  });

  it('take() returns arrival order across severities and respects record/byte limits', () => {
    const b = new RecordBuffer(1000);
    b.add(7, line('a'));
    b.add(3, line('b'));
    b.add(6, line('c'));
    b.add(3, line('d'));
    expect(b.take(2, Infinity).map((e) => e.line[0])).toEqual(['a', 'b']);
    expect(b.take(10, 15).map((e) => e.line[0])).toEqual(['c']); // 2 × 10 bytes > 15
    expect(b.take(10, 5).map((e) => e.line[0])).toEqual(['d']); // at least one record
    expect(b.take(10, 100)).toEqual([]);
  });

  it('clear() empties the queue and reports how many records were removed', () => {
    const b = new RecordBuffer(100);
    b.add(6, line('a'));
    b.add(3, line('b'));
    expect(b.clear()).toBe(2);
    expect(b.queuedBytes).toBe(0);
    expect(b.take(10, 100)).toEqual([]);
  });
});
