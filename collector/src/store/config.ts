import { Type, type Static } from '@sinclair/typebox';

/** `store:` — the embedded SQLite store that is also the durable log. */
export const storeConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: './data', minLength: 1, description: 'Folder of the database files; a relative path is taken from the working directory the collector starts in, not from the config file\'s folder. Env PERISCOPE_DATA_DIR.' }),
    synchronous: Type.Union([Type.Literal('normal'), Type.Literal('full')], {
      default: 'normal',
      description:
        'SQLite synchronous mode (WAL). normal: an acknowledged batch survives a crash or kill -9 of the collector; only an OS crash or power loss can lose the last commits. full: also survives power loss, at a large cost in ingest rate.',
    }),
    retention: Type.Object(
      {
        maxAge: Type.String({ default: '7d', format: 'duration', unitMinimum: '1m', description: 'Records whose timestamp (its own, not when it arrived) is older than this are deleted, except the newest record: it holds the last log position, which must never be given out again. So a record that arrives already dated older (a backlog, a host whose clock is behind) goes at the next run unless an exporter with queue.policy backpressure has yet to send it, and one dated ahead (a host whose clock is ahead) stays until its own date is this old.' }),
        maxBytes: Type.String({ default: '10GiB', format: 'bytes', unitMinimum: '1MiB', description: 'The oldest records by timestamp (a record dated ahead last) are deleted while the live data is larger than this: the pages in use in `periscope.db`: records, spans, dead letters and idempotency keys (about 200 bytes per POST /api/v1/logs that sent one, kept for http.idempotencyKeyTtl: the SDK sends one per batch, up to one a second per app), so keys and dead letters (at most deadLetter.maxBytes per exporter) leave less room for records. Metrics are held in memory, not here. Applied at each retention run (schedule): in between, the data grows by what arrives (at 25 k records/s and the default schedule, about 180 MB). Not counted: its write-ahead log `periscope.db-wal` (it grows with the largest transaction, a retention run deleting much at once may take a few hundred MB, and is cut back to 64 MiB once it starts over) and the search index `periscope-fts.db` (pruned as records go); leave room for all of it. Records that arrive out of timestamp order leave half-empty pages behind when deleted, so fewer records fit in the same bound.' }),
        schedule: Type.String({ default: '*/1 * * * *', format: 'cron', description: 'When retention runs (node-cron expression, seconds field optional).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    queryTimeout: Type.String({
      default: '1m',
      format: 'duration',
      unitMinimum: '1s',
      description:
        'Longest a query (log search, export page, stats, trace search, a trace read, a dead-letter page, a log alert rule\'s count) may run; past it the query fails with 503 PERISCOPE_ERR_QUERY_TIMEOUT and is stopped, so the queries behind it (they run in store.queryThreads threads of their own; log alert rules in another) need not wait for it. As Loki\'s query_timeout.',
    }),
    queryThreads: Type.Integer({
      default: 2,
      minimum: 1,
      maximum: 16,
      description:
        'Threads, at most, answering the API\'s queries (log search, export pages, stats, trace search), each on a read-only connection of its own: a query goes to an idle one, so a short query does not wait for a long one unless all are busy. The second starts at the first query that finds the first busy; each costs about 30 MB. Log alert rules count in a thread of their own besides these.',
    }),
    search: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'Build the full-text index behind q= and traceId=. Turn it off on a collector that only forwards to backends that do the searching (Loki, Elasticsearch): indexing is about a tenth of the CPU per record. Queries then read the stored records in the time range instead, as Loki does: q= matches words in msg case-insensitively, the way live tail does, and both get slow on a large range (log alert rules with q or traceId read every record of their window at each evaluation; the collector logs a warning for each). Turned on again, the index catches up with the records stored meanwhile in the background (searchIndex.lag in /health/detailed).',
        }),
        indexInterval: Type.String({ default: '200ms', format: 'duration', unitMinimum: '10ms', description: 'How often the search index (q=, and the trace ids behind traceId=) catches up with ingest; it is built in a worker thread, off the acknowledgement path. An index written by an earlier version (an entry per record) is rebuilt from the log at start-up; meanwhile q= and traceId= read the records not indexed yet.' }),
        indexBatch: Type.Integer({ default: 20000, minimum: 100, description: 'Records indexed per index transaction.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type StoreConfig = Static<typeof storeConfigSchema>;
