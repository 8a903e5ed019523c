import { expect } from 'vitest';

/**
 * A stand-in for a query-thread call (StoreQueries) held until the test answers: `asked` resolves
 * with the call's argument once the route made it; `answer(body)` lets the call return the body's
 * UTF-8 bytes. The barrier of the tests that check that a route waits for the query thread while
 * the ingest thread answers other requests.
 */
export function heldQuery<Q>(): { call: (query: Q) => Promise<Uint8Array>; asked: Promise<Q>; answer: (body: string) => void } {
  let ask!: (query: Q) => void;
  const asked = new Promise<Q>((resolve) => (ask = resolve));
  let reply!: (bytes: Uint8Array) => void;
  return {
    call: (query) => {
      ask(query);
      return new Promise((resolve) => (reply = resolve));
    },
    asked,
    answer: (body) => reply(new TextEncoder().encode(body)),
  };
}

/**
 * Lets the held call return `body` and checks that the route, `read` being its answer, sends
 * those bytes as they are, as JSON.
 */
export async function expectBodyPassedOn(held: { answer: (body: string) => void }, read: Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>, body: string): Promise<void> {
  held.answer(body);
  const res = await read;
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.body).toBe(body);
}
