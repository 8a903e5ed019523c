// The window machinery of the collector's rate-limited lines (rate-limited-log.ts for the
// exporters', http/error-log.ts for 5xx errors and senders' refusals), kept once. Per key:
//  - a line written at once opens a window of `intervalMs` (open());
//  - while it is open, the caller counts what it holds back in the window's state (get());
//  - when it ends, `close(state)` writes the summary, if any: true opens the next window at once,
//    false ends the key's windows, so that its next line is written at once again;
//  - flush() (at shutdown) closes every window now.
// At most `maxKeys` windows are kept (keys a sender chooses, such as error messages, are
// unbounded): past it the oldest is closed early, its summary written.

export interface RepeatWindowsOptions<S> {
  intervalMs: number;
  maxKeys?: number;
  /** A new window's state. */
  fresh: () => S;
  /** Writes the summary of a window that ended; whether there was one. */
  close: (state: S) => boolean;
}

interface Window<S> {
  timer: NodeJS.Timeout;
  state: S;
}

export class RepeatWindows<S> {
  readonly #options: RepeatWindowsOptions<S>;
  readonly #windows = new Map<string, Window<S>>();

  constructor(options: RepeatWindowsOptions<S>) {
    this.#options = options;
  }

  /** The state of the key's open window; undefined when it has none (write the line, then open()). */
  get(key: string): S | undefined {
    return this.#windows.get(key)?.state;
  }

  open(key: string): void {
    const timer = setTimeout(() => {
      const w = this.#windows.get(key);
      if (w?.timer !== timer) return;
      this.#windows.delete(key);
      if (this.#options.close(w.state)) this.open(key);
    }, this.#options.intervalMs);
    timer.unref();
    this.#windows.set(key, { timer, state: this.#options.fresh() });
    if (this.#options.maxKeys !== undefined && this.#windows.size > this.#options.maxKeys) {
      const [oldest, w] = this.#windows.entries().next().value!;
      this.#windows.delete(oldest);
      clearTimeout(w.timer);
      this.#options.close(w.state);
    }
  }

  /** Closes every window now, writing their summaries, and forgets them. Safe twice. */
  flush(): void {
    for (const [key, w] of [...this.#windows]) {
      this.#windows.delete(key);
      clearTimeout(w.timer);
      this.#options.close(w.state);
    }
  }
}
