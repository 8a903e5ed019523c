// Coalesces pino's lines on the main thread before they reach the transport (pino's thread-stream).
//
// Why: thread-stream hands every event-loop turn's writes to the worker with a Buffer copy, an
// Atomics.notify and a worker wake-up. A server answering one request per turn and logging once per
// request pays that per request — measured at about 6 % of the main thread's time with a 1 ms
// handler when the worker shares the core (bench/http-overhead.ts, pinned). Collecting the lines
// for up to `delayMs` (or `maxChars`) turns that into a few dozen hand-overs per second.
//
// Contract: lines reach the transport in order, unchanged, at most delayMs later. flush(cb),
// flushSync() and end() first hand over what is pending, so every caller of the transport
// (pino's logger.flush, logs/lifecycle.ts at shutdown and at process exit) sees every line. The
// timer is unref'd: it never keeps the process alive (beforeExit/exit flush instead).
//
// Bounded: while the worker has not taken what it was given (thread-stream's shared buffer is
// full: `writableNeedDrain`), lines wait here instead of in thread-stream, whose own queue grows
// without bound and then blocks the main thread in a synchronous write. Past `maxPendingChars`
// the lines are held in a RecordBuffer, the worker's own: lowest severity first, so a burst of
// debug lines cannot push out the warnings that follow it; what is dropped is counted (`onDrop`),
// under the worker's reasons: `too_large` for a line larger than the whole bound, else `buffer_full`;
// and `worker_exited` for lines handed over once the worker thread is gone (thread-stream drops
// them, emitting an error per write).
// Lines are handed over at half the bound at the latest, so a bound smaller than `maxChars` does
// not drop lines the worker could have taken.

import { severityFromPino } from '../record.ts';
import { RecordBuffer } from './buffer.ts';
import type { TransportStream } from './lifecycle.ts';

/** The part of pino's ThreadStream used here and by the lifecycle. */
export interface ThreadStreamLike extends TransportStream {
  write(data: string): boolean;
  /** True while the worker has not taken what it was given (thread-stream's shared buffer is full). */
  readonly writableNeedDrain?: boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

/** Lines in a chunk of whole lines. */
function lineCount(chunk: string): number {
  let n = 0;
  for (let at = chunk.indexOf('\n'); at !== -1; at = chunk.indexOf('\n', at + 1)) n++;
  return n;
}

/** RFC 5424 severity of one pino line, from its numeric level (its first key); info when not found. */
function severityOf(line: string): number {
  const at = line.indexOf('"level":');
  const level = at < 0 || at > 16 ? 30 : Number.parseInt(line.slice(at + 8, at + 11), 10) || 30;
  return severityFromPino(level);
}

export type HandOffDropReason = 'buffer_full' | 'too_large' | 'worker_exited';

export interface CoalescingOptions {
  /** Hand over at once past this many pending characters. */
  maxChars?: number;
  /** Bound of the lines held while the worker is behind (see the contract above). */
  maxPendingChars?: number;
  /** Called with the number of lines dropped at the bound, and why. */
  onDrop?: (count: number, reason: HandOffDropReason) => void;
}

export class CoalescingStream implements ThreadStreamLike {
  /** Lines to hand over, while under the bound. */
  private pending = '';
  /** Lines to hand over, once over the bound (then `pending` is empty) until handed over. */
  private held: RecordBuffer | undefined;
  private waitingForDrain = false;
  private readonly maxPendingChars: number;
  private readonly onDrop: (count: number, reason: HandOffDropReason) => void;
  private timer: NodeJS.Timeout | undefined;
  private readonly target: ThreadStreamLike;
  private readonly delayMs: number;
  private readonly maxChars: number;
  private readonly onTimer = () => {
    this.timer = undefined;
    this.handOver();
  };
  private readonly onExit = () => this.handOver(true);

  private readonly onDrain = () => {
    this.waitingForDrain = false;
    this.handOver();
  };

  constructor(target: ThreadStreamLike, delayMs: number, options: CoalescingOptions = {}) {
    this.target = target;
    this.delayMs = delayMs;
    this.maxPendingChars = options.maxPendingChars ?? 8 * 1024 * 1024;
    this.maxChars = Math.min(options.maxChars ?? 64 * 1024, Math.floor(this.maxPendingChars / 2));
    this.onDrop = options.onDrop ?? (() => {});
    process.prependListener('exit', this.onExit);
  }

  write(line: string): boolean {
    if (this.held === undefined && this.pending.length + line.length > this.maxPendingChars) this.startHolding();
    if (this.held !== undefined) {
      this.hold(line);
      return true;
    }
    this.pending += line;
    if (this.pending.length >= this.maxChars) {
      this.handOver();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.delayMs);
      this.timer.unref();
    }
    return true;
  }

  /**
   * Hands what is pending to the transport now — unless the worker is behind (then at its next
   * 'drain'); `force` (flush, exit, end) hands over regardless.
   */
  handOver(force = false): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === '' && this.held === undefined) return;
    if (!force && this.target.writableNeedDrain) {
      if (!this.waitingForDrain) {
        this.waitingForDrain = true;
        this.target.once?.('drain', this.onDrain);
      }
      return;
    }
    let chunk = this.pending;
    this.pending = '';
    if (this.held !== undefined) {
      chunk = this.held.take(Infinity, Infinity).map((e) => e.line).join('');
      this.held = undefined;
    }
    if (this.target.destroyed) {
      this.onDrop(lineCount(chunk), 'worker_exited');
      return;
    }
    try {
      this.target.write(chunk);
    } catch {
      // transport gone: logging must never throw into the host
    }
  }

  /** Moves the pending lines into a severity-ordered buffer of the same bound (bytes of UTF-8). */
  private startHolding(): void {
    this.held = new RecordBuffer(this.maxPendingChars);
    const pending = this.pending;
    this.pending = '';
    for (let start = 0; start < pending.length; ) {
      const end = pending.indexOf('\n', start) + 1 || pending.length;
      this.hold(pending.slice(start, end));
      start = end;
    }
  }

  /** Adds one line to the held buffer and counts what that drops. */
  private hold(line: string): void {
    const { accepted, evicted, tooLarge } = this.held!.add(severityOf(line), line);
    if (evicted > 0) this.onDrop(evicted, 'buffer_full');
    if (!accepted) this.onDrop(1, tooLarge ? 'too_large' : 'buffer_full');
  }

  flush(cb: (err?: Error) => void): void {
    this.handOver(true);
    this.target.flush(cb);
  }

  flushSync(): void {
    this.handOver(true);
    this.target.flushSync();
  }

  end(): void {
    this.handOver(true);
    process.removeListener('exit', this.onExit);
    this.target.end();
  }

  get destroyed(): boolean {
    return this.target.destroyed;
  }

  get closed(): boolean {
    return this.target.closed;
  }
}
