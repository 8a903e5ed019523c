// A Loki push endpoint for tests: POST /loki/api/v1/push as documented
// (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs), enforcing Loki's
// validation with its error texts (pkg/validation/validate.go) and its partial-acceptance
// behaviour: every valid entry of a request is stored even when the answer is 400 for the others.
//  - bodies: protobuf logproto.PushRequest + snappy (read with its own copy of push.proto's field
//    numbers, independent of the exporter's code), or JSON (optionally gzip);
//  - 400: unparsable labels / bad label names, no labels, too many label names, label name or
//    value too long, duplicate label names, line too long, timestamp too old / too new,
//    structured metadata disallowed / too large / too many; an entry older than its stream's
//    newest minus the out-of-order window (max_chunk_age / 2, 1h by default: "entry too far
//    behind", https://grafana.com/docs/loki/latest/configure/#accept-out-of-order-writes), checked
//    after the others as Loki's ingester does after its distributor, and worded as the ingester
//    does: up to 10 entries, then "user '<tenant>', total ignored: N out of M for stream: {…}";
//  - 429: ingestion rate limit (bytes/s) for the whole request; stream limit per new stream;
//  - dedup: an entry equal (tenant, stream, timestamp, line) to a stored one is ignored, as Loki does;
//  - tenants from X-Scope-OrgID ("fake" when absent and not required), basic/bearer auth;
//  - faults (fault-server.ts): down, reset, slow, any status with Retry-After.

import { PbfReader } from 'pbf';
import { uncompressSync } from 'snappy';
import { authorized, FaultServer, type ServerTls, type Fault } from './fault-server.ts';

export interface LokiLimits {
  /** max_line_size (bytes); 0 = unlimited. Loki default 256KB. */
  maxLineSize: number;
  /** reject_old_samples_max_age; 0 = off. Loki default 7d. */
  rejectOldSamplesMaxAgeMs: number;
  /** creation_grace_period: entries newer than now + this are refused. Loki default 10m. */
  creationGracePeriodMs: number;
  /**
   * How far behind its stream's newest entry an entry may be (unordered writes: max_chunk_age / 2,
   * Loki default 2h / 2); 0 = off.
   */
  outOfOrderWindowMs: number;
  maxLabelNamesPerSeries: number;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  /** max_global_streams_per_user; 0 = unlimited. */
  maxStreamsPerTenant: number;
  /** ingestion_rate (bytes/s of lines); 0 = unlimited. Burst = one second's worth × burstFactor. */
  ingestionRateBytes: number;
  burstFactor: number;
  allowStructuredMetadata: boolean;
  maxStructuredMetadataEntries: number;
  maxStructuredMetadataSize: number;
}

export const LOKI_DEFAULT_LIMITS: LokiLimits = {
  maxLineSize: 256 * 1024,
  rejectOldSamplesMaxAgeMs: 7 * 86_400_000,
  creationGracePeriodMs: 10 * 60_000,
  outOfOrderWindowMs: 3_600_000,
  maxLabelNamesPerSeries: 15,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxStreamsPerTenant: 5000,
  ingestionRateBytes: 0,
  burstFactor: 1.5,
  allowStructuredMetadata: true,
  maxStructuredMetadataEntries: 128,
  maxStructuredMetadataSize: 64 * 1024,
};

export interface LokiEntry {
  tenant: string;
  /** Normalized selector, labels sorted: {a="1", b="2"} */
  stream: string;
  labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  tsNs: bigint;
  line: string;
  metadata: Record<string, string>;
}

