import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { CredentialVerifier, type Verdict } from './credentials.ts';
import { hashPassword } from './hash-password.ts';

// Cost 4: the cheapest bcrypt, a few ms a check; the verifier reads the cost from the hash.
const ALICE = bcrypt.hashSync('right horse', 4);
const BOB = bcrypt.hashSync('battery staple', 4);
const CAROL = bcrypt.hashSync('carol pw', 4);

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A verifier whose bcrypt calls are counted. */
function counted(users: Record<string, string>, options: { cacheSize?: number; maxPendingChecks?: number } = {}) {
  const calls: Array<{ password: string; hash: string }> = [];
  const verifier = new CredentialVerifier({ basicUsers: users, bearerTokens: [] }, {
    ...options,
    compare: (password, hash) => {
      calls.push({ password, hash });
      return bcrypt.compare(password, hash);
    },
  });
  return { verifier, calls };
}

describe('CredentialVerifier: basic users (bcrypt)', () => {
  it('accepts the right password, and the second time from its cache without bcrypt', async () => {
    const { verifier, calls } = counted({ alice: ALICE });
    expect(await verifier.verify(basic('alice', 'right horse'))).toEqual({ ok: true });
    expect(calls).toHaveLength(1);
    // Synchronous: no promise, no bcrypt.
    expect(verifier.verify(basic('alice', 'right horse'))).toEqual({ ok: true });
    expect(calls).toHaveLength(1);
  });

  it.each([
    { name: 'a wrong password', header: basic('alice', 'wrong horse') },
    { name: 'the right password with a suffix', header: basic('alice', 'right horse ') },
    { name: "alice's password for bob", header: basic('bob', 'right horse') },
    { name: 'an unknown user with a known password', header: basic('mallory', 'right horse') },
    { name: 'the user without password', header: basic('alice', '') },
    { name: 'no colon', header: `Basic ${Buffer.from('alice').toString('base64')}` },
    { name: 'not base64', header: 'Basic alice:right horse' },
    { name: 'a bearer token when none is configured', header: 'Bearer right horse' },
    { name: 'another scheme', header: 'Digest username="alice"' },
    { name: 'a scheme alone', header: 'Basic' },
  ])('after a success, refuses $name', async ({ header }) => {
    const { verifier } = counted({ alice: ALICE, bob: BOB });
    expect(await verifier.verify(basic('alice', 'right horse'))).toEqual({ ok: true });
    expect(await verifier.verify(header)).toEqual({ ok: false, reason: 'invalid' });
    // And the success stays a success.
    expect(await verifier.verify(basic('alice', 'right horse'))).toEqual({ ok: true });
  });

  it('refuses a password over 72 bytes that bcrypt alone would take on its first 72', async () => {
    const long = 'x'.repeat(72);
    const hash = bcrypt.hashSync(long, 4);
    expect(bcrypt.compareSync(`${long}more`, hash)).toBe(true); // bcrypt truncates
    const { verifier } = counted({ alice: hash });
    expect(await verifier.verify(basic('alice', long))).toEqual({ ok: true });
    expect(await verifier.verify(basic('alice', `${long}more`))).toEqual({ ok: false, reason: 'invalid' });
  });

  it('runs bcrypt for an unknown user too (against a stand-in hash), so timing does not tell which users exist', async () => {
    const { verifier, calls } = counted({ alice: ALICE });
    expect(await verifier.verify(basic('mallory', 'x'))).toEqual({ ok: false, reason: 'invalid' });
    expect(calls).toHaveLength(1);
    expect(calls[0].hash).toMatch(/^\$2b\$10\$/);
  });

  it('never caches a failure: a wrong password is checked by bcrypt each time', async () => {
    const { verifier, calls } = counted({ alice: ALICE });
    for (let i = 0; i < 3; i++) expect(await verifier.verify(basic('alice', 'wrong'))).toEqual({ ok: false, reason: 'invalid' });
    expect(calls).toHaveLength(3);
    expect(verifier.cached).toBe(0);
  });

  it('keeps at most cacheSize successes, the least recently used going first', async () => {
    const { verifier, calls } = counted({ alice: ALICE, bob: BOB, carol: CAROL }, { cacheSize: 2 });
    await verifier.verify(basic('alice', 'right horse'));
    await verifier.verify(basic('bob', 'battery staple'));
    verifier.verify(basic('alice', 'right horse')); // alice used last: bob goes next
    await verifier.verify(basic('carol', 'carol pw'));
    expect(verifier.cached).toBe(2);
    expect(calls).toHaveLength(3);
    expect(verifier.verify(basic('alice', 'right horse'))).toEqual({ ok: true });
    expect(calls).toHaveLength(3);
    expect(await verifier.verify(basic('bob', 'battery staple'))).toEqual({ ok: true });
    expect(calls).toHaveLength(4); // checked again by bcrypt
    expect(verifier.cached).toBe(2);
  });

  it('a cached success is not one for another hash of the user (a config with a new password)', async () => {
    const first = counted({ alice: ALICE });
    await first.verifier.verify(basic('alice', 'right horse'));
    const changed = new CredentialVerifier({ basicUsers: { alice: bcrypt.hashSync('new pw', 4) }, bearerTokens: [] });
    expect(await changed.verify(basic('alice', 'right horse'))).toEqual({ ok: false, reason: 'invalid' });
    expect(await changed.verify(basic('alice', 'new pw'))).toEqual({ ok: true });
  });

  it('concurrent checks of the same credentials share one bcrypt run; over maxPendingChecks: busy', async () => {
    const releases: Array<() => void> = [];
    const calls: string[] = [];
    const verifier = new CredentialVerifier({ basicUsers: { alice: ALICE, bob: BOB }, bearerTokens: [] }, {
      maxPendingChecks: 1,
      compare: (password, hash) => {
        calls.push(password);
        return new Promise((resolve) => releases.push(() => resolve(bcrypt.compareSync(password, hash))));
      },
    });
    const a1 = verifier.verify(basic('alice', 'right horse'));
    const a2 = verifier.verify(basic('alice', 'right horse'));
    expect(verifier.verify(basic('bob', 'battery staple'))).toEqual({ ok: false, reason: 'busy' });
    expect(calls).toEqual(['right horse']);
    releases[0]();
    expect(await Promise.all([a1, a2])).toEqual([{ ok: true }, { ok: true }]);
    const b = verifier.verify(basic('bob', 'battery staple')) as Promise<Verdict>;
    releases[1]();
    expect(await b).toEqual({ ok: true });
  });

  it('takes a hash made by `periscope hash-password`, and $2y$ hashes as htpasswd -B writes them', async () => {
    const made = await hashPassword('pässwörd', 4);
    const htpasswd = ALICE.replace(/^\$2b\$/, '$2y$');
    const verifier = new CredentialVerifier({ basicUsers: { ünï: made, alice: htpasswd }, bearerTokens: [] });
    expect(await verifier.verify(basic('ünï', 'pässwörd'))).toEqual({ ok: true });
    expect(await verifier.verify(basic('alice', 'right horse'))).toEqual({ ok: true });
  });
});

