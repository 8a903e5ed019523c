import type { FastifyInstance } from 'fastify';
import { RepeatWindows } from '../log/repeat-windows.ts';

/** A distinct error (code and message) is logged at most once per this interval. */
export const REPEAT_LOG_MS = 60_000;
/** Distinct errors remembered; past this the longest-remembered is forgotten (its count written first). */
const MAX_REMEMBERED = 100;

/**
 * What is logged: an Error, or any value with a message and an optional code. Errors are told
 * apart by code and message, or by `key` when given (messages that hold varying values).
 */
type Loggable = { message: string; code?: unknown; key?: string };
type ErrorLogger<E extends Loggable> = (obj: { err: E; repeated?: number }, msg: string) => void;

interface Seen<E> {
  /** Like errors not logged since the last line of this one. */
  suppressed: number;
  latest: E | undefined;
}

/**
 * Logs the errors behind 5xx answers (and the refusals a sender can repeat: syslog frames,
 * connections over the bounds), each distinct one at most once per REPEAT_LOG_MS. A full disk or
 * a dead thread fails every request the same way: a stack trace per request buried the log (and
 * cost CPU) while saying nothing new. The first is logged at once; when its interval ends with
 * like ones not logged, the latest of them is logged with how many (`repeated`), and another
 * interval begins; an interval without any ends the error's window, so the next is logged at
 * once. The count is written when the interval ends, not held until the error comes back: a
 * sender of 6000 bad frames in a burst left one line and no count at all. Same rule as the
 * exporters' lines (log/rate-limited-log.ts).
 */
export class RepeatedErrorLog<E extends Loggable = Error> {
  readonly #log: ErrorLogger<E>;
  readonly #windows: RepeatWindows<Seen<E>>;

  constructor(log: ErrorLogger<E>) {
    this.#log = log;
    this.#windows = new RepeatWindows<Seen<E>>({
      intervalMs: REPEAT_LOG_MS,
      maxKeys: MAX_REMEMBERED,
      fresh: () => ({ suppressed: 0, latest: undefined }),
      close: (seen) => this.#summarize(seen),
    });
  }

  log(err: E): void {
    const key = err.key ?? `${String(err.code ?? '')}\n${err.message}`;
    const seen = this.#windows.get(key);
    if (seen) {
      seen.suppressed++;
      seen.latest = err;
      return;
    }
    this.#log({ err }, err.message);
    this.#windows.open(key);
  }

  /** Writes the pending counts now and forgets every error (at shutdown). Safe twice. */
  flush(): void {
    this.#windows.flush();
  }

  /** Logs the latest like error with the count; false when there was none. */
  #summarize(seen: Seen<E>): boolean {
    if (seen.latest === undefined || seen.suppressed === 0) return false;
    this.#log({ err: seen.latest, repeated: seen.suppressed }, seen.latest.message);
    return true;
  }
}

const serverLogs = new WeakMap<FastifyInstance, RepeatedErrorLog>();

/**
 * The one RepeatedErrorLog of a server's 5xx errors, for every error handler of its routes (the
 * server's own, and the OTLP routes', which answer in OTLP's shape): an OTLP route logged each
 * of its 500s, a line per request.
 */
export function serverErrorLog(app: FastifyInstance): RepeatedErrorLog {
  let log = serverLogs.get(app);
  if (!log) {
    log = new RepeatedErrorLog((obj, msg) => app.log.error(obj, msg));
    serverLogs.set(app, log);
  }
  return log;
}
