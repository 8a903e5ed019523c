/**
 * Counts event-loop turns (one immediate per turn) from now until stop(): how a test sees that
 * long work on the ingest thread lets other work run between its pieces, without timing it.
 */
export function countLoopTurns(): { readonly count: number; stop(): void } {
  let count = 0;
  let on = true;
  const tick = () => {
    count++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get count() {
      return count;
    },
    stop: () => void (on = false),
  };
}
