// Signed, expiring acknowledgement links: `<payload>.<signature>`, both base64url, where payload is
// JSON { f: fingerprint, e: episode start (ms), x: expiry (ms) } and signature is
// HMAC-SHA256(secret, "periscope-ack.v1." + payload) (RFC 2104). Compared in constant time.
// The episode binds a link to one firing episode: a link from last week cannot acknowledge the
// alert when it fires again.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface AckClaims {
  fingerprint: string;
  episode: number;
  expiresAt: number;
}

export type AckVerification = { ok: true; claims: AckClaims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired'; claims?: AckClaims };

const DOMAIN = 'periscope-ack.v1.';

function sign(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(DOMAIN + payload).digest('base64url');
}

export function signAckToken(claims: AckClaims, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ f: claims.fingerprint, e: claims.episode, x: claims.expiresAt })).toString('base64url');
  return `${payload}.${sign(payload, secret)}`;
}

export function verifyAckToken(token: string, secret: string, now: number): AckVerification {
  const parts = token.split('.');
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]) || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return { ok: false, reason: 'malformed' };
  const [payload, signature] = parts;
  const expected = Buffer.from(sign(payload, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad_signature' };
  let claims: AckClaims;
  try {
    const raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { f?: unknown; e?: unknown; x?: unknown };
    if (typeof raw.f !== 'string' || typeof raw.e !== 'number' || typeof raw.x !== 'number') return { ok: false, reason: 'malformed' };
    claims = { fingerprint: raw.f, episode: raw.e, expiresAt: raw.x };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired', claims };
  return { ok: true, claims };
}
