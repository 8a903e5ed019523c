import type { KeyValue } from '../store/database.ts';
import type { Logger } from './sink.ts';

/**
 * Persists an exporter's cursor (KeyValue `exporter:<name>:cursor`). When the write fails (a full
 * disk), the exporter goes on from its cursor in memory and the next move saves it: a crash
 * meanwhile sends again from the saved one (at-least-once, as always). Thrown, the failure
 * restarted the exporter's loop after a second at every batch: a full disk slowed every exporter
 * to a batch a second, and logged an error a second. The failure is logged once, and its end.
 */
export class SavedCursor {
  readonly #kv: KeyValue;
  readonly #exporter: string;
  readonly #logger: Logger;
  readonly #key: string;
  /** The last write failed. */
  #unsaved = false;

  constructor(kv: KeyValue, exporter: string, logger: Logger) {
    this.#kv = kv;
    this.#exporter = exporter;
    this.#logger = logger;
    this.#key = `exporter:${exporter}:cursor`;
  }

  /** The saved cursor, or undefined before the exporter's first start. */
  load(): number | undefined {
    const saved = this.#kv.get(this.#key);
    return saved === undefined ? undefined : Number(saved);
  }

  /**
   * Saves the first cursor of a new exporter. It throws on failure: a crash before the first
   * batch must not move the start, so the exporter must not start without it.
   */
  init(cursor: number): void {
    this.#kv.set(this.#key, String(cursor));
  }

  save(cursor: number): void {
    try {
      this.#kv.set(this.#key, String(cursor));
      if (this.#unsaved) this.#logger.info({ exporter: this.#exporter, cursor }, `exporter ${this.#exporter}: cursor saved again`);
      this.#unsaved = false;
    } catch (err) {
      if (!this.#unsaved) {
        this.#logger.warn({ exporter: this.#exporter, err: (err as Error).message }, `exporter ${this.#exporter}: cannot save its cursor; delivering on, and saving it at the next batch (after a crash meanwhile, the batches since the last save are sent again)`);
      }
      this.#unsaved = true;
    }
  }
}
