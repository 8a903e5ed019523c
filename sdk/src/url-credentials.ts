// Credentials written into a URL (`http://user:pass@host`), as Go's HTTP client, curl and Grafana
// take them. fetch refuses such a URL, and a URL ends up in logs and error texts: the credentials
// are taken out of it and sent as Basic auth (RFC 7617) instead. Used by the SDK's log shipper and,
// from here, by the collector's exporters, webhook receivers and its Prometheus client.

export interface UrlCredentials {
  username: string;
  password: string;
}

/** Removes the credentials from `url` (in place) and returns them decoded, as node:http's urlToHttpOptions does; undefined when it has none. */
export function takeUrlCredentials(url: URL): UrlCredentials | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const credentials = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  url.username = '';
  url.password = '';
  return credentials;
}

/** The base64 token of a Basic Authorization header (`Basic <token>`). */
export function basicToken({ username, password }: UrlCredentials): string {
  return Buffer.from(`${username}:${password}`).toString('base64');
}

/**
 * `url` for a warning or an error text, its credentials (`http://user:pass@host`) masked: also a
 * value that does not parse as a URL, which is when it is shown. Everything up to the last "@" is
 * masked, not only up to the first "/", "?" or "#": a password with such a character not
 * percent-encoded (the very reason the URL does not parse) or a value without a scheme
 * (`user:pass@host:4318`) was shown whole.
 */
export function withoutUserinfo(url: string): string {
  const at = url.lastIndexOf('@');
  if (at === -1) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  return `${scheme}***${url.slice(at)}`;
}