export interface LokiPushLog {
  tenant: string;
  format: 'protobuf' | 'json';
  status: number;
  entries: number;
  accepted: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface LokiServerOptions {
  port?: number;
  limits?: Partial<LokiLimits>;
  auth?: { basic?: { username: string; password: string }; bearerToken?: string };
  /** Multi-tenant mode (auth_enabled): a push without X-Scope-OrgID gets 401 "no org id". */
  requireTenant?: boolean;
  delayMs?: number;
  maxBodyBytes?: number;
  /** Serve https (fault-server.ts). */
  tls?: ServerTls;
  /** false: validate and count only, keep nothing (benchmarks: constant memory, no dedup). */
  keepEntries?: boolean;
}

type ParsedLabels = { ok: true; labels: Array<[string, string]> } | { ok: false; error: string };

/** Parses a selector like {a="b", c="d"} the way Loki's label parser accepts it. */
export function parseLabels(text: string): ParsedLabels {
  const s = text.trim();
  let i = 0;
  const err = (msg: string): ParsedLabels => ({ ok: false, error: `1:${i + 1}: parse error: ${msg}` });
  if (s[i] !== '{') return err(`unexpected character: '${s[i] ?? ''}'`);
  i++;
  const labels: Array<[string, string]> = [];
  const ws = () => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  ws();
  if (s[i] === '}') return i === s.length - 1 ? { ok: true, labels } : err('unexpected character after labels');
  for (;;) {
    ws();
    const start = i;
    while (i < s.length && /[a-zA-Z0-9_]/.test(s[i])) i++;
    const name = s.slice(start, i);
    if (name === '' || /^[0-9]/.test(name)) return err(`unexpected character inside braces: '${s[start] ?? ''}'`);
    ws();
    if (s[i] !== '=') return err(`unexpected character inside braces: '${s[i] ?? ''}'`);
    i++;
    ws();
    if (s[i] !== '"') return err('unexpected character: expected a quoted label value');
    i++;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) return err('unterminated quoted string');
      i++;
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i++];
        value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
      } else value += c;
    }
    labels.push([name, value]);
    ws();
    if (s[i] === ',') {
      i++;
      continue;
    }
    if (s[i] === '}') {
      i++;
      break;
    }
    return err(`unexpected character inside braces: '${s[i] ?? ''}'`);
  }
  if (i !== s.length) return err('unexpected character after labels');
  return { ok: true, labels };
}

