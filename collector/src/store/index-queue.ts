import { traceIndexToken } from './fts-schema.ts';

/**
 * What the search index stores of consecutive records: their messages and their trace ids as
 * text, one line per record that has one (so words never run across records), with each
 * record's end offset so that any run of them can be sliced out. It is built where records are
 * parsed (log-batch.ts) and crosses threads as four values per batch instead of two strings per
 * record: the search indexer holds a batch for up to its interval, long enough for a string per
 * record to be copied by the young-generation GC and promoted (`--trace-gc-nvp`: ~160 MB
 * promoted in 8 s of full-speed ingest).
 */
export interface IndexText {
  msgs: string;
  /** msgEnds[i]: where record i's line ends in msgs (the previous end when it has no message). */
  msgEnds: number[];
  traceIds: string;
  traceEnds: number[];
}

export function emptyIndexText(): IndexText {
  return { msgs: '', msgEnds: [], traceIds: '', traceEnds: [] };
}

/** Adds one record (its msg and trace id's index term, either possibly empty) to the end of `text`. */
export function appendIndexText(text: IndexText, msg: string | null | undefined, traceId: string | null | undefined): void {
  if (msg) text.msgs += `${msg}\n`;
  text.msgEnds.push(text.msgs.length);
  if (traceId) text.traceIds += `${traceIndexToken(traceId)}\n`;
  text.traceEnds.push(text.traceIds.length);
}

/** The lines of records [from, to) of `text`. */
export function sliceIndexText(text: IndexText, from: number, to: number): { msgs: string; traceIds: string } {
  const msgStart = from === 0 ? 0 : text.msgEnds[from - 1];
  const traceStart = from === 0 ? 0 : text.traceEnds[from - 1];
  return { msgs: text.msgs.slice(msgStart, text.msgEnds[to - 1]), traceIds: text.traceIds.slice(traceStart, text.traceEnds[to - 1]) };
}

/** The index text of one committed ingest batch: log ids firstId … firstId + text.msgEnds.length - 1. */
export interface IndexBatch {
  firstId: number;
  text: IndexText;
}

/** Records [from, to) of a batch: log ids firstId + from … firstId + to - 1. */
export interface IndexRun {
  firstId: number;
  text: IndexText;
  from: number;
  to: number;
}

export type NextRuns =
  | { runs: IndexRun[] }
  /** The queue does not continue at indexed + 1: read the log for ids in (indexed, before) first. */
  | { readBefore: number };

const countOf = (b: IndexBatch) => b.text.msgEnds.length;

/**
 * What the ingest thread hands the search indexer (fts-worker.ts) after each commit, so the
 * indexer need not read every message back from the log. Batches may be missing (offers are
 * skipped while the indexer is far behind, and nothing is queued before it starts): `next` then
 * says which ids to read from the log instead. Never yields a record twice or out of order.
 */
export class IndexQueue {
  #batches: IndexBatch[] = [];

  push(batch: IndexBatch): void {
    if (countOf(batch) > 0) this.#batches.push(batch);
  }

  get length(): number {
    return this.#batches.length;
  }

  /** Runs of up to `max` records in all, after `indexed`, or the range to read from the log first. */
  next(indexed: number, max: number): NextRuns {
    const b = this.#batches;
    while (b.length > 0 && b[0].firstId + countOf(b[0]) - 1 <= indexed) b.shift();
    if (b.length === 0) return { readBefore: Number.POSITIVE_INFINITY };
    if (b[0].firstId > indexed + 1) return { readBefore: b[0].firstId };
    const runs: IndexRun[] = [];
    let expected = indexed + 1;
    let left = max;
    while (b.length > 0 && left > 0 && b[0].firstId <= expected) {
      const { firstId, text } = b[0];
      const from = expected - firstId;
      const to = Math.min(countOf(b[0]), from + left);
      runs.push({ firstId, text, from, to });
      left -= to - from;
      expected = firstId + to;
      if (to < countOf(b[0])) break;
      b.shift();
    }
    return { runs };
  }
}
