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

import type { TransportStream } from './lifecycle.ts';

/** The part of pino's ThreadStream used here and by the lifecycle. */
export interface ThreadStreamLike extends TransportStream {
  write(data: string): boolean;
}

export class CoalescingStream implements ThreadStreamLike {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly target: ThreadStreamLike;
  private readonly delayMs: number;
  private readonly maxChars: number;
  private readonly onTimer = () => {
    this.timer = undefined;
    this.handOver();
  };
  private readonly onExit = () => this.handOver();

  constructor(target: ThreadStreamLike, delayMs: number, maxChars = 64 * 1024) {
    this.target = target;
    this.delayMs = delayMs;
    this.maxChars = maxChars;
    process.prependListener('exit', this.onExit);
  }

  write(line: string): boolean {
    this.pending += line;
    if (this.pending.length >= this.maxChars) {
      this.handOver();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.delayMs);
      this.timer.unref();
    }
    return true;
  }

  /** Hands what is pending to the transport now. */
  handOver(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    try {
      this.target.write(chunk);
    } catch {
      // transport gone: logging must never throw into the host
    }
  }

  flush(cb: (err?: Error) => void): void {
    this.handOver();
    this.target.flush(cb);
  }

  flushSync(): void {
    this.handOver();
    this.target.flushSync();
  }

  end(): void {
    this.handOver();
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
