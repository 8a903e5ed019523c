import { createServer, type Socket } from 'node:net';

/** A loopback TCP port that was free a moment ago (for servers a test starts on a known port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Sends on `socket` (TCP or TLS, connecting) a POST whose body keeps coming, a byte every 200 ms,
 * but never reaches its Content-Length, until the server closes the connection; resolves what
 * the server answered meanwhile (a slow-body client, against http.requestTimeout).
 */
export async function trickleUntilClosed(socket: Socket): Promise<string> {
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
  socket.on('error', () => {});
  socket.write('POST /api/v1/logs HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000\r\n\r\n{');
  const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
  try {
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  } finally {
    clearInterval(trickle);
  }
  return answer;
}
