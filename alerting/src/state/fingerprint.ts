import { createHash } from 'node:crypto';

/**
 * Stable identity of an alert instance: the first 16 hex digits of SHA-256 over its labels sorted
 * by name (`name\0value\0…`). Same labels → same fingerprint, on every host and across restarts.
 */
export function fingerprint(labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(`${k}\u0000${labels[k]}\u0000`);
  return h.digest('hex').slice(0, 16);
}
