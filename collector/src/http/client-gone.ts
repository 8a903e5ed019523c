import type { FastifyReply } from 'fastify';

/**
 * A signal aborted when the connection closes before the answer was sent in full: the client
 * gave up (a browser tab closed, the console's search edited, a timeout of Grafana's), so the
 * work of the answer can stop (store-queries.ts cancels the query). The response's 'close' comes
 * after a complete answer too, then with writableFinished set.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
