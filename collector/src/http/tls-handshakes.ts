import type { Socket } from 'node:net';
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ERR, errorBody } from '../errors.ts';

/** A TLS connection starts with a handshake record (content type 22, RFC 8446 §5.1). */
const TLS_HANDSHAKE = 0x16;
/** How long a new connection may stay silent before its first byte (a TLS client sends its hello at once). */
const FIRST_BYTE_MS = 10_000;

/**
 * The connections of an https listener before their TLS handshake is done:
 *
 *  - A client that speaks plain HTTP gets a 400 that says so, as from Go's net/http ("Client sent
 *    an HTTP request to an HTTPS server."), instead of the silent close OpenSSL's handshake failure
 *    gives (curl: "Empty reply from server", an SDK: a bare reset). The server's own 'connection'
 *    listeners (the handshake, reloadWhenChanged's check) run once the first bytes are in, and
 *    only when the first is a TLS handshake record; those bytes are put back on the socket, which
 *    Node's TLSSocket feeds to the handshake before anything read later.
 *  - One that sends nothing is closed after FIRST_BYTE_MS.
 *  - When the server closes, they are closed with the idle ones (closeIdleConnections, which
 *    Node's server.close() and closeServer call): Node's HTTP server counts a connection only once
 *    its handshake is done, and one stuck in it (Node's handshakeTimeout is 120 s) held the
 *    shutdown past its deadline.
 *
 * Call once, after the server is constructed (its listeners added).
 */
export function guardHandshakes(server: Server): void {
  const listeners = server.rawListeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  // By peer address and port: unique among a listener's open connections, and the same on the
  // TLSSocket that 'secureConnection' gives for it.
  const pending = new Map<string, Socket>();
  const peer = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  server.on('secureConnection', (socket: TLSSocket) => pending.delete(peer(socket)));
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    for (const socket of pending.values()) socket.destroy();
    closeIdle();
  };

  server.on('connection', (socket: Socket) => {
    const id = peer(socket);
    pending.set(id, socket);
    socket.once('close', () => pending.get(id) === socket && pending.delete(id));
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
