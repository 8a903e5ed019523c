// GET /api/v1/deadletter's answer, built by the query thread (store/query-thread.ts) on its
// read-only connection. A page holds up to 1 000 letters or 16 MiB of their records; on the
// ingest thread, reading, parsing and serializing such a page held every POST back for 1–2 s.
// The answer leaves the thread as UTF-8 bytes (transferred, not copied).
import type { DatabaseSync } from 'node:sqlite';
import { PAGE_MAX_CHARS } from '../store/log-reader.ts';
import { countLetters, letterPage, type LetterSelection } from './dead-letter.ts';

/** The letters a page picks (`afterId`: the page cursor, letters with a greater id), and how many at most. */
export type LetterPageQuery = Omit<LetterSelection, 'ids'> & { limit: number };

/** `{ total, items, nextCursor }` as JSON in UTF-8: as a page of the log API, `limit` letters or PAGE_MAX_CHARS of them, whichever comes first. */
export function deadLetterAnswer(db: DatabaseSync, query: LetterPageQuery): Uint8Array {
  const { letters: items, more } = letterPage(db, { ...query, maxChars: PAGE_MAX_CHARS });
  const { afterId: _, limit: __, ...picked } = query;
  const total = countLetters(db, picked);
  return new TextEncoder().encode(JSON.stringify({ total, items, nextCursor: more ? String(items.at(-1)!.id) : null }));
}
