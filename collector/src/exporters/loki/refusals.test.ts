import { describe, expect, it } from 'vitest';
import type { LokiEntry } from './entry.ts';
import { streamRefusals } from './refusals.ts';

const A = '{level="info", service_name="a"}';
const B = '{level="info", service_name="b"}';
const entry = (stream: string, metadata = 0): LokiEntry => ({
  stream,
  labels: [],
  seconds: 1,
  nanos: 0,
  line: 'x',
  metadata: Array.from({ length: metadata }, (_, i) => ({ name: `k${i}`, value: 'v' })),
});
const behind = (n: number, of: number, stream: string) =>
  `${Array.from({ length: Math.min(n, 10) }, () => "entry with timestamp 2026-12-07 06:00:00 +0000 UTC ignored, reason: 'entry too far behind, entry timestamp is: 2026-12-07T06:00:00Z, oldest acceptable timestamp is: 2026-12-07T07:00:00Z',").join('\n')}\nuser 'fake', total ignored: ${n} out of ${of} for stream: ${stream}`;

describe('streamRefusals', () => {
  it.each([
    {
      name: 'structured metadata disallowed: the entries of that stream that carry metadata',
      entries: [entry(A, 2), entry(A, 0), entry(B, 1), entry(A, 1)],
      text: `stream '${A}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\` or contact your Loki administrator to enable it.`,
      refused: [0, 3],
    },
    { name: 'a label value too long: every entry of the stream', entries: [entry(A), entry(B), entry(A)], text: `stream '${A}' has label value too long: 'a'`, refused: [0, 2] },
    { name: 'a selector Loki cannot parse', entries: [entry(A), entry(B)], text: `Error parsing labels '${B}' with error: 1:20: parse error: unexpected character`, refused: [1] },
    {
      name: 'the distributor’s grouped refusals, joined with "; "',
      entries: [entry(A), entry(B, 1), entry(B)],
      text: `2 errors like: stream '${A}' has label value too long: 'a'; 1 errors like: stream '${B}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\``,
      refused: [0, 1],
    },
    { name: 'too many label names', entries: [entry(B), entry(A)], text: `entry for stream '${B}' has 16 label names; limit 15`, refused: [0] },
    { name: 'every entry of a stream too far behind (the ingester’s count)', entries: [entry(A), entry(B), entry(A)], text: behind(2, 2, A), refused: [0, 2] },
    { name: 'two streams, each wholly behind', entries: [entry(A), entry(B)], text: `${behind(1, 1, A)}\n${behind(1, 1, B)}`, refused: [0, 1] },
    { name: 'some entries of a stream behind: left to the bisection', entries: [entry(A), entry(A), entry(A)], text: behind(2, 3, A), refused: [] },
    { name: 'a count that is not the entries sent of the stream', entries: [entry(A)], text: behind(2, 2, A), refused: [] },
    { name: 'an entry’s own refusal (line size) names no set of entries', entries: [entry(A), entry(A)], text: `Max entry size '500' bytes exceeded for stream '${A}' while adding an entry with length '600' bytes`, refused: [] },
    { name: 'a stream not sent in these words', entries: [entry(A)], text: `stream '{service_name="a"}' has label value too long: 'a'`, refused: [] },
  ])('$name', ({ entries, text, refused }) => {
    const r = streamRefusals(entries, text);
    expect(r.map((x) => x.index).sort()).toEqual(refused);
    for (const x of r) expect(x.error).toMatch(/metadata|label|too far behind/i);
  });

  it('a refusal’s words end where the next of the distributor’s begins', () => {
    const r = streamRefusals([entry(A), entry(B)], `stream '${A}' has label value too long: 'a'; stream '${B}' has duplicate label name: 'x'`);
    expect(r.map((x) => x.error)).toEqual([`stream '${A}' has label value too long: 'a'`, `stream '${B}' has duplicate label name: 'x'`]);
  });

  it('the reason of an ingester refusal leaves out the first entry’s own time, and keeps the count', () => {
    const [r] = streamRefusals([entry(A)], behind(1, 1, A));
    expect(r.error).toBe(`entry too far behind, oldest acceptable timestamp is: 2026-12-07T07:00:00Z: user 'fake', total ignored: 1 out of 1 for stream: ${A}`);
  });
});
