import { isIP } from 'node:net';

/**
 * DNS rebinding: a page at http://evil.example:4318 whose name the attacker re-points at 127.0.0.1
 * is, to the browser, same-origin with a collector listening on loopback — it could read every log
 * and post alerts. Its requests still carry `Host: evil.example:4318` (scripts cannot set Host).
 * So a collector bound to a loopback address serves only the names that can reach it there:
 * IP literals, `localhost` and `*.localhost` (RFC 6761), and the names of `http.allowedHosts`
 * (a reverse proxy on the same machine that forwards its public name). The check Jupyter, Vite
 * and webpack-dev-server make. A collector bound to another address is reached through names no
 * list could know (Prometheus and Grafana do not check): every Host is served unless
 * `http.allowedHosts` is set, which then applies there too.
 *
 * Returns undefined when every Host is served.
 */
export function hostCheck(bindHost: string, allowedHosts: readonly string[]): ((host: string | undefined) => boolean) | undefined {
  if (allowedHosts.includes('*')) return undefined;
  if (!isLoopback(bindHost) && allowedHosts.length === 0) return undefined;
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  // The answer for the last Host seen: it runs before every request, ingest included, and a
  // sender's Host is the same each time (parsing it as a URL each time was the cost).
  let last: { host: string; ok: boolean } | undefined;
  return (host) => {
    // No Host: HTTP/1.0, not a browser (browsers always send it).
    if (host === undefined) return true;
    if (last?.host === host) return last.ok;
    const name = hostnameOf(host);
    const ok = name !== undefined && (isIP(name.replace(/^\[|\]$/g, '')) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name));
    last = { host, ok };
    return ok;
  };
}

/** The name of a Host header ("Example.com:4318" → "example.com", "[::1]:80" → "[::1]"), or undefined when it is not one. */
function hostnameOf(host: string): string | undefined {
  try {
    const url = new URL(`http://${host.trim()}`);
    return url.username === '' && url.pathname === '/' && url.search === '' ? url.hostname.replace(/\.$/, '') : undefined;
  } catch {
    return undefined;
  }
}

export function isLoopback(bindHost: string): boolean {
  const h = bindHost.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
