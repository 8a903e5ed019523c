import { describe, expect, it } from 'vitest';
import { causeOf } from './dead-letter-cause.ts';

describe('causeOf', () => {
  it.each([
    {
      name: 'Elasticsearch mapping error: its type',
      reason: "HTTP 400: mapper_parsing_exception: failed to parse field [attributes.n] of type [long] in document with id 'a-1'. Preview of field's value: 'x' (caused by illegal_argument_exception: For input string: \"x\")",
      cause: 'mapper_parsing_exception',
    },
    {
      name: 'Loki too far behind, after a bisection',
      reason: "HTTP 400: entry with timestamp 2026-12-07T07:00:00.000Z ignored, reason: 'entry too far behind, entry timestamp is: 2026-12-07T07:00:00.000Z, oldest acceptable timestamp is: 2026-12-07T07:30:00.000Z' for stream: {level=\"info\", service_name=\"checkout\"}",
      cause: 'entry too far behind',
    },
    {
      name: 'the exporter’s own check, worded as Loki',
      reason: "entry for stream '{level=\"info\"}' has timestamp too old: 2026-11-01T00:00:00.000Z, oldest acceptable timestamp is: 2026-11-30T00:00:00.000Z",
      cause: 'timestamp too old',
    },
    { name: 'Loki line size', reason: "HTTP 400: Max entry size '500' bytes exceeded for stream '{a=\"b\"}' while adding an entry with length '612' bytes", cause: 'Max entry size' },
    { name: 'an unknown answer: its words before what names the record', reason: 'HTTP 400: something unexpected happened for stream {a="b"} at 12:00', cause: 'HTTP 400: something unexpected happened for stream' },
    { name: 'an empty answer', reason: 'HTTP 413', cause: 'HTTP 413' },
  ])('$name', ({ reason, cause }) => {
    expect(causeOf(reason)).toBe(cause);
    expect(reason).toContain(cause); // the summary's cause finds its letters through `reason`
  });
});
