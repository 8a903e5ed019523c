// Certificates for TLS tests, made with the openssl CLI in a temporary folder (no key is
// committed): a CA, a server certificate for localhost / 127.0.0.1 (and a name only reachable
// through a server-name override; and a certificate for that name only), a client certificate for mutual TLS, and a second, unrelated
// key pair (a key that does not belong to the client certificate).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The openssl CLI is missing (Debian package "openssl"): the TLS tests are skipped, with the
 * reason, except in CI (CI=true), where that is a failure (DESIGN.md, real components).
 */
export const opensslMissing = spawnSync('openssl', ['version']).error !== undefined;
if (opensslMissing && process.env.CI === 'true') throw new Error('openssl not found: CI must install the Debian package "openssl" (.ci/run)');
if (opensslMissing) console.warn('skipping the TLS tests: openssl not found (Debian package "openssl")');

export interface TestCerts {
  dir: string;
  /** Paths of the PEM files. */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A server certificate for `serverAltName` only (key: namedKey): not valid for 127.0.0.1. */
  namedCert: string;
  namedKey: string;
  clientCert: string;
  clientKey: string;
  otherKey: string;
  /** The name in the server certificate that is neither localhost nor an address. */
  serverAltName: string;
  read(path: string): Buffer;
  remove(): void;
}

/** Makes the files; without openssl (opensslMissing) only their names, for tests that are skipped. */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-tls-'));
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => (opensslMissing ? undefined : execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  const key = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(name));
  key('ca.key');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Periscope Test CA', '-days', '2', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name: string, cn: string, ext: string) => {
    key(`${name}.key`);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
    if (!opensslMissing) writeFileSync(p(`${name}.ext`), ext);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  const serverAltName = 'backend.periscope.test';
  leaf('server', 'localhost', `subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:${serverAltName}\nextendedKeyUsage=serverAuth\n`);
  leaf('named', serverAltName, `subjectAltName=DNS:${serverAltName}\nextendedKeyUsage=serverAuth\n`);
  leaf('client', 'periscope-collector', 'extendedKeyUsage=clientAuth\n');
  key('other.key');
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    namedCert: p('named.pem'),
    namedKey: p('named.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherKey: p('other.key'),
    serverAltName,
    read: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
