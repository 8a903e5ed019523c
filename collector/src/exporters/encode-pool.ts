import { Piscina } from 'piscina';
import type { EncodeOutcome, EncodeTask } from './encode-worker.ts';
import type { SinkRecipe, StoredItem } from './sink.ts';

/**
 * Encodes an exporter's batches in worker threads (https://github.com/piscinajs/piscina): parsing
 * the stored bodies, the sink's check, mapping and encoding (and for Loki snappy compression) are
 * most of an exporter's CPU per record, and on the ingest thread they would take turns with
 * ingest. The ingest thread only reads the log and sends. One pool per exporter, so one
 * exporter's backlog never queues another's batches.
 */
export class EncodePool {
  readonly #pool: Piscina;
  readonly #key: string;
  readonly #recipe: SinkRecipe;

  constructor(key: string, recipe: SinkRecipe, threads: number) {
    this.#key = key;
    this.#recipe = recipe;
    // One thread always; the others only while batches queue for encoding (a backlog, or live
    // delivery at high rates), ended after a minute idle: each costs ~35 MiB.
    this.#pool = new Piscina({ filename: new URL('./encode-worker.ts', import.meta.url).href, minThreads: 1, maxThreads: threads, idleTimeout: 60_000 });
  }

  encode(items: StoredItem[]): Promise<EncodeOutcome> {
    const task: EncodeTask = { key: this.#key, recipe: this.#recipe, ids: [], micros: [], bodies: [] };
    for (const item of items) {
      task.ids.push(item.id);
      task.micros.push(item.micros);
      task.bodies.push(item.body);
    }
    return this.#pool.run(task) as Promise<EncodeOutcome>;
  }

  async close(): Promise<void> {
    await this.#pool.close({ force: true });
  }
}
