import { Type, type Static } from '@sinclair/typebox';

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
        'host:port of a second HTTP listener that serves only GET /health, /health/ready, /health/detailed and /metrics, outside http.maxConnections, so that Kubernetes probes and Prometheus scrapes get through when the main listener is full (as the OpenTelemetry Collector\'s health_check extension on 13133). Point livenessProbe, readinessProbe and the scrape at it (docs/deploy.md); keep it where only they reach it: its connections are not bounded. Unset: no second listener.',
    })),
    allowedHosts: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Host names the HTTP listener answers to besides localhost and IP addresses (a reverse proxy that forwards its public name as Host); "*" answers any. On a loopback http.addr other names get 403 PERISCOPE_ERR_FORBIDDEN_HOST, against DNS rebinding; on other addresses any name is served while the list is empty.',
    }),
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
