import { Type, type Static } from '@sinclair/typebox';

/** `store:` — the embedded SQLite store that is also the durable log. */
export const storeConfigSchema = Type.Object(
  {
    /** Folder of the database files; env PERISCOPE_DATA_DIR. */
    dataDir: Type.String({ default: './data' }),
    /**
     * SQLite `synchronous` in WAL mode. `normal`: a committed batch survives a crash or kill -9
     * of the collector (it is in the WAL file), and may be lost only if the OS/power fails.
     * `full`: also survives power loss, at a large cost in ingest rate.
     * https://www.sqlite.org/pragma.html#pragma_synchronous
     */
    synchronous: Type.Union([Type.Literal('normal'), Type.Literal('full')], { default: 'normal' }),
    retention: Type.Object(
      {
        /** Records older than this are deleted. */
        maxAge: Type.String({ default: '7d', format: 'duration' }),
        /** Oldest records are deleted while the live data exceeds this. */
        maxBytes: Type.String({ default: '10GiB', format: 'bytes' }),
        /** node-cron expression for the retention run. */
        schedule: Type.String({ default: '*/1 * * * *', format: 'cron' }),
      },
      { additionalProperties: false, default: {} },
    ),
    search: Type.Object(
      {
        /** Full-text index (q=) is built behind ingest on this period, off the acknowledgement path. */
        indexInterval: Type.String({ default: '200ms', format: 'duration' }),
        indexBatch: Type.Integer({ default: 20000, minimum: 100 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type StoreConfig = Static<typeof storeConfigSchema>;
