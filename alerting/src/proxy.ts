// Outbound HTTP through a proxy: `proxyUrl`, `noProxy` and `proxyFromEnvironment` of an HTTP
// exporter (collector/src/exporters) or HTTP channel (notify/http-tls.ts), the keys of Prometheus'
// and Alertmanager's http_config (proxy_url, no_proxy, proxy_from_environment,
// https://prometheus.io/docs/prometheus/latest/configuration/configuration/#http_config) in this
// project's camelCase, with their checks.
//
// The proxy is undici's ProxyAgent (https://undici.nodejs.org/#/docs/api/ProxyAgent):
// CONNECT for an https target (TLS to the target inside the tunnel, with the `tls:` block's
// CA and client certificate), a forwarded request for an http one. Credentials in the proxy URL
// are sent as Proxy-Authorization and are secrets: never in a log, an error or a problem.
//
// The environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) is read where the configuration is loaded
// (proxyEnvironment, given the environment) and handed down; nothing here reads process.env.

import { Type } from '@sinclair/typebox';
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import type { buildConnector, Dispatcher, Pool } from 'undici';
import { UNTRUSTED_CA } from './tls.ts';

type PoolOptions = ConstructorParameters<typeof Pool>[1];

/** The proxy keys of an HTTP exporter or channel; `peer`: what it sends to ("the backend", "the receiver"). */
export function proxyProperties(peer: string) {
  return {
    proxyUrl: Type.Optional(
      Type.String({
        minLength: 1,
        description: `http:// or https:// URL of an HTTP proxy the requests to ${peer} go through (CONNECT for an https:// url, with tls: applied to ${peer} inside the tunnel). Credentials in it (http://user:pass@proxy:3128) are sent as Proxy-Authorization and kept out of logs and errors. Prometheus' proxy_url.`,
      }),
    ),
    noProxy: Type.Optional(
      Type.String({
        minLength: 1,
        description: `With proxyUrl: hosts reached directly, comma-separated, as NO_PROXY: a name (also matches its subdomains), .domain or *.domain, host:port, an IP address or CIDR range (10.0.0.0/8, for a URL whose host is an IP address), * for all. Prometheus' no_proxy.`,
      }),
    ),
    proxyFromEnvironment: Type.Boolean({
      default: false,
      description: "Use the collector's HTTP_PROXY, HTTPS_PROXY and NO_PROXY (or http_proxy, https_proxy, no_proxy), as read at start; not with proxyUrl or noProxy. Prometheus' proxy_from_environment.",
    }),
  };
}

export interface ProxyConfig {
  proxyUrl?: string;
  noProxy?: string;
  proxyFromEnvironment?: boolean;
}

