import { boundDeadLetters, countEvicted, deadLetterBound, type DeadLetterStore } from './dead-letter.ts';
import type { ExporterMetrics } from './metrics.ts';

/**
 * An exporter's dead-letter bounds (deadLetter.maxRecords/maxBytes) over its life, the same for
 * log records (Delivery) and spans (SpanExport): held from its start (add() then evicts no more
 * than it adds) until applied in slices once the collector listens (boundDeadLetters), which its
 * shutdown waits for. Its counters of letters filed, evicted and discarded start at 0.
 */
export class DeadLetterBounds {
  readonly #store: DeadLetterStore;
  readonly #metrics: ExporterMetrics;
  readonly #labels: { exporter: string; type: string };
  readonly #max: number | { records: number; bytes: number };
  readonly #logger: { warn(obj: object, msg: string): void };
  readonly #stopped: () => boolean;
  /** The bounds being applied (bound()). */
  #bounding: Promise<void> | undefined;

  constructor(
    deps: { deadLetters: DeadLetterStore; metrics: ExporterMetrics; logger: { warn(obj: object, msg: string): void } },
    labels: { exporter: string; type: string },
    max: number | { records: number; bytes: number },
    stopped: () => boolean,
  ) {
    this.#store = deps.deadLetters;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#labels = labels;
    this.#max = max;
    this.#stopped = stopped;
  }

  /** The dead-letter counters of the exporter at 0, so that rate() sees their first increase. */
  countersAtZero(): void {
    const m = this.#metrics;
    m.deadLettered.inc(this.#labels, 0);
    m.dropped.inc({ ...this.#labels, reason: 'deadletter_full' }, 0);
    for (const reason of ['deleted', 'deadletter_full']) m.discarded.inc({ ...this.#labels, reason }, 0);
  }

  /**
   * At the exporter's start, from its cursor: the discarded positions it passed are forgotten
   * (forgetDiscarded) and the bounds held until bound().
   */
  start(cursor: number): void {
    this.#store.forgetDiscarded(this.#labels.exporter, cursor);
    this.#store.beginTrim(this.#labels.exporter);
  }

  /**
   * Brings the letters kept over the bounds within them, in slices (boundDeadLetters): called once
   * the collector listens, not at start, as it may take seconds. Once; stops when `stopped()`.
   */
  bound(): Promise<void> {
    this.#bounding ??= boundDeadLetters(this.#store, this.#metrics, this.#labels, this.#max, this.#logger, this.#stopped);
    return this.#bounding;
  }

  /**
   * After a replay: the letters it did not deliver, left to it by the bounds while it sent them
   * (DeadLetterStore.claim), are within the bounds again, the oldest beyond deleted and counted
   * as when a letter is filed (dropped and discarded, deadletter_full). A replay sends 1000
   * letters at most: one transaction. Not while bound() is on its way (it takes them too).
   */
  apply(): void {
    const exporter = this.#labels.exporter;
    if (this.#store.trimming(exporter)) return;
    const max = deadLetterBound(this.#max);
    try {
      const { evicted } = this.#store.trim(exporter, max.records, max.bytes, { records: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY });
      countEvicted(this.#metrics, this.#labels, evicted);
    } catch (err) {
      // The next letter filed applies them again; the replay's answer stands.
      this.#logger.warn({ exporter, err: (err as Error).message }, `exporter ${exporter}: applying the dead-letter bounds after a replay failed; the next dead letter applies them`);
    }
  }

  /** For the shutdown: the bounds being applied end at their next slice once `stopped()`. */
  async stopped(): Promise<void> {
    await this.#bounding;
  }
}
