import { Type, type Static } from '@sinclair/typebox';

/** `http:` — the API/ingest listener. */
export const httpConfigSchema = Type.Object(
  {
    /** host:port; env PERISCOPE_HTTP_ADDR. */
    addr: Type.String({ default: '127.0.0.1:4318', format: 'addr' }),
    /** Largest request body, compressed and after decompression. */
    bodyLimit: Type.String({ default: '16MiB', format: 'bytes' }),
  },
  { additionalProperties: false, default: {} },
);
export type HttpConfig = Static<typeof httpConfigSchema>;
