import { afterEach, describe, expect, it, vi } from 'vitest';
import { CoalescingStream, type ThreadStreamLike } from '../src/logs/coalesce.ts';

function fakeTarget() {
  const calls: string[] = [];
  const target: ThreadStreamLike = {
    write: (data) => (calls.push(`write:${data}`), true),
    flush: (cb) => (calls.push('flush'), cb()),
    flushSync: () => void calls.push('flushSync'),
    end: () => void calls.push('end'),
    destroyed: false,
    closed: false,
  };
  return { target, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('CoalescingStream', () => {
  it('hands lines over in order, in one write, after the delay', () => {
    vi.useFakeTimers();
    const { target, calls } = fakeTarget();
    const s = new CoalescingStream(target, 20);
    s.write('a\n');
    s.write('b\n');
    vi.advanceTimersByTime(19);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['write:a\nb\n']);
    s.write('c\n');
    vi.advanceTimersByTime(20);
    expect(calls).toEqual(['write:a\nb\n', 'write:c\n']);
    s.end();
  });

  it('hands over at once past maxChars', () => {
    vi.useFakeTimers();
    const { target, calls } = fakeTarget();
    const s = new CoalescingStream(target, 20, { maxChars: 10 });
    s.write('12345\n');
    expect(calls).toEqual([]);
    s.write('67890\n');
    expect(calls).toEqual(['write:12345\n67890\n']);
    vi.advanceTimersByTime(100);
    expect(calls).toHaveLength(1); // the timer was cleared
    s.end();
  });

  it.each([
    { name: 'flush(cb)', call: (s: CoalescingStream) => s.flush(() => {}), last: 'flush' },
    { name: 'flushSync()', call: (s: CoalescingStream) => s.flushSync(), last: 'flushSync' },
    { name: 'end()', call: (s: CoalescingStream) => s.end(), last: 'end' },
    // its exit listener is first in line (before pino's own); call it rather than emit 'exit' here
    { name: 'the exit listener', call: () => (process.listeners('exit')[0] as () => void)(), last: 'write:pending\n' },
  ])('$name hands over what is pending first', ({ call, last }) => {
    vi.useFakeTimers();
    const { target, calls } = fakeTarget();
    const s = new CoalescingStream(target, 20);
    s.write('pending\n');
    call(s);
    expect(calls[0]).toBe('write:pending\n');
    expect(calls.at(-1)).toBe(last);
    s.end();
  });

  it('holds lines while the worker is behind, bounded, dropping below err first; hands over at drain', () => {
    vi.useFakeTimers();
    const { target, calls } = fakeTarget();
    let needDrain = true;
    let onDrain: (() => void) | undefined;
    Object.defineProperty(target, 'writableNeedDrain', { get: () => needDrain });
    target.once = (_event, listener) => (onDrain = listener);
    let dropped = 0;
    const s = new CoalescingStream(target, 20, { maxChars: 100, maxPendingChars: 200, onDrop: () => dropped++ });
    const info = (i: number) => `{"level":30,"time":1,"msg":"info ${String(i).padStart(3, '0')}"}\n`; // 40 chars
    const error = (i: number) => `{"level":50,"time":1,"msg":"err  ${String(i).padStart(3, '0')}"}\n`;
    for (let i = 0; i < 10; i++) s.write(info(i));
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([]); // nothing handed over while the worker is behind
    expect(dropped).toBe(5); // 5 × 39 chars fit the bound
    for (let i = 0; i < 5; i++) s.write(error(i)); // err lines may use a second bound…
    expect(dropped).toBe(5);
    s.write(info(99)); // …info may not…
    expect(dropped).toBe(6);
    s.write(error(5)); // …and past it err goes too
    expect(dropped).toBe(7);
    needDrain = false;
    onDrain!();
    expect(calls).toEqual([`write:${[0, 1, 2, 3, 4].map(info).join('')}${[0, 1, 2, 3, 4].map(error).join('')}`]);
    s.write(info(5));
    vi.advanceTimersByTime(20);
    expect(calls.at(-1)).toBe(`write:${info(5)}`);
    s.end();
  });

  it('flushSync() hands over even while the worker is behind', () => {
    const { target, calls } = fakeTarget();
    Object.defineProperty(target, 'writableNeedDrain', { get: () => true });
    target.once = () => target;
    const s = new CoalescingStream(target, 20);
    s.write('a\n');
    s.flushSync();
    expect(calls).toEqual(['write:a\n', 'flushSync']);
    s.end();
  });

  it('removes its exit listener at end()', () => {
    const before = process.listenerCount('exit');
    const s = new CoalescingStream(fakeTarget().target, 20);
    expect(process.listenerCount('exit')).toBe(before + 1);
    s.end();
    expect(process.listenerCount('exit')).toBe(before);
  });
});
