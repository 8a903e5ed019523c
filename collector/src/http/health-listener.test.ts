import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeServer, createHealthListener, listenServer } from './health-listener.ts';
import { createHttpServer } from './server.ts';

describe('health listener (http.healthAddr)', () => {
  // net.Server emits an accept failure (EMFILE at the open-file limit, which a full main listener
  // brings near) as 'error' on the listening server: with no listener, an uncaught exception.
  it('an accept error after it listens does not throw, and the probes are still answered', async () => {
    const app = createHttpServer({ bodyLimit: 1024, logLevel: 'silent' });
    app.get('/health', async () => ({ status: 'ok' }));
    await app.ready();
    const server = createHealthListener(app);
    await listenServer(server, '127.0.0.1', 0);
    try {
      const accept = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
      expect(() => server.emit('error', accept)).not.toThrow();
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
      expect(res.status).toBe(200);
    } finally {
      await closeServer(server, 100);
      await app.close();
    }
  });
});
