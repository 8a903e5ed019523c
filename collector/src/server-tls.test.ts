import { copyFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate, type Server } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCerts, opensslMissing } from '../../test/helpers/tls-certs.ts';
import { loadServerTls, reloadWhenChanged, type ServerTlsConfig } from './server-tls.ts';

const certs = makeTestCerts();
afterAll(() => certs.remove());

/** A TLS echo-less server on the block's options; resolves its port. */
async function listen(tls: ServerTlsConfig): Promise<{ server: Server; port: number }> {
  const { options, problems } = loadServerTls(tls, 'http.tls', certs.dir);
  expect(problems).toEqual([]);
  const server = createServer(options!, (socket) => socket.end('hello'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, port: (server.address() as AddressInfo).port };
}

/** The certificate the server presented, or the handshake's error code. */
function handshake(port: number, client: { cert?: Buffer; key?: Buffer } = {}): Promise<PeerCertificate | string> {
  return new Promise((done) => {
    const socket = connect({ port, host: '127.0.0.1', ca: certs.read(certs.ca), servername: 'localhost', ...client }, () => {
      const peer = socket.getPeerCertificate();
      // TLS 1.3 tells the client of a refused certificate after its handshake: wait for the data.
      socket.once('data', () => {
        socket.destroy();
        done(peer);
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

describe.skipIf(opensslMissing)('a listener\'s tls: block', () => {
  it.each([
    { name: 'a missing certificate file', tls: { certFile: '/nonexistent/cert.pem', keyFile: certs.serverKey }, problem: 'http.tls.certFile: cannot read /nonexistent/cert.pem: no such file' },
    { name: 'a key of another certificate', tls: { certFile: certs.serverCert, keyFile: certs.otherKey }, problem: `http.tls.keyFile: the key in ${certs.otherKey} does not belong to the certificate in ${certs.serverCert} (certFile)` },
    { name: 'a key as the client CA', tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.clientKey }, problem: `http.tls.clientCaFile: ${certs.clientKey} holds no PEM certificate` },
  ])('refused, naming the key and the path: $name', ({ tls, problem }) => {
    const { options, problems } = loadServerTls({ minVersion: 'TLS1.2', ...tls }, 'http.tls', certs.dir);
    expect(options).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(problem)).toBe(true);
  });

  it('with clientCaFile, only a client with a certificate from that CA gets through', async () => {
    const { server, port } = await listen({ certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.ca, minVersion: 'TLS1.2' });
    try {
      expect(typeof (await handshake(port, { cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) }))).toBe('object');
      expect(await handshake(port)).toMatch(/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ECONNRESET/);
    } finally {
      server.close();
    }
  });

  it('a certificate renewed in place is served from the next connection on; a broken renewal keeps the previous one', async () => {
    const certFile = join(certs.dir, 'live.pem');
    const keyFile = join(certs.dir, 'live.key');
    copyFileSync(certs.serverCert, certFile);
    copyFileSync(certs.serverKey, keyFile);
    const tls: ServerTlsConfig = { certFile, keyFile, minVersion: 'TLS1.2' };
    const { server, port } = await listen(tls);
    const reports: string[][] = [];
    reloadWhenChanged(server, tls, 'http.tls', certs.dir, (problems) => reports.push(problems));
    try {
      expect((await handshake(port)) as PeerCertificate).toMatchObject({ subject: { CN: 'localhost' } });

      // Half a renewal: the new certificate is written, its key not yet.
      copyFileSync(certs.namedCert, certFile);
      expect((await handshake(port)) as PeerCertificate).toMatchObject({ subject: { CN: 'localhost' } });
      expect(reports).toHaveLength(1);
      expect(reports[0][0]).toContain('does not belong to the certificate');

      copyFileSync(certs.namedKey, keyFile);
      // The named certificate is for serverAltName only: ask for it by that name.
      const peer = await new Promise<PeerCertificate | string>((done) => {
        const socket = connect({ port, host: '127.0.0.1', ca: certs.read(certs.ca), servername: certs.serverAltName }, () => {
          done(socket.getPeerCertificate());
          socket.destroy();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
      });
      expect(peer).toMatchObject({ subject: { CN: certs.serverAltName } });
      expect(reports.at(-1)).toEqual([]);
    } finally {
      server.close();
      writeFileSync(certFile, '');
    }
  });
});
