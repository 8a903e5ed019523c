// The clock every alerting component uses. Injected so timing tests (pending `for`, keepFiringFor,
// group timers, escalation waits) run on a FakeClock without sleeping.

export type TimerHandle = unknown;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Milliseconds that never step (performance.now): what `now()` moved by, less what this moved
   * by, is a step of the wall clock (NTP, a VM resumed, `date -s`). Timers run on this time.
   */
  elapsed(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The last reading of a wall clock and a monotonic one, for wallStep. */
export interface ClockReading {
  wall?: number;
  elapsed?: number;
}

/**
 * A difference between what the wall clock and the monotonic clock moved by that is a step of the
 * wall clock, not the rounding of the two readings (whole and fractional milliseconds).
 */
const WALL_STEP_MS = 1000;

/**
 * How far the wall clock stepped (NTP, a VM resumed, `date -s`) since `last` was read: negative
 * back, positive forward (which may be time a suspended host really spent: the monotonic clock
 * does not count it), 0 for less than a second or at the first reading. `last` becomes this one.
 */
export function wallStep(last: ClockReading, wall: number, elapsed: number): number {
  const step = last.wall === undefined || last.elapsed === undefined ? 0 : wall - last.wall - (elapsed - last.elapsed);
  last.wall = wall;
  last.elapsed = elapsed;
  return Math.abs(step) >= WALL_STEP_MS ? step : 0;
}

/** Node runs a timer of more than 2^31 - 1 ms (24.8 days) after 1 ms instead; longer waits are chained. */
export const MAX_NODE_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a timer delay: at least 0, at most MAX_NODE_TIMER_MS. */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_NODE_TIMER_MS);
}

/**
 * Wall clock backed by Date.now and the Node timers. A wait past Node's timer limit (an
 * escalation step's `wait: 30d`) is armed in steps, so it fires when due instead of at once
 * (and, for a repeating schedule, in a loop).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimeout(fn, ms) {
    const handle: { timer?: ReturnType<typeof setTimeout> } = {};
    const dueAt = Date.now() + Math.max(0, ms);
    const arm = () => {
      const left = dueAt - Date.now();
      handle.timer = left > MAX_NODE_TIMER_MS ? setTimeout(arm, MAX_NODE_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    };
    arm();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout((handle as { timer?: ReturnType<typeof setTimeout> }).timer),
};

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * Deterministic clock for tests. Time moves only through `advance`/`tick`/`set`; timers due within
 * the advanced span run in due order (ties in creation order), each seeing `now()` equal to its due
 * time. Timers a callback creates run in the same advance when they fall inside the span.
 */
export class FakeClock implements Clock {
  private current: number;
  private timers: FakeTimer[] = [];
  private nextId = 1;

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** The time itself: a fake clock steps only as a subclass's now() makes it. */
  elapsed(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Number of timers not yet run. */
  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running every timer due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    while (this.runNextDue(target));
    this.current = target;
  }

  /** Like `advance`, but lets promise callbacks (async timer work) settle after each timer. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    while (this.runNextDue(target)) await flushMicrotasks();
    this.current = target;
    await flushMicrotasks();
  }

  /** Runs the earliest timer due at or before `target` (ties in creation order); false when none is. */
  private runNextDue(target: number): boolean {
    let next: FakeTimer | undefined;
    for (const t of this.timers) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
    if (!next) return false;
    this.timers = this.timers.filter((t) => t !== next);
    this.current = Math.max(this.current, next.at);
    next.fn();
    return true;
  }

  /** Jumps to an absolute time (forward only), running due timers. */
  set(ms: number): void {
    if (ms > this.current) this.advance(ms - this.current);
  }
}

/** Lets pending promise chains run (a few macrotask turns). */
export async function flushMicrotasks(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