const quote = (v: string) => `"${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`;
const normalize = (labels: Array<[string, string]>) =>
  `{${[...labels].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${quote(v)}`).join(', ')}}`;

interface RawEntry {
  seconds: number;
  nanos: number;
  line: string;
  metadata: Array<{ name: string; value: string }>;
}

interface RawStream {
  labels: string;
  entries: RawEntry[];
}

/** Largest decompressed push body accepted (Loki bounds it too: distributor max_recv_msg_size). */
const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

/**
 * The decompressed length a snappy block announces: its preamble, a little-endian base-128
 * varint (https://github.com/google/snappy/blob/main/format_description.txt). Read before
 * decompressing, so a corrupt or hostile preamble is refused rather than allocated.
 */
function snappyLength(block: Buffer): number {
  let length = 0;
  for (let i = 0, shift = 1; i < 5 && i < block.length; i++, shift *= 128) {
    length += (block[i] & 0x7f) * shift;
    if (block[i] < 0x80) return length;
  }
  throw new Error('snappy: bad length preamble');
}

// logproto.PushRequest as grafana/loki pkg/push/push.proto numbers its fields, read field by
// field (pbf's reader; protobufjs' reflection decoder took 1.4 µs per entry of the bench's load,
// most of this server's CPU, which competes with the collector's on one machine):
//   PushRequest      { repeated StreamAdapter streams = 1; string format = 2; }
//   StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//   EntryAdapter     { Timestamp timestamp = 1; string line = 2;
//                      repeated LabelPairAdapter structuredMetadata = 3; repeated LabelPairAdapter parsed = 4; }
//   LabelPairAdapter { string name = 1; string value = 2; }
//   Timestamp        { int64 seconds = 1; int32 nanos = 2; }
// Fields not listed are skipped, absent ones take proto3 defaults.

/**
 * A length-delimited message at the reader's position. Too short a body, or a field running past
 * its message, leaves the reader past the message's end: refused, as Go's decoder does.
 */
function readMessage<T>(pbf: PbfReader, read: (tag: number, into: T, pbf: PbfReader) => void, into: T): T {
  const end = pbf.readVarint() + pbf.pos;
  pbf.readFields(read, into, end);
  if (pbf.pos !== end || end > pbf.length) throw new Error('proto: unexpected EOF');
  return into;
}

function readLabelPair(tag: number, p: { name: string; value: string }, pbf: PbfReader): void {
  if (tag === 1) p.name = pbf.readString();
  else if (tag === 2) p.value = pbf.readString();
}

function readTimestamp(tag: number, e: RawEntry, pbf: PbfReader): void {
  if (tag === 1) e.seconds = pbf.readVarint(true);
  else if (tag === 2) e.nanos = pbf.readVarint(true);
}

function readEntry(tag: number, e: RawEntry, pbf: PbfReader): void {
  if (tag === 1) readMessage(pbf, readTimestamp, e);
  else if (tag === 2) e.line = pbf.readString();
  else if (tag === 3) e.metadata.push(readMessage(pbf, readLabelPair, { name: '', value: '' }));
}

function readStream(tag: number, s: RawStream, pbf: PbfReader): void {
  if (tag === 1) s.labels = pbf.readString();
  else if (tag === 2) s.entries.push(readMessage(pbf, readEntry, { seconds: 0, nanos: 0, line: '', metadata: [] }));
}

function readPush(tag: number, streams: RawStream[], pbf: PbfReader): void {
  if (tag === 1) streams.push(readMessage(pbf, readStream, { labels: '', entries: [] }));
}

function decodeProtobuf(body: Buffer): RawStream[] {
  if (snappyLength(body) > MAX_DECOMPRESSED_BYTES) throw new Error('snappy: decompressed body too large');
  // Copied into V8 memory: snappy's own buffers would stay allocated until the next GC and each
  // request would fault in fresh pages (see collector/src/exporters/snappy-block.ts).
  const raw = uncompressSync(body, { asBuffer: true, copyOutputData: true }) as Buffer;
  const pbf = new PbfReader(raw);
  const streams = pbf.readFields(readPush, [] as RawStream[]);
  if (pbf.pos !== pbf.length) throw new Error('proto: unexpected EOF');
  return streams;
}

function splitNanos(ns: string): { seconds: number; nanos: number } {
  const v = BigInt(ns);
  return { seconds: Number(v / 1_000_000_000n), nanos: Number(v % 1_000_000_000n) };
}

function decodeJson(body: Buffer): RawStream[] {
  const msg = JSON.parse(body.toString('utf8')) as { streams?: Array<{ stream?: Record<string, string>; values?: unknown[][] }> };
  if (!msg || !Array.isArray(msg.streams)) throw new Error('streams: expected an array');
  return msg.streams.map((s) => ({
    labels: `{${Object.entries(s.stream ?? {}).map(([k, v]) => `${k}=${quote(String(v))}`).join(', ')}}`,
    entries: (s.values ?? []).map((v) => {
      if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'string') throw new Error('values: expected ["<ns>", "<line>", {metadata}?]');
      const md = (v[2] ?? {}) as Record<string, string>;
      return { ...splitNanos(v[0]), line: v[1], metadata: Object.entries(md).map(([name, val]) => ({ name, value: String(val) })) };
    }),
  }));
}

/** A time as Go's time.Time.String() writes it in UTC (Loki's ingester errors): 2026-12-07 07:00:00.123 +0000 UTC. */
function goTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, ' +0000 UTC');
}

export class LokiServer {
  readonly http: FaultServer;
  readonly limits: LokiLimits;
  readonly pushes: LokiPushLog[] = [];
  /** Entries ignored because an equal one was stored (Loki's dedup). */
  duplicates = 0;
  /** Entries accepted so far (also counted when keepEntries is false). */
  accepted = 0;
  readonly #entries: LokiEntry[] = [];
  readonly #seen = new Set<string>();
  readonly #streams = new Map<string, Set<string>>();
  /** Newest entry (ns) per tenant and stream, for the out-of-order window. */
  readonly #newest = new Map<string, bigint>();
  readonly #options: LokiServerOptions;
  #bucket = { tokens: 0, at: Date.now() };

  constructor(options: LokiServerOptions = {}) {
    this.#options = options;
    this.limits = { ...LOKI_DEFAULT_LIMITS, ...options.limits };
    this.#bucket.tokens = this.limits.ingestionRateBytes * this.limits.burstFactor;
    this.http = new FaultServer((req, body, res) => this.#handle(req.method ?? '', req.url ?? '', req.headers, body, res), {
      port: options.port,
      delayMs: options.delayMs,
      maxBodyBytes: options.maxBodyBytes,
      tls: options.tls,
    });
  }

  get url(): string {
    return this.http.url;
  }

  /** Stored entries (all tenants, or one). */
  entries(tenant?: string): LokiEntry[] {
    return tenant === undefined ? [...this.#entries] : this.#entries.filter((e) => e.tenant === tenant);
  }

  setFault(fault: Fault): Promise<void> {
    return this.http.setFault(fault);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  clear(): void {
    this.#entries.length = 0;
    this.#seen.clear();
    this.#streams.clear();
    this.#newest.clear();
    this.pushes.length = 0;
    this.duplicates = 0;
    this.accepted = 0;
  }

  #handle(method: string, url: string, headers: Record<string, string | string[] | undefined>, body: Buffer, res: import('node:http').ServerResponse): void {
    const path = url.split('?')[0];
    if (method === 'GET' && path === '/ready') {
      res.writeHead(200).end('ready');
      return;
    }
    if (method !== 'POST' || path !== '/loki/api/v1/push') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    const text = (status: number, message: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    };
    if (!authorized({ headers } as import('node:http').IncomingMessage, this.#options.auth)) return text(401, 'Unauthorized');
    const orgId = headers['x-scope-orgid'];
    if (this.#options.requireTenant && !orgId) return text(401, 'no org id');
    const tenant = typeof orgId === 'string' && orgId ? orgId : 'fake';
    const contentType = String(headers['content-type'] ?? 'application/x-protobuf').split(';')[0].trim();
    const format = contentType === 'application/json' ? 'json' : 'protobuf';
    const log: LokiPushLog = { tenant, format, status: 0, entries: 0, accepted: 0, headers };
    this.pushes.push(log);
    const answer = (status: number, message?: string) => {
      log.status = status;
      if (message === undefined) res.writeHead(status).end();
      else text(status, message);
    };
    let streams: RawStream[];
    try {
      if (format === 'json') streams = decodeJson(body);
      else if (contentType === 'application/x-protobuf' || contentType === '') streams = decodeProtobuf(body);
      else return answer(415, `unsupported content type: ${contentType}`);
    } catch (err) {
      return answer(400, `loghttp.ParsePushRequest: ${(err as Error).message}`);
    }
    const l = this.limits;
    const now = Date.now();
    const errors: string[] = [];
    let streamLimitError: string | undefined;
    /** Newest entries of this request: kept once it is stored (not when rate-limited). */
    const newestHere = new Map<string, bigint>();
    const valid: Array<{ tenant: string; stream: string; labels: Array<[string, string]>; raw: RawEntry }> = [];
    for (const s of streams) {
      log.entries += s.entries.length;
      const parsed = parseLabels(s.labels);
      if (!parsed.ok) {
        errors.push(`Error parsing labels '${s.labels}' with error: ${parsed.error}`);
        continue;
      }
      const stream = normalize(parsed.labels);
      if (parsed.labels.length === 0) {
        errors.push('error at least one label pair is required per stream');
        continue;
      }
      if (l.maxLabelNamesPerSeries > 0 && parsed.labels.length > l.maxLabelNamesPerSeries) {
        errors.push(`entry for stream '${stream}' has ${parsed.labels.length} label names; limit ${l.maxLabelNamesPerSeries}`);
        continue;
      }
      const names = new Set<string>();
      let labelError: string | undefined;
      for (const [name, value] of parsed.labels) {
        if (names.has(name)) labelError ??= `stream '${stream}' has duplicate label name: '${name}'`;
        names.add(name);
        // UTF-8 bytes, as Loki's Go len() counts them
        if (Buffer.byteLength(name) > l.maxLabelNameLength) labelError ??= `stream '${stream}' has label name too long: '${name}'`;
        if (Buffer.byteLength(value) > l.maxLabelValueLength) labelError ??= `stream '${stream}' has label value too long: '${value}'`;
      }
      if (labelError) {
        errors.push(labelError);
        continue;
      }
      const tenantStreams = this.#streams.get(tenant) ?? new Set<string>();
      if (!tenantStreams.has(stream) && l.maxStreamsPerTenant > 0 && tenantStreams.size >= l.maxStreamsPerTenant) {
        streamLimitError ??= `Maximum active stream limit exceeded when trying to create stream ${stream}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '${tenant}'`;
        continue;
      }
      const streamKey = `${tenant}\u0000${stream}`;
      // Entries of this stream that reached the ingester, and those it refused as too far behind.
      let toIngester = 0;
      const behind: string[] = [];
      for (const e of s.entries) {
        const ms = e.seconds * 1000 + Math.floor(e.nanos / 1e6);
        const ns = BigInt(e.seconds) * 1_000_000_000n + BigInt(e.nanos);
        const newest = newestHere.get(streamKey) ?? this.#newest.get(streamKey);
        const cutoff = newest === undefined || l.outOfOrderWindowMs <= 0 ? undefined : newest - BigInt(l.outOfOrderWindowMs) * 1_000_000n;
        const size = Buffer.byteLength(e.line);
        let mdSize = 0;
        for (const p of e.metadata) mdSize += Buffer.byteLength(p.name) + Buffer.byteLength(p.value); // bytes, as Loki counts
        if (l.rejectOldSamplesMaxAgeMs > 0 && ms < now - l.rejectOldSamplesMaxAgeMs) {
          errors.push(`entry for stream '${stream}' has timestamp too old: ${new Date(ms).toISOString()}, oldest acceptable timestamp is: ${new Date(now - l.rejectOldSamplesMaxAgeMs).toISOString()}`);
        } else if (ms > now + l.creationGracePeriodMs) {
          errors.push(`entry for stream '${stream}' has timestamp too new: ${new Date(ms).toISOString()}`);
        } else if (l.maxLineSize > 0 && size > l.maxLineSize) {
          errors.push(`Max entry size '${l.maxLineSize}' bytes exceeded for stream '${stream}' while adding an entry with length '${size}' bytes`);
        } else if (e.metadata.length > 0 && !l.allowStructuredMetadata) {
          errors.push(`stream '${stream}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\` or contact your Loki administrator to enable it.`);
        } else if (l.maxStructuredMetadataSize > 0 && mdSize > l.maxStructuredMetadataSize) {
          errors.push(`stream '${stream}' has structured metadata too large: '${mdSize}' bytes, limit: '${l.maxStructuredMetadataSize}' bytes. Please see \`limits_config.max_structured_metadata_size\` or contact your Loki administrator to increase it.`);
        } else if (l.maxStructuredMetadataEntries > 0 && e.metadata.length > l.maxStructuredMetadataEntries) {
          errors.push(`stream '${stream}' has too many structured metadata labels: '${e.metadata.length}', limit: '${l.maxStructuredMetadataEntries}'. Please see \`limits_config.max_structured_metadata_entries_count\` or contact your Loki administrator to increase it.`);
        } else if (cutoff !== undefined && ns < cutoff) {
          // the ingester's check, after the distributor's above: counted per stream (below)
          toIngester++;
          behind.push(`entry with timestamp ${goTime(ms)} ignored, reason: 'entry too far behind, entry timestamp is: ${new Date(ms).toISOString()}, oldest acceptable timestamp is: ${new Date(Number(cutoff / 1_000_000n)).toISOString()}',`);
        } else {
          toIngester++;
          valid.push({ tenant, stream, labels: parsed.labels, raw: e });
          tenantStreams.add(stream);
          if (newest === undefined || ns > newest) newestHere.set(streamKey, ns);
        }
      }
      this.#streams.set(tenant, tenantStreams);
      // As Loki's ingester words it (pkg/ingester/stream.go): the first max_returned_errors (10)
      // entries, then the count of the stream's entries refused out of those it was given.
      if (behind.length > 0) {
        errors.push(`${behind.slice(0, 10).join('\n')}\nuser '${tenant}', total ignored: ${behind.length} out of ${toIngester} for stream: ${stream}`);
      }
    }
    if (l.ingestionRateBytes > 0 && valid.length > 0) {
      const bytes = valid.reduce((n, e) => n + Buffer.byteLength(e.raw.line), 0);
      const b = this.#bucket;
      b.tokens = Math.min(l.ingestionRateBytes * l.burstFactor, b.tokens + ((now - b.at) / 1000) * l.ingestionRateBytes);
      b.at = now;
      if (bytes > b.tokens) {
        return answer(429, `Ingestion rate limit exceeded for user ${tenant} (limit: ${l.ingestionRateBytes} bytes/sec) while attempting to ingest '${valid.length}' lines totaling '${bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased`);
      }
      b.tokens -= bytes;
    }
    for (const [key, ns] of newestHere) this.#newest.set(key, ns);
    if (this.#options.keepEntries === false) {
      this.accepted += valid.length;
      log.accepted += valid.length;
      if (errors.length > 0) return answer(400, errors.join('\n'));
      return answer(204);
    }
    for (const v of valid) {
      const tsNs = BigInt(v.raw.seconds) * 1_000_000_000n + BigInt(v.raw.nanos);
      const key = `${v.tenant}\u0000${v.stream}\u0000${tsNs}\u0000${v.raw.line}`;
      if (this.#seen.has(key)) {
        this.duplicates++;
        continue;
      }
      this.#seen.add(key);
      const metadata: Record<string, string> = {};
      for (const p of v.raw.metadata) metadata[p.name] = p.value;
      this.#entries.push({ tenant: v.tenant, stream: v.stream, labels: Object.fromEntries(v.labels), tsNs, line: v.raw.line, metadata });
      log.accepted++;
      this.accepted++;
    }
    if (errors.length > 0) return answer(400, errors.join('\n'));
    if (streamLimitError) return answer(429, streamLimitError);
    answer(204);
  }
}

export async function startLokiServer(options: LokiServerOptions = {}): Promise<LokiServer> {
  const server = new LokiServer(options);
  await server.http.listen();
  return server;
}
