import { elapsedNow } from './elapsed.ts';

/**
 * When each durable-log position was accepted, for "oldest unsent age" and the `maxAge` bound.
 * The log stores the record's own timestamp, not its arrival time (a replayed or delayed record
 * is old the moment it arrives), so arrival is tracked here: one entry per `resolutionMs` of
 * ingest, each saying "ids up to `lastId` were accepted by `at`". Ages are therefore exact to
 * `resolutionMs`. Records accepted before this process started get the start time: their age is
 * under-estimated, never over-estimated, so no bound ever fires early because of a restart.
 */
export class AcceptTimes {
  readonly #resolutionMs: number;
  readonly #now: () => number;
  /** Ascending by lastId and by time. Entry i covers ids (entry[i-1].lastId, entry[i].lastId]. */
  #lastIds: number[] = [];
  #times: number[] = [];
  #start = 0;

  constructor(lastIdAtStart: number, options: { now?: () => number; resolutionMs?: number } = {}) {
    this.#now = options.now ?? elapsedNow;
    this.#resolutionMs = options.resolutionMs ?? 250;
    if (lastIdAtStart > 0) this.#push(lastIdAtStart, this.#now());
  }

  /** Ids up to `lastId` have just been committed. */
  accepted(lastId: number): void {
    const n = this.#lastIds.length;
    if (n > this.#start && this.#now() - this.#times[n - 1] < this.#resolutionMs) {
      // Same time slot: extend the newest entry (keeps its earlier time: ages err on the old side by < resolution).
      if (lastId > this.#lastIds[n - 1]) this.#lastIds[n - 1] = lastId;
      return;
    }
    this.#push(lastId, this.#now());
  }

  #push(lastId: number, at: number): void {
    this.#lastIds.push(lastId);
    this.#times.push(at);
  }

  /** Entries in memory, forgotten ones not yet compacted away included (tests check they stay bounded). */
  get entries(): number {
    return this.#lastIds.length;
  }

  /** When the record at `id` was accepted; undefined when unknown (not yet accepted, or forgotten). */
  at(id: number): number | undefined {
    let lo = this.#start;
    let hi = this.#lastIds.length - 1;
    if (hi < lo || id > this.#lastIds[hi]) return undefined;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#lastIds[mid] >= id) hi = mid;
      else lo = mid + 1;
    }
    return this.#times[lo];
  }

  /** The highest id accepted before `time` (0 when none). */
  lastIdBefore(time: number): number {
    // First entry at or after `time`; everything before it was accepted before `time`.
    let lo = this.#start;
    let hi = this.#lastIds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#times[mid] < time) lo = mid + 1;
      else hi = mid;
    }
    return lo > this.#start ? this.#lastIds[lo - 1] : 0;
  }

  /** Forgets entries that only cover ids <= `id` (every reader is past them). */
  forgetThrough(id: number): void {
    while (this.#start < this.#lastIds.length - 1 && this.#lastIds[this.#start] <= id) this.#start++;
    if (this.#start > 1024 && this.#start * 2 > this.#lastIds.length) {
      this.#lastIds = this.#lastIds.slice(this.#start);
      this.#times = this.#times.slice(this.#start);
      this.#start = 0;
    }
  }
}
