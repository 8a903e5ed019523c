import { describe, expect, it } from 'vitest';
import { assembleTree, type TreeSpan } from './tree.ts';

const s = (spanId: string, parentSpanId: string | null, start: number): TreeSpan & { name: string } => ({ spanId, parentSpanId, startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(start)), name: spanId });

describe('span tree assembly', () => {
  it('depth-first from the root, parents before children, siblings by start time', () => {
    const spans = [s('c2', 'b', 30), s('root', null, 0), s('b', 'root', 10), s('a', 'root', 5), s('c1', 'b', 20), s('a1', 'a', 6)];
    expect(assembleTree(spans).map((x) => [x.spanId, x.depth])).toEqual([
      ['root', 0], ['a', 1], ['a1', 2], ['b', 1], ['c1', 2], ['c2', 2],
    ]);
  });

  it('orphans (parent not in the trace) are extra roots, flagged, in start order', () => {
    const out = assembleTree([s('late', 'missing', 50), s('root', null, 0), s('kid', 'late', 60)]);
    expect(out.map((x) => [x.spanId, x.depth, x.orphan ?? false])).toEqual([['root', 0, false], ['late', 0, true], ['kid', 1, false]]);
  });

  it('parent cycles and self-parents cannot loop; every span is listed once', () => {
    const out = assembleTree([s('x', 'y', 1), s('y', 'x', 2), s('self', 'self', 0)]);
    expect(out.map((x) => x.spanId).sort()).toEqual(['self', 'x', 'y']);
    // Their parents are in the trace: not orphans waiting for a parent (they were flagged as such).
    expect(out.filter((x) => x.orphan).map((x) => x.spanId)).toEqual([]);
  });

  it('a 50 000-deep chain does not overflow the stack', () => {
    const chain = Array.from({ length: 50_000 }, (_, i) => s(`s${i}`, i === 0 ? null : `s${i - 1}`, i));
    const out = assembleTree(chain.reverse());
    expect(out[out.length - 1]).toMatchObject({ spanId: 's49999', depth: 49_999 });
  });
});
