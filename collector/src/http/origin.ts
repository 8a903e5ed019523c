/**
 * Whether a browser's Origin names the host the request was sent to (directly or via a proxy).
 * Browsers send Origin with every WebSocket upgrade and every POST/PUT/PATCH/DELETE, cross-site
 * ones included; `Origin: null` (a sandboxed frame, a redirect across sites) is never same-origin.
 */
export function sameOrigin(origin: string, host: string | undefined, forwardedHost: string | string[] | undefined): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // Read each host as a URL of the origin's scheme: lower-cased, and the scheme's default port
  // dropped, as the Origin has it (a proxy may forward `Host: example.com:443`).
  const asOriginHost = (h: string) => {
    try {
      return new URL(`${url.protocol}//${h.trim()}`).host;
    } catch {
      return undefined;
    }
  };
  const forwarded = [forwardedHost ?? []].flat().flatMap((h) => h.split(','));
  return [host, ...forwarded].some((h) => h !== undefined && asOriginHost(h) === url.host);
}
