import type { Socket } from 'node:net';
import type { Server } from 'node:tls';
import { ERR, errorBody } from '../errors.ts';

/** A TLS connection starts with a handshake record (content type 22, RFC 8446 §5.1). */
const TLS_HANDSHAKE = 0x16;
/** How long a new connection may stay silent before its first byte (a TLS client sends its hello at once). */
const FIRST_BYTE_MS = 10_000;

/**
 * Answers a client that speaks plain HTTP to the TLS listener with a 400 that says so, as Go's
 * net/http does ("Client sent an HTTP request to an HTTPS server."), instead of the silent close
 * OpenSSL's handshake failure gives (curl: "Empty reply from server", the SDK: a bare reset).
 *
 * The TLS server's own 'connection' listeners (the handshake, reloadWhenChanged's check) run once
 * the connection's first bytes are in, and only when the first is a TLS handshake record; those
 * bytes are put back on the socket, which Node's TLSSocket feeds to the handshake before anything
 * read later. Call once, after the server is constructed and its listeners are added.
 */
export function answerPlainHttp(server: Server): void {
  const listeners = server.rawListeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    // Bounded like a handshake: a connection that never sends must not be held forever.
    socket.setTimeout(FIRST_BYTE_MS, () => socket.destroy());
    const lost = () => socket.destroy();
    socket.once('error', lost);
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.off('error', lost);
      if (first[0] === TLS_HANDSHAKE) {
        socket.pause();
        socket.unshift(first);
        for (const listener of listeners) listener.call(server, socket);
        return;
      }
      const body = JSON.stringify(errorBody(ERR.TLS_REQUIRED, 'this listener speaks TLS: use https:// (wss:// for live tail), with the CA of its certificate (http.tls)'));
      socket.on('error', () => {});
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
    });
  });
}
