import { Piscina } from 'piscina';
import { parseLogBatch, type ParsedLogs } from './parse.ts';

/**
 * Bodies below this size are parsed on the ingest thread: a worker round trip costs more than
 * parsing a few records, and single-record requests keep their latency.
 */
const INLINE_BYTES = 32 * 1024;

/**
 * Parses native log bodies in worker threads (https://github.com/piscinajs/piscina), so the
 * ingest thread only writes to the store: with one worker, parsing and normalising (about half
 * of the per-record CPU) run on the second core. `threads: 0` parses everything inline.
 */
export class ParsePool {
  readonly #pool: Piscina | undefined;

  constructor(threads: number) {
    this.#pool = threads > 0
      ? new Piscina({ filename: new URL('./parse-worker.ts', import.meta.url).href, minThreads: threads, maxThreads: threads, idleTimeout: Infinity })
      : undefined;
  }

  parse(contentType: string, body: Uint8Array, nowMs: number): ParsedLogs | Promise<ParsedLogs> {
    if (!this.#pool || body.byteLength < INLINE_BYTES) return parseLogBatch(contentType, body, nowMs);
    return this.#pool.run({ contentType, body, nowMs }) as Promise<ParsedLogs>;
  }

  async close(): Promise<void> {
    await this.#pool?.close({ force: true });
  }
}
