// Span tree assembly for GET /api/v1/traces/:traceId.
//
// The API answers a FLAT list with parent links, in tree order: depth-first from the roots, a
// parent always before its children, siblings (and roots) by start time. `depth` is 0 for roots.
// Roots are the spans without a parent and the orphans, whose parent is not in the trace (not
// received yet, or sampled away); orphans keep their parentSpanId and get `orphan: true`. A
// parent cycle (malformed input) cannot loop: each span is placed once, and spans only reachable
// through a cycle are listed as roots.

export interface TreeSpan {
  spanId: string;
  parentSpanId: string | null;
  startTimeUnixNano: string;
}

export type Placed<T> = T & { depth: number; orphan?: true };

function byStart(a: TreeSpan, b: TreeSpan): number {
  const x = BigInt(a.startTimeUnixNano);
  const y = BigInt(b.startTimeUnixNano);
  return x < y ? -1 : x > y ? 1 : a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;
}

export function assembleTree<T extends TreeSpan>(spans: readonly T[]): Array<Placed<T>> {
  const byId = new Map<string, T>();
  for (const s of spans) if (!byId.has(s.spanId)) byId.set(s.spanId, s);
  const children = new Map<string, T[]>();
  const roots: T[] = [];
  for (const s of byId.values()) {
    const parent = s.parentSpanId;
    if (parent !== null && parent !== s.spanId && byId.has(parent)) {
      const list = children.get(parent);
      if (list) list.push(s);
      else children.set(parent, [s]);
    } else {
      roots.push(s);
    }
  }
  const out: Array<Placed<T>> = [];
  const placed = new Set<string>();
  const visit = (root: T) => {
    // Iterative DFS: a deep trace cannot overflow the stack.
    const stack: Array<{ span: T; depth: number }> = [{ span: root, depth: 0 }];
    while (stack.length > 0) {
      const { span, depth } = stack.pop() as { span: T; depth: number };
      if (placed.has(span.spanId)) continue;
      placed.add(span.spanId);
      const entry = { ...span, depth } as Placed<T>;
      // Only a parent the trace lacks makes an orphan: a span placed as a root because its parent
      // links loop (malformed input) has its parent here, and nothing more will arrive for it.
      if (span.parentSpanId !== null && depth === 0 && !byId.has(span.parentSpanId)) entry.orphan = true;
      out.push(entry);
      const kids = (children.get(span.spanId) ?? []).slice().sort(byStart);
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i], depth: depth + 1 });
    }
  };
  for (const r of roots.sort(byStart)) visit(r);
  // Whatever is left hangs off a parent cycle.
  const rest = [...byId.values()].filter((s) => !placed.has(s.spanId)).sort(byStart);
  for (const s of rest) visit(s);
  return out;
}
