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