/** The proxy variables of the collector's environment ('' when unset). */
export interface ProxyEnvironment {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

export const NO_PROXY_ENVIRONMENT: ProxyEnvironment = { httpProxy: '', httpsProxy: '', noProxy: '' };

/**
 * The variables as curl, Go and undici read them: the lowercase name first. A proxy without a
 * scheme (`HTTPS_PROXY=proxy.corp:3128`, which curl and Go take) is http://: as written, undici
 * refused it with "Invalid URL" and the collector did not start.
 */
export function proxyEnvironment(env: Record<string, string | undefined>): ProxyEnvironment {
  const read = (name: string) => (env[name.toLowerCase()] || env[name.toUpperCase()] || '').trim();
  const proxy = (name: string) => {
    const value = read(name);
    return value && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? `http://${value}` : value;
  };
  return { httpProxy: proxy('http_proxy'), httpsProxy: proxy('https_proxy'), noProxy: read('no_proxy') };
}

/**
 * The proxy URL an exporter's or channel's requests to `target` go through, or undefined when
 * they go directly: no proxy configured, none in the environment for the target's scheme, or the
 * target's host in noProxy (NO_PROXY). Each has one target origin, so this is decided once.
 */
export function proxyFor(config: ProxyConfig, env: ProxyEnvironment, target: string): string | undefined {
  const url = new URL(target);
  const [proxy, noProxy] =
    config.proxyUrl ? [config.proxyUrl, config.noProxy ?? '']
    : config.proxyFromEnvironment ? [url.protocol === 'https:' ? env.httpsProxy : env.httpProxy, env.noProxy]
    : ['', ''];
  if (!proxy || bypassed(noProxy, url)) return undefined;
  return proxy;
}

/**
 * Whether NO_PROXY lists the URL's host, as curl, Go and undici's EnvHttpProxyAgent read it:
 * entries split at commas or spaces; `*` matches every host; `name` and `.name` match the name
 * and its subdomains, `*.name` the subdomains only; `:port` (`[v6]:port`) limits an entry to
 * that port. A CIDR range (`10.0.0.0/8`, `fd00::/8`) matches a URL whose host is an IP address in
 * it, as Go's (Prometheus') no_proxy does; undici compares IP addresses as written only.
 */
export function bypassed(noProxy: string, url: URL): boolean {
  const host = url.hostname.replace(/^\[(.+)\]$/, '$1').replace(/(.)\.$/, '$1').toLowerCase();
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  for (const entry of noProxy.split(/[,\s]/)) {
    if (!entry) continue;
    if (entry.includes('/')) {
      const range = cidr(entry);
      if (range && isIP(host) && range.check(host, isIP(host) === 6 ? 'ipv6' : 'ipv4')) return true;
      continue;
    }
    const v6 = entry.match(/^\[(.+)\]:(\d+)$/);
    const bare = entry.replace(/^\[(.+)\]$/, '$1');
    const withPort = !v6 && (bare.match(/:/g) ?? []).length === 1 ? bare.match(/^(.+):(\d+)$/) : null;
    const name = v6 ? v6[1] : withPort ? withPort[1] : bare;
    const entryPort = Number(v6?.[2] ?? withPort?.[2] ?? 0);
    if (entryPort && entryPort !== port) continue;
    if (name === '*') return true;
    const wildcard = name.startsWith('*');
    const suffix = name.replace(/^\*?\./, '').replace(/(.)\.$/, '$1').toLowerCase();
    if ((!wildcard && host === suffix) || host.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

/** A CIDR range (`10.0.0.0/8`) as node:net's BlockList, or undefined when the entry is not one. */
function cidr(entry: string): BlockList | undefined {
  const [address, bits, rest] = entry.split('/');
  const family = isIP(address);
  const prefix = Number(bits);
  if (rest !== undefined || family === 0 || !/^\d+$/.test(bits ?? '') || prefix > (family === 6 ? 128 : 32)) return undefined;
  const list = new BlockList();
  list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  return list;
}

/** A proxy URL for logs and errors: scheme, host and port, never its credentials. */
export function displayProxy(url: string): string {
  if (!URL.canParse(url)) return '(invalid proxy URL)';
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/**
 * The secrets of a proxy URL for redaction: the password as written and decoded, and
 * `user:password`, whose base64 is the Proxy-Authorization header (Redactor adds base64 forms).
 */
export function proxySecrets(proxy: string | undefined): string[] {
  if (!proxy || !URL.canParse(proxy)) return [];
  const u = new URL(proxy);
  if (!u.username && !u.password) return [];
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  // A user name without a password (http://TOKEN@proxy, as some proxies take an API token) is the secret.
  const alone = u.password ? [] : [u.username, decode(u.username)];
  return [`${decode(u.username)}:${decode(u.password)}`, u.password, decode(u.password), `${u.username}:${u.password}`, ...alone].filter((s) => s.length > 1);
}

/** Marks an error of the connection to the proxy (proxyDispatcher), not to the backend or receiver. */
const PROXY_LEG = Symbol('periscope.proxyLeg');

/**
 * A failed connection to the proxy itself, described: its TLS (an https:// proxyUrl) is not the
 * `tls:` block's, which is for `peer` only, and a hint naming tls.caFile sent operators to the
 * wrong setting.
 */
function proxyConnectionFailure(err: Error, peer: string): string {
  const inner = err.cause instanceof Error && (err as Error & { code?: string }).code === 'UND_ERR_PRX_TLS' ? err.cause : err;
  const code = (inner as NodeJS.ErrnoException).code;
  const message = inner.message.trim().replace(/\s+/g, ' ').slice(0, 200);
  const hint =
    code && UNTRUSTED_CA.has(code) ? `the proxy's certificate is not from a trusted CA; give the collector its CA with NODE_EXTRA_CA_CERTS=<CA file, PEM> (tls.caFile is ${peer}'s)`
    : code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? "the proxy's certificate is not for proxyUrl's host"
    : code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ? 'the proxy does not answer TLS on this port: is proxyUrl http://?'
    : undefined;
  return `connecting to the proxy: ${message}${hint ? ` (${code}: ${hint})` : ''}`;
}

/** `connect`, its errors marked as the proxy's (proxyRefusal tells them from the backend's). */
function markedProxyLeg(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (err) Object.defineProperty(err, PROXY_LEG, { value: true, configurable: true });
      if (err) callback(err, null);
      else callback(null, socket!);
    });
}

/**
 * What a proxy's refusal means, from undici's errors (the error or its cause, as fetch wraps it):
 * a failed connection to the proxy (its TLS, for an https:// proxyUrl), a CONNECT answered with
 * another status than 200 (undici's RequestAbortedError, "request aborted" without this) or a 407
 * to a forwarded request. Undefined for other errors. `peer`: "the backend", "the receiver".
 */
export function proxyRefusal(err: unknown, peer: string): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = (e as Error & { cause?: unknown }).cause, depth++) {
    const tunnel = /^Proxy response \((\d+)\) !== 200 when HTTP Tunneling$/.exec(e.message);
    const status = tunnel ? Number(tunnel[1]) : e.message === 'Proxy Authentication Required (407)' ? 407 : undefined;
    if (status === undefined) {
      if ((e as Error & { [PROXY_LEG]?: boolean })[PROXY_LEG]) return proxyConnectionFailure(e, peer);
      continue;
    }
    const why = status === 407 ? ': proxy authentication required, check the user and password in proxyUrl' : tunnel ? `: it could not open a tunnel to ${peer}` : '';
    return `the proxy answered ${status}${tunnel ? ' to CONNECT' : ''}${why}`;
  }
  return undefined;
}

/**
 * The problems of one exporter's or channel's proxy keys; `key` is its path (`exporters.0`,
 * `alerting.receivers.1.webhook.0`). The URL is never quoted: it may hold a password.
 */
export function proxyProblems(config: Record<string, unknown> | undefined, key: string): string[] {
  const problems: string[] = [];
  if (!config) return problems;
  const { proxyUrl, noProxy, proxyFromEnvironment } = config;
  if (typeof proxyUrl === 'string' && proxyUrl !== '') {
    const problem = proxyUrlProblem(proxyUrl);
    if (problem) problems.push(`${key}.proxyUrl: ${problem}`);
    if (proxyFromEnvironment === true) problems.push(`${key}.proxyFromEnvironment: set with proxyUrl; use one or the other`);
  }
  if (typeof noProxy === 'string') {
    for (const entry of noProxy.split(/[,\s]/)) {
      if (entry.includes('/') && !cidr(entry)) problems.push(`${key}.noProxy: ${JSON.stringify(entry)} is not a CIDR range (10.0.0.0/8, fd00::/8)`);
    }
  }
  if (typeof noProxy === 'string' && noProxy !== '' && !(typeof proxyUrl === 'string' && proxyUrl !== '')) {
    problems.push(
      proxyFromEnvironment === true ? `${key}.noProxy: set with proxyFromEnvironment, which takes NO_PROXY from the environment; remove noProxy or set proxyUrl` : `${key}.noProxy: set without proxyUrl; it lists the hosts proxyUrl is not used for`,
    );
  }
  return problems;
}

/** What is wrong with a proxy URL, never quoting it (it may hold a password); undefined when usable. */
function proxyUrlProblem(proxyUrl: string): string | undefined {
  const u = URL.canParse(proxyUrl) ? new URL(proxyUrl) : undefined;
  if (u && /^https?:$/.test(u.protocol) && u.hostname !== '') return undefined;
  // `proxy:3128` parses as the scheme "proxy:": the scheme left out, not another one.
  const why = !/^[a-z][a-z0-9+.-]*:\/\//i.test(proxyUrl) ? '; the scheme is missing (http://)' : u && !/^https?:$/.test(u.protocol) ? `; the scheme ${u.protocol.slice(0, -1)} is not supported` : '';
  return `not an http:// or https:// URL of a proxy (http://[user:password@]host:port)${why}`;
}

/**
 * The problem of an exporter's or channel's proxyFromEnvironment when the variable its URL would
 * use holds no usable proxy URL (`socks5://…`, `http://[bad`): a config error naming the key and
 * the variable, never its value. Unchecked, undici threw "Invalid URL" while the collector
 * started, naming neither.
 */
export function proxyEnvironmentProblem(config: Record<string, unknown> | undefined, url: unknown, env: ProxyEnvironment, key: string): string | undefined {
  if (config?.proxyFromEnvironment !== true || typeof config.proxyUrl === 'string' || typeof url !== 'string' || !URL.canParse(url)) return undefined;
  const https = new URL(url).protocol === 'https:';
  const [name, value] = https ? ['HTTPS_PROXY', env.httpsProxy] : ['HTTP_PROXY', env.httpProxy];
  const problem = value ? proxyUrlProblem(value) : undefined;
  return problem && `${key}.proxyFromEnvironment: the environment's ${name} (or ${name.toLowerCase()}) is ${problem}`;
}

/**
 * The pool of its own of an exporter or HTTP channel with `tls:` or proxy keys: through `proxy`
 * when it has one, else directly (undici's Agent; not the global pool, which Node sends to a proxy
 * under NODE_USE_ENV_PROXY=1). `connect`: its tls: connector (tls.ts tlsConnector).
 */
export function ownDispatcher(proxy: string | undefined, connect?: buildConnector.connector): Dispatcher {
  if (proxy) return proxyDispatcher(proxy, connect);
  // Required here: undici is loaded by the exporters and channels that need it, not by every start.
  const { Agent } = createRequire(import.meta.url)('undici') as typeof import('undici');
  return new Agent({ connect });
}

/**
 * A connection pool that sends through `proxy` (undici's ProxyAgent). `tlsConnect`, given for a
 * target with `tls:`, makes the TLS connection to the target over the tunnel's socket.
 *
 * ProxyAgent applies its own requestTls inside the tunnel, fixed when it is built; the pools it
 * makes (its `factory`) are given a connect that asks it for the tunnel only (as for an http://
 * target) and hands the socket to `tlsConnect`, which reads the tls: files again when they change
 * (tls.ts), as without a proxy. The errors of the connection to the proxy (the tunnel, or the
 * forwarding pool's) are marked as the proxy's, for proxyRefusal.
 */
export function proxyDispatcher(proxy: string, tlsConnect?: buildConnector.connector): Dispatcher {
  // Required here: undici is loaded by the exporters and channels that need it, not by every start.
  const { ProxyAgent, Pool, buildConnector } = createRequire(import.meta.url)('undici') as typeof import('undici');
  const toTarget = tlsConnect ?? buildConnector({});
  const proxyOrigin = new URL(proxy).origin;
  return new ProxyAgent({
    uri: proxy,
    factory: (origin, opts) => {
      const given = (opts as { connect?: unknown }).connect;
      if (typeof given !== 'function') return new Pool(origin, opts as PoolOptions);
      // A forwarded request's (http:// target) pool connects to the proxy only.
      if (new URL(origin).origin === proxyOrigin) return new Pool(origin, { ...(opts as PoolOptions), connect: markedProxyLeg(given as buildConnector.connector) });
      const tunnel = markedProxyLeg(given as buildConnector.connector);
      const connect: buildConnector.connector = (connectOptions, callback) => {
        if (connectOptions.protocol !== 'https:') return tunnel(connectOptions, callback);
        // As http:, the tunnel would be asked for port 80 when the URL has none.
        const port = connectOptions.port || '443';
        const host = connectOptions.port ? connectOptions.host : `${connectOptions.host}:443`;
        tunnel({ ...connectOptions, protocol: 'http:', host, port }, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error('the proxy gave no tunnel'), null);
          toTarget({ ...connectOptions, httpSocket: socket } as buildConnector.Options, callback);
        });
      };
      return new Pool(origin, { ...(opts as PoolOptions), connect });
    },
  });
}
