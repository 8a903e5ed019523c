// The answer of GET /api/v1/traces/:traceId, built by the query thread (store/query-thread.ts) on
// its read-only connection. On the ingest thread, reading a trace at the bounds below (64 MiB of
// span text), parsing it, building its tree and serializing the answer held the event loop for
// about 3 s: every POST waited, and senders whose timeout passed sent their batch again.
// The answer leaves the thread as UTF-8 bytes (transferred, not copied), so the ingest thread
// only writes them to the socket.
import type { LogRecord } from '../../../sdk/src/record.ts';
import { parsedPage, type LogReader } from '../store/log-reader.ts';
import type { StoredSpan, TraceReader } from './span-store.ts';
import { assembleTree } from './tree.ts';

/** Most spans and logs returned for one trace; `truncated` says when a trace had more. */
export const MAX_TRACE_SPANS = 10_000;
export const MAX_TRACE_LOGS = 10_000;
/**
 * Most characters of span text (attributes, events, links, resource) one answer holds, as a page
 * of logs is bounded by its bytes. Spans may each be up to traces.maxSpanBytes (1 MiB): a trace of
 * 1 100 spans of 840 KB took 3.4 GB of memory to answer, then failed (a JSON text over V8's
 * longest string), and a larger one would have ended the process out of memory.
 */
export const MAX_TRACE_SPAN_CHARS = 64 * 2 ** 20;

/** The trace (docs/traces-and-metrics.md) as JSON in UTF-8, or null when no span of it is stored. */
export function traceAnswer(spans: TraceReader, logs: LogReader, traceId: string): Uint8Array | null {
  const { spans: stored, truncated: truncatedSpans } = spans.trace(traceId, MAX_TRACE_SPANS, MAX_TRACE_SPAN_CHARS);
  if (stored.length === 0) return null;
  const page = parsedPage(logs.page({ traceId, sd: [], attrs: [] }, MAX_TRACE_LOGS));
  const records = page.records.slice().reverse(); // oldest first
  const bySpan = new Map<string, LogRecord[]>();
  const unattached: LogRecord[] = [];
  const ids = new Set(stored.map((s) => s.spanId));
  for (const r of records) {
    if (r.spanId && ids.has(r.spanId)) {
      const list = bySpan.get(r.spanId);
      if (list) list.push(r);
      else bySpan.set(r.spanId, [r]);
    } else {
      unattached.push(r);
    }
  }
  const tree = assembleTree<StoredSpan>(stored);
  let start = BigInt(tree[0].startTimeUnixNano);
  let end = BigInt(tree[0].endTimeUnixNano);
  const services = new Set<string>();
  for (const s of tree) {
    const a = BigInt(s.startTimeUnixNano);
    const b = BigInt(s.endTimeUnixNano);
    if (a < start) start = a;
    if (b > end) end = b;
    if (s.service !== null) services.add(s.service);
  }
  // A trace cut at MAX_TRACE_SPANS or MAX_TRACE_SPAN_CHARS is still described whole: its span count, services and
  // duration as the search summary has them, not those of the spans returned.
  let spanCount = tree.length;
  if (truncatedSpans) {
    const totals = spans.traceTotals(traceId);
    spanCount = totals.spans;
    start = totals.startNs;
    end = totals.endNs;
    for (const s of totals.services) services.add(s);
  }
  return new TextEncoder().encode(JSON.stringify({
    traceId,
    spanCount,
    services: [...services].sort(),
    startTimeUnixNano: start.toString(),
    durationMs: Number(end - start) / 1e6,
    spans: tree.map((s) => ({ ...s, logs: bySpan.get(s.spanId) ?? [] })),
    /** Logs of this trace whose spanId is absent or not one of the spans above. */
    logs: unattached,
    truncated: { spans: truncatedSpans, logs: page.nextCursor !== null },
  }));
}
