import { Type, type Static } from '@sinclair/typebox';
import { loadServerTls, serverTlsSchema, type ServerTlsConfig } from '../server-tls.ts';

/** bcrypt's modular crypt format: $2a$/$2b$/$2y$, a cost of 04..31, 22 characters of salt and 31 of hash. */
export const BCRYPT_HASH_PATTERN = '^\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}$';
const BCRYPT_HASH = new RegExp(BCRYPT_HASH_PATTERN);

/**
 * The `bcrypt-hash` format of basicUsers' values (config/load.ts registers it). A format rather
 * than a `pattern`, so that the refusal says what to put there (load.ts FORMAT_HINTS) instead of
 * printing the regular expression, and never the value, which may be a password written in
 * place of its hash.
 */
export function isBcryptHash(s: string): boolean {
  return BCRYPT_HASH.test(s);
}

/**
 * `http.auth` — credentials the HTTP listener requires (auth.ts), as Prometheus' web config
 * (`basic_auth_users`, https://prometheus.io/docs/prometheus/latest/configuration/https/) and the
 * OpenTelemetry Collector's basicauth and bearertokenauth extensions take them.
 */
const httpAuthConfigSchema = Type.Object(
  {
    basicUsers: Type.Record(Type.String(), Type.String({ format: 'bcrypt-hash' }), {
      default: {},
      // RFC 7617 §2: the user-id cannot contain a colon (the first one ends it).
      propertyNames: { pattern: '^[^:\\x00-\\x1f\\x7f]+$' },
      description:
        'Users of HTTP basic authentication (RFC 7617): user name → bcrypt hash of the password, as Prometheus\' basic_auth_users. Make a hash with `periscope hash-password` (reads the password on stdin) or `htpasswd -nBC 10 "" | tr -d \':\\n\'`. A successful check is remembered for the process (bcrypt costs 50-100 ms a check), keyed by user, hash and password together.',
    }),
    bearerTokens: Type.Array(Type.String({ minLength: 1, format: 'header-value' }), {
      default: [],
      description:
        'Tokens accepted as `Authorization: Bearer <token>` (RFC 6750), as the OpenTelemetry Collector\'s bearertokenauth; compared in constant time. Give them from a file: `- ${file:/run/secrets/periscope-token}` (its whitespace trimmed). Several: rotate by adding the new one, moving the senders over, removing the old one (a reload applies each change).',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Credentials every request to http.addr must carry, but GET /health, GET /health/ready and /ack/<signed token> (docs/api.md#authentication): either a basic user or a bearer token. Missing or wrong: 401 PERISCOPE_ERR_UNAUTHORIZED with WWW-Authenticate. Unset, or both lists empty: no authentication. Basic auth over plain HTTP sends the password readable by anyone on the path: use it behind TLS or on a trusted network. A reload (SIGHUP, POST /-/reload) applies a change from the next request on. http.healthAddr stays unauthenticated.',
  },
);

/** `http:` — the API/ingest listener. */
export const httpConfigSchema = Type.Object(
  {
    addr: Type.String({ default: '127.0.0.1:4318', format: 'addr', description: 'host:port of the HTTP listener (ingest, query API, console, /metrics). Env PERISCOPE_HTTP_ADDR.' }),
    // A limit below a byte crashed Fastify at start-up; one below a KiB refuses every real batch.
    bodyLimit: Type.String({ default: '16MiB', format: 'bytes', unitMinimum: '1KiB', description: 'Largest request body, counted both compressed and after decompression (413 above it).' }),
    // bodyLimit bounds one request and maxConnections their number, not their product: 100 bodies
    // held open took 2 GB of resident memory (inflight-bytes.ts).
    maxInflightBytes: Type.String({
      default: '256MiB',
      format: 'bytes',
      unitMinimum: '1KiB',
      description:
        'Request bodies held in memory at once, over all requests, counted after decompression from their first byte until they are answered (periscope_http_inflight_bytes). A request that would go over it while others are held is answered 503 PERISCOPE_ERR_OVERLOADED with Retry-After (SDKs and OTLP exporters retry it) and counted in periscope_http_inflight_refused_requests_total, as the OpenTelemetry Collector\'s memory_limiter refuses data; a request alone is never refused by it (a bodyLimit above it still takes its largest bodies, one at a time). Memory for parsing what was received, and for garbage not yet collected, comes on top.',
    }),
    // Node's own default (300 s), which Fastify turns off: a client trickling its body held its
    // connection (and the request's buffers) forever, and enough of them every file descriptor.
    requestTimeout: Type.String({
      default: '5m',
      format: 'duration',
      unitMinimum: '1s',
      description: 'Longest a client may take to send one request, headers and body (408 after it), as Prometheus --web.read-timeout: a client trickling its body cannot hold a connection open forever.',
    }),
    // Node's server takes connections without a bound: a client opening thousands (no keep-alive
    // pooling, a runaway retry loop) took every file descriptor, and exporters, alerting and the
    // store could then open none (EMFILE).
    maxConnections: Type.Integer({
      default: 1000,
      minimum: 1,
      description: 'Concurrent HTTP connections (idle keep-alive ones and live-tail WebSockets included), as Prometheus --web.max-connections: further connections are closed on accept, Kubernetes probes and Prometheus scrapes included (give them http.healthAddr), counted in periscope_http_refused_connections_total and logged (at most once a minute). Keep it and syslog.maxConnections together below the process\'s open-file limit (ulimit -n), leaving about 200 for the data files, worker threads and backend connections.',
    }),
    // At maxConnections the listener closes every new connection, the probes' too: Kubernetes
    // then restarted a busy collector for failing its liveness probe (health-listener.ts).
    healthAddr: Type.Optional(Type.String({
      format: 'addr',
      description:
        'host:port of a second HTTP listener that serves only GET /health, /health/ready, /health/detailed and /metrics, outside http.maxConnections, so that Kubernetes probes and Prometheus scrapes get through when the main listener is full (as the OpenTelemetry Collector\'s health_check extension on 13133). Point livenessProbe, readinessProbe and the scrape at it (docs/deploy.md); keep it where only they reach it: its connections are not bounded. With http.tls it serves https with the same certificate, renewed the same way, but asks for no client certificate even with clientCaFile, since Kubernetes probes cannot present one (give them scheme: HTTPS, which does not verify). Unset: no second listener.',
    })),
    // Without it the collector served only plain HTTP and TLS had to be terminated by a proxy in
    // front, which the SDK's and OTLP exporters' own TLS settings could not reach end to end.
    tls: Type.Optional(serverTlsSchema(
      'TLS on the HTTP listener (https://, wss:// for live tail), as the OpenTelemetry Collector\'s confighttp `tls:` and Prometheus\' tls_server_config: ingest, query API, console and /metrics are then served over https only; a plain HTTP request gets 400. The files are checked at start and by check-config, and read again when they change (a renewed certificate is served from the next connection on, no restart; periscope_tls_certificate_expiry_timestamp_seconds). http.healthAddr follows it (without clientCaFile). Unset: plain HTTP.',
    )),
    allowedHosts: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Host names the HTTP listener answers to besides localhost and IP addresses (a reverse proxy that forwards its public name as Host); "*" answers any. On a loopback http.addr other names get 403 PERISCOPE_ERR_FORBIDDEN_HOST, against DNS rebinding; on other addresses any name is served while the list is empty.',
    }),
    // No authentication was possible: anyone who reached the port could write and read everything.
    auth: Type.Optional(httpAuthConfigSchema),
    idempotencyKeyTtl: Type.String({
      default: '24h',
      format: 'duration',
      unitMinimum: '1m',
      description: 'How long POST /api/v1/logs remembers an Idempotency-Key (the SDK sends one per batch): a retry within it of a request already stored gets the first answer and stores nothing again; a later one is stored as new. Keys are kept in `periscope.db` (about 200 bytes each) and count in store.retention.maxBytes.',
    }),
    parseThreads: Type.Integer({
      default: 1,
      minimum: 0,
      maximum: 64,
      description: 'Worker threads that parse and validate large POST /api/v1/logs bodies, so the ingest thread only writes to the store. 0 parses on the ingest thread; raise it on machines with more than 2 cores.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type HttpConfig = Static<typeof httpConfigSchema>;

/**
 * The problems of http.tls's files (relative paths from `baseDir`, the config file's folder), read
 * when the configuration is loaded so that a missing or wrong file stops the start and
 * check-config with its key, rather than failing every handshake later.
 */
export function httpTlsProblems(http: unknown, baseDir: string): string[] {
  const tls = (http as { tls?: unknown } | undefined)?.tls as Record<string, unknown> | undefined;
  if (typeof tls !== 'object' || tls === null) return [];
  // A file key that is not a string is a schema error of its own.
  if (['certFile', 'keyFile', 'clientCaFile'].some((k) => tls[k] !== undefined && typeof tls[k] !== 'string') || tls.certFile === undefined || tls.keyFile === undefined) return [];
  return loadServerTls(tls as ServerTlsConfig, 'http.tls', baseDir).problems;
}
