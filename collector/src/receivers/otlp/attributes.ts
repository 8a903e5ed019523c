// Helpers shared by the OTLP normalisers (logs, traces, metrics): attribute size limits and the
// first type issue the decoder recorded on a message (see decode.ts, `$issues`).
import type { AttributeValue, Attributes, FieldIssue, NormalizedMessage } from './decode.ts';

/** The first issue recorded on any of the messages, outermost first. */
export function firstIssue(...messages: Array<NormalizedMessage | undefined>): FieldIssue | undefined {
  for (const m of messages) if (m?.$issues?.length) return m.$issues[0];
  return undefined;
}

/** Returns attributes with over-long strings cut; pushes `${prefix}${key}` for each truncated top-level key. */
export function truncateAttributes(attributes: Attributes, maxBytes: number, prefix: string, truncated: string[]): Attributes {
  let out: Attributes | undefined;
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    const cut = truncateValue(value, maxBytes);
    if (cut !== value) {
      out ??= { ...attributes };
      setKey(out, key, cut);
      truncated.push(`${prefix}${key}`);
    }
  }
  return out ?? { ...attributes };
}

/** The same value when nothing needed cutting, else a copy with every over-long string cut. */
export function truncateValue(value: AttributeValue, maxBytes: number): AttributeValue {
  if (typeof value === 'string') return truncateUtf8(value, maxBytes);
  if (Array.isArray(value)) {
    let out: AttributeValue[] | undefined;
    value.forEach((v, i) => {
      const cut = truncateValue(v, maxBytes);
      if (cut !== v) (out ??= value.slice())[i] = cut;
    });
    return out ?? value;
  }
  if (value !== null && typeof value === 'object') {
    let out: { [key: string]: AttributeValue } | undefined;
    for (const key of Object.keys(value)) {
      const v = value[key];
      const cut = truncateValue(v, maxBytes);
      if (cut !== v) setKey((out ??= { ...value }), key, cut);
    }
    return out ?? value;
  }
  return value;
}

export function truncateUtf8(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s; // cannot be over the limit
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  let end = maxBytes;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--; // do not split a multi-byte character
  return buf.subarray(0, end).toString('utf8');
}

/** Plain assignment, except that "__proto__" becomes an own property instead of changing the prototype. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
