/** The messages and trace ids of one committed ingest batch: log ids firstId … firstId + msgs.length - 1. */
export interface IndexBatch {
  firstId: number;
  msgs: string[];
  traceIds: Array<string | null>;
}

/** One row to index. */
export interface IndexRow {
  id: number;
  msg: string | null;
  traceId: string | null;
}

export type NextRows =
  | { rows: IndexRow[] }
  /** The queue does not continue at indexed + 1: read the log for ids in (indexed, before) first. */
  | { readBefore: number };

/**
 * What the ingest thread hands the search indexer (fts-worker.ts) after each commit, so the
 * indexer need not read every message back from the log. Batches may be missing (offers are
 * skipped while the indexer is far behind, and nothing is queued before it starts): `next` then
 * says which ids to read from the log instead. Never yields a row twice or out of order.
 */
export class IndexQueue {
  #batches: IndexBatch[] = [];

  push(batch: IndexBatch): void {
    if (batch.msgs.length > 0) this.#batches.push(batch);
  }

  get length(): number {
    return this.#batches.length;
  }

  /** Up to `max` rows after `indexed`, or the range to read from the log first. */
  next(indexed: number, max: number): NextRows {
    const b = this.#batches;
    while (b.length > 0 && b[0].firstId + b[0].msgs.length - 1 <= indexed) b.shift();
    if (b.length === 0) return { readBefore: Number.POSITIVE_INFINITY };
    if (b[0].firstId > indexed + 1) return { readBefore: b[0].firstId };
    const rows: IndexRow[] = [];
    let expected = indexed + 1;
    while (b.length > 0 && rows.length < max && b[0].firstId <= expected) {
      const { firstId, msgs, traceIds } = b[0];
      let i = expected - firstId;
      for (; i < msgs.length && rows.length < max; i++) rows.push({ id: firstId + i, msg: msgs[i], traceId: traceIds[i] });
      expected = firstId + i;
      if (i < msgs.length) break;
      b.shift();
    }
    return { rows };
  }
}
