import { describe, expect, it } from 'vitest';
import { signAckToken, verifyAckToken } from './token.ts';

const SECRET = 'x'.repeat(40);
const claims = { fingerprint: 'abc123', episode: 1_700_000_000_000, expiresAt: 1_700_000_600_000 };
const token = signAckToken(claims, SECRET);

function flip(s: string, i: number): string {
  const c = s[i] === 'A' ? 'B' : 'A';
  return s.slice(0, i) + c + s.slice(i + 1);
}

describe('ack tokens (HMAC-SHA256, expiring)', () => {
  it.each([
    { name: 'valid before expiry', token, secret: SECRET, now: claims.expiresAt - 1, want: { ok: true } },
    { name: 'expired at expiry', token, secret: SECRET, now: claims.expiresAt, want: { ok: false, reason: 'expired' } },
    { name: 'other secret', token, secret: 'y'.repeat(40), now: 0, want: { ok: false, reason: 'bad_signature' } },
    { name: 'payload tampered', token: flip(token, 3), secret: SECRET, now: 0, want: { ok: false, reason: 'bad_signature' } },
    { name: 'signature tampered', token: flip(token, token.length - 2), secret: SECRET, now: 0, want: { ok: false, reason: 'bad_signature' } },
    {
      name: 'expiry extended by the holder',
      token: `${Buffer.from(JSON.stringify({ f: 'abc123', e: claims.episode, x: claims.expiresAt * 2 })).toString('base64url')}.${token.split('.')[1]}`,
      secret: SECRET,
      now: 0,
      want: { ok: false, reason: 'bad_signature' },
    },
    { name: 'no signature', token: token.split('.')[0], secret: SECRET, now: 0, want: { ok: false, reason: 'malformed' } },
    { name: 'garbage', token: 'not a token!', secret: SECRET, now: 0, want: { ok: false, reason: 'malformed' } },
    { name: 'empty', token: '', secret: SECRET, now: 0, want: { ok: false, reason: 'malformed' } },
  ])('$name', ({ token: tok, secret, now, want }) => {
    expect(verifyAckToken(tok, secret, now)).toMatchObject(want);
  });

  it('carries the fingerprint, episode and expiry', () => {
    expect(verifyAckToken(token, SECRET, 0)).toEqual({ ok: true, claims });
  });
});
