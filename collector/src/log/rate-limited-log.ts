// Lines that something outside the collector can repeat at will — a backend that flaps or
// refuses every request, a sender of bad frames — are rate-limited per key, so that an outage of
// hours does not write a line per request (a flood that hides everything else and fills disks).
// Contract, per key:
//  - the first line is written at once, and opens a window of `intervalMs`;
//  - the lines after it in the window are not written but counted, with the sums of their
//    `sum` fields (records, samples);
//  - when the window ends with any counted, one summary line is written: the latest line's
//    message and fields, the sums in place of its own numbers, `suppressed` (how many lines it
//    stands for) and `suppressedForSeconds` (the window's length so far), at the worst level
//    among them; a new window opens;
//  - a window that ends with none counted closes: the next line is written at once;
//  - flush() (at shutdown) writes the pending summaries now.
// So a repeat that goes on for hours writes one line per key per interval, and the last count
// is written within an interval of the repeats stopping, not lost with them. Vector does the same
// for its own logs (internal_log_rate_limit, "has been suppressed N times",
// https://vector.dev/docs/reference/configuration/sources/internal_logs/); the OpenTelemetry
// Collector samples its logs (service::telemetry::logs::sampling,
// https://opentelemetry.io/docs/collector/internal-telemetry/) but says nothing of what it left out.

import type { Logger } from '../exporters/sink.ts';
import { RepeatWindows } from './repeat-windows.ts';

/** The interval of the collector's rate-limited lines. */
export const LOG_REPEAT_INTERVAL_MS = 60_000;

type Level = 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { info: 0, warn: 1, error: 2 };

export interface LimitedLine {
  /** Lines of one key are limited together (e.g. `dead-letters`, `state`). */
  key: string;
  level: Level;
  fields: Record<string, unknown>;
  /** The message; given the sums when the line summarizes others (its numbers are theirs). */
  msg: (sums: Record<string, number>) => string;
  /** Numbers summed over the lines a summary stands for (fields of the same name are replaced). */
  sum?: Record<string, number>;
}

interface Held {
  suppressed: number;
  openedAt: number;
  level: Level;
  latest: LimitedLine | undefined;
  sums: Record<string, number>;
}

export interface RateLimitedLogOptions {
  intervalMs?: number;
  now?: () => number;
}

export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #windows: RepeatWindows<Held>;

  constructor(logger: Logger, options: RateLimitedLogOptions = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? LOG_REPEAT_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    this.#windows = new RepeatWindows<Held>({
      intervalMs: this.#intervalMs,
      fresh: () => ({ suppressed: 0, openedAt: this.#now(), level: 'info', latest: undefined, sums: {} }),
      close: (held) => this.#summarize(held),
    });
  }

  log(line: LimitedLine): void {
    const w = this.#windows.get(line.key);
    if (w === undefined) {
      this.#write(line.level, { ...line.fields, ...line.sum }, line.msg(line.sum ?? {}));
      this.#windows.open(line.key);
      return;
    }
    w.suppressed++;
    if (w.latest === undefined || RANK[line.level] > RANK[w.level]) w.level = line.level;
    w.latest = line;
    for (const [k, v] of Object.entries(line.sum ?? {})) w.sums[k] = (w.sums[k] ?? 0) + v;
  }

  /** Writes the pending summaries now and forgets every window (at shutdown). Safe twice. */
  flush(): void {
    this.#windows.flush();
  }

  /** Writes the summary of `w`; false when it counted none. */
  #summarize(w: Held): boolean {
    const line = w.latest;
    if (line === undefined || w.suppressed === 0) return false;
    const forSeconds = Math.max(0, Math.round((this.#now() - w.openedAt) / 1000));
    this.#write(
      w.level,
      { ...line.fields, ...w.sums, suppressed: w.suppressed, suppressedForSeconds: forSeconds },
      `${line.msg(w.sums)} — summary of ${w.suppressed} such line(s) in the last ${forSeconds} s (written at most once per ${Math.round(this.#intervalMs / 1000)} s)`,
    );
    return true;
  }

  #write(level: Level, fields: Record<string, unknown>, msg: string): void {
    this.#logger[level](fields, msg);
  }
}