describe('CredentialVerifier: bearer tokens', () => {
  const verifier = new CredentialVerifier({ basicUsers: {}, bearerTokens: ['old-token-0123456789', 'new-token-abcdefghij'] });

  it.each([
    { name: 'the first token', header: 'Bearer old-token-0123456789', ok: true },
    { name: 'the second token', header: 'Bearer new-token-abcdefghij', ok: true },
    { name: 'the scheme in other case (RFC 9110 §11.1)', header: 'bearer new-token-abcdefghij', ok: true },
    { name: 'a prefix of a token', header: 'Bearer new-token', ok: false },
    { name: 'a token with more after it', header: 'Bearer new-token-abcdefghijk', ok: false },
    { name: 'the two tokens together', header: 'Bearer old-token-0123456789new-token-abcdefghij', ok: false },
    { name: 'the token as basic credentials', header: basic('new-token-abcdefghij', ''), ok: false },
    { name: 'the token without scheme', header: 'new-token-abcdefghij', ok: false },
  ])('$name: ok=$ok', ({ header, ok }) => {
    // Synchronous: no bcrypt for tokens.
    expect(verifier.verify(header)).toEqual(ok ? { ok: true } : { ok: false, reason: 'invalid' });
  });

  it('no header, or an empty one, is missing, not invalid', () => {
    expect(verifier.verify(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(verifier.verify('')).toEqual({ ok: false, reason: 'missing' });
  });

  it('is enabled only with a credential configured', () => {
    expect(verifier.enabled).toBe(true);
    expect(new CredentialVerifier({ basicUsers: {}, bearerTokens: [] }).enabled).toBe(false);
  });
});
