// Span order and times of the trace waterfall.
import { toMs } from './format.js';

const NANOS = /^\d+$/;

/**
 * The spans' starts and ends in milliseconds (with a fraction) after the earliest start. Taken
 * from the API's exact startTimeUnixNano/endTimeUnixNano, subtracted as integers: startTime and
 * endTime are RFC 3339, which Date.parse reads to whole milliseconds (sub-millisecond spans all
 * looked simultaneous), and epoch nanoseconds as a float are only good to ~0.2 µs.
 * @returns {{ starts: number[], ends: number[] }} an end is NaN when the span has none
 */
export function spanOffsets(spans) {
  if (spans.length > 0 && spans.every((s) => NANOS.test(s.startTimeUnixNano ?? '') && NANOS.test(s.endTimeUnixNano ?? ''))) {
    const t0 = spans.reduce((min, s) => (BigInt(s.startTimeUnixNano) < min ? BigInt(s.startTimeUnixNano) : min), BigInt(spans[0].startTimeUnixNano));
    const ms = (ns) => Number(BigInt(ns) - t0) / 1e6;
    return { starts: spans.map((s) => ms(s.startTimeUnixNano)), ends: spans.map((s) => ms(s.endTimeUnixNano)) };
  }
  const starts = spans.map((s) => toMs(s.startTime));
  const t0 = Math.min(...starts);
  return { starts: starts.map((v) => v - t0), ends: spans.map((s) => toMs(s.endTime) - t0) };
}

function byStart(a, b) {
  if (NANOS.test(a.startTimeUnixNano ?? '') && NANOS.test(b.startTimeUnixNano ?? '')) {
    const x = BigInt(a.startTimeUnixNano);
    const y = BigInt(b.startTimeUnixNano);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return toMs(a.startTime) - toMs(b.startTime);
}

/**
 * Spans ordered depth-first from the roots, siblings by start time; orphans (parent not in the
 * trace) count as roots. Every span is listed once: spans whose parent links loop (no root above
 * them) follow, each loop from its earliest span. Iterative: a trace may be a chain thousands of
 * spans deep, past what recursion survives.
 * @returns {{ span: object, depth: number }[]}
 */
export function orderSpans(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && byId.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
      children.get(s.parentSpanId).push(s);
    } else {
      roots.push(s);
    }
  }
  const out = [];
  const seen = new Set();
  // the stack holds what is still to visit, the next one on top
  const walk = (top) => {
    const stack = [{ span: top, depth: 0 }];
    while (stack.length > 0) {
      const next = stack.pop();
      if (seen.has(next.span.spanId)) continue;
      seen.add(next.span.spanId);
      out.push(next);
      const kids = (children.get(next.span.spanId) || []).sort(byStart);
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i], depth: next.depth + 1 });
    }
  };
  for (const root of roots.sort(byStart)) walk(root);
  if (out.length < spans.length) for (const s of [...spans].sort(byStart)) if (!seen.has(s.spanId)) walk(s);
  return out;
}
