// Span order of the trace waterfall.
import { toMs } from './format.js';

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
  const byStart = (a, b) => toMs(a.startTime) - toMs(b.startTime);
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
