/** A distinct error (code and message) is logged at most once per this interval. */
export const REPEAT_LOG_MS = 60_000;
/** Distinct errors remembered; past this the longest-remembered is forgotten. */
const MAX_REMEMBERED = 100;

/**
 * What is logged: an Error, or any value with a message and an optional code. Errors are told
 * apart by code and message, or by `key` when given (messages that hold varying values).
 */
type Loggable = { message: string; code?: unknown; key?: string };
type ErrorLogger<E extends Loggable> = (obj: { err: E; repeated?: number }, msg: string) => void;

/**
 * Logs the errors behind 5xx answers, each distinct one at most once per REPEAT_LOG_MS. A full
 * disk or a dead thread fails every request the same way: a stack trace per request buried the
 * log (and cost CPU) while saying nothing new. The next line after a quiet interval says how
 * many like it were not logged (`repeated`).
 */
export class RepeatedErrorLog<E extends Loggable = Error> {
  readonly #log: ErrorLogger<E>;
  readonly #now: () => number;
  readonly #seen = new Map<string, { at: number; suppressed: number }>();

  constructor(log: ErrorLogger<E>, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  log(err: E): void {
    const key = err.key ?? `${String(err.code ?? '')}\n${err.message}`;
    const now = this.#now();
    const seen = this.#seen.get(key);
    if (seen && now - seen.at < REPEAT_LOG_MS) {
      seen.suppressed++;
      return;
    }
    this.#log(seen?.suppressed ? { err, repeated: seen.suppressed } : { err }, err.message);
    this.#seen.delete(key); // re-inserted last: the map's order is the order of logging
    this.#seen.set(key, { at: now, suppressed: 0 });
    if (this.#seen.size > MAX_REMEMBERED) this.#seen.delete(this.#seen.keys().next().value!);
  }
}
