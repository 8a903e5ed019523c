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

  it('holds lines while the worker is behind, bounded, lowest severity first; hands over at drain', () => {
    vi.useFakeTimers();
    const { target, calls } = fakeTarget();
    let needDrain = true;
    let onDrain: (() => void) | undefined;
    Object.defineProperty(target, 'writableNeedDrain', { get: () => needDrain });
    target.once = (_event, listener) => (onDrain = listener);
    let dropped = 0;
    const s = new CoalescingStream(target, 20, { maxChars: 100, maxPendingChars: 200, onDrop: (n) => (dropped += n) });
    const line = (level: number, name: string) => (i: number) => `{"level":${level},"time":1,"msg":"${name} ${String(i).padStart(3, '0')}"}\n`; // 40 chars
    const [debug, info, warn, error] = [line(20, 'debg'), line(30, 'info'), line(40, 'warn'), line(50, 'err ')];
    for (let i = 0; i < 10; i++) s.write(info(i));
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([]); // nothing handed over while the worker is behind
    expect(dropped).toBe(5); // 5 × 40 chars fill the bound; the newer info lines are not more important
    s.write(debug(0)); // less important than everything held: dropped
    expect(dropped).toBe(6);
    for (let i = 0; i < 3; i++) s.write(error(i)); // each pushes out the newest info line
    s.write(warn(0)); // and so does a warning
    expect(dropped).toBe(10);
    for (let i = 3; i < 9; i++) s.write(error(i)); // errors push out the warning, then each other's newcomers
    expect(dropped).toBe(16);
    needDrain = false;
    onDrain!();
    expect(calls).toEqual([`write:${[0, 1, 2, 3, 4].map(error).join('')}`]);
    s.write(info(5));
    vi.advanceTimersByTime(20);
    expect(calls.at(-1)).toBe(`write:${info(5)}`);
    s.end();
  });

  it('hands over at half a small bound, so a burst the worker can take loses nothing', () => {
    const { target, calls } = fakeTarget();
    let dropped = 0;
    const s = new CoalescingStream(target, 20, { maxPendingChars: 400, onDrop: (n) => (dropped += n) });
    const lines = Array.from({ length: 50 }, (_, i) => `{"level":20,"time":1,"msg":"debug ${String(i).padStart(3, '0')}"}\n`);
    for (const l of lines) s.write(l);
    s.flushSync();
    expect(dropped).toBe(0);
    expect(calls.filter((c) => c.startsWith('write:')).map((c) => c.slice(6)).join('')).toBe(lines.join(''));
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

  it('a line larger than the whole bound is dropped as too_large, the lines it does not fit beside as buffer_full', () => {
    vi.useFakeTimers();
    const { target } = fakeTarget();
    const drops: string[] = [];
    const s = new CoalescingStream(target, 20, { maxChars: 100, maxPendingChars: 200, onDrop: (n, reason) => drops.push(`${n} ${reason}`) });
    const line = (level: number, size: number) => `{"level":${level},"msg":"${'x'.repeat(size - 22)}"}\n`; // size characters
    s.write(line(30, 60));
    s.write(line(50, 201)); // alone over the bound, into an otherwise empty hand-off
    expect(drops).toEqual(['1 too_large']);
    s.write(line(50, 150)); // fits only without the info line
    expect(drops).toEqual(['1 too_large', '1 buffer_full']);
    s.end();
  });
});

