// Which entries of a push Loki's 400 answer refuses, when the answer says it of a whole stream
// (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs). Loki stores the
// valid entries of a request it answers 400 and names the refused ones in prose only, so the
// delivery bisects such a batch until each bad entry is alone: about two requests per entry when
// most are bad. Some refusals name a stream and hold for every entry of it in the request, and
// those entries go to the dead letters from this one answer instead:
//  - label checks (pkg/validation/validate.go): `stream '{…}' has label value too long: …`, label
//    name too long, duplicate label name, `entry for stream '{…}' has N label names; limit M`,
//    `Error parsing labels '{…}' with error: …`;
//  - `stream '{…}' includes structured metadata, but this feature is disallowed`: the entries of
//    that stream that carry metadata;
//  - the ingester's out-of-order refusals (pkg/ingester/stream.go), which end with
//    `user '<tenant>', total ignored: N out of M for stream: {…}`: when N is M, every entry of the
//    stream (`entry too far behind` after another collector moved the stream on).
// Loki's distributor joins its refusals with "; " (GroupedErrors, "N errors like: …" for repeated
// ones): a refusal's words end at the first ";" or line end after its stream.
// Anything else (an entry's own line size, age, metadata size) names no set of entries and is
// left to the bisection, as is a stream this exporter did not send in these words.

import type { LokiEntry } from './entry.ts';

export interface Refusal {
  /** Index of the entry in the request. */
  index: number;
  /** The answer's words about it. */
  error: string;
}

const STREAM_WIDE = /(?:(?:entry for )?stream '(\{.*?\})' (?:has label (?:value|name) too long|has duplicate label name|has \d+ label names; limit|includes structured metadata, but this feature is disallowed)|Error parsing labels '(\{.*?\})' with error)[^\n;]*/g;
const ALL_IGNORED = /user '[^'\n]*', total ignored: (\d+) out of (\d+) for stream: (\{[^\n]*\})/g;
const IGNORED_REASON = /ignored, reason: '([^\n]*)',?$/m;

/** The entries the answer refuses as a whole stream, or none. */
export function streamRefusals(entries: LokiEntry[], text: string): Refusal[] {
  const byStream = new Map<string, number[]>();
  for (let i = 0; i < entries.length; i++) {
    const list = byStream.get(entries[i].stream);
    if (list) list.push(i);
    else byStream.set(entries[i].stream, [i]);
  }
  const refused = new Map<number, string>();
  for (const m of text.matchAll(STREAM_WIDE)) {
    const metadataOnly = m[0].includes('structured metadata');
    for (const i of byStream.get(m[1] ?? m[2]) ?? []) if (!metadataOnly || entries[i].metadata.length > 0) refused.set(i, m[0]);
  }
  for (const m of text.matchAll(ALL_IGNORED)) {
    const indexes = byStream.get(m[3]);
    if (!indexes || m[1] !== m[2] || Number(m[2]) !== indexes.length) continue;
    // The stream's block of the answer: the reason of its first listed entry, then the count.
    const block = text.slice(0, m.index).split(/user '[^'\n]*', total ignored: [^\n]*\n?/).at(-1) ?? '';
    const reason = IGNORED_REASON.exec(block)?.[1];
    const error = `${reason ? `${reason.replace(/, entry timestamp is: [^,]*/, '')}: ` : ''}${m[0]}`;
    for (const i of indexes) refused.set(i, error);
  }
  return [...refused].map(([index, error]) => ({ index, error }));
}
