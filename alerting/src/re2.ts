// Label-matcher regular expressions as Prometheus and Alertmanager read them: RE2 syntax
// (https://github.com/google/re2/wiki/Syntax), fully anchored, matched by re2js — a port of RE2,
// so in time linear in the value whatever the pattern, with RE2's own syntax and error messages
// (the Go regexp package's, which Prometheus and Alertmanager answer with). JavaScript's RegExp
// backtracks: a silence or route matcher such as `(a+)+` took exponential time on a label value
// like "aaaa…a!", and the collector's one thread (ingest included) hung on it. It also needed a
// hand-written translation of the RE2 forms users copy from Prometheus (`(?i)`, `(?P<name>`, `\-`).

import { RE2JS } from 're2js';

export interface LabelRegexp {
  /** Whether the whole value matches (Prometheus anchors label matchers at both ends). */
  test(value: string): boolean;
}

/** The anchored matcher of an RE2 label-matcher value; throws RE2's syntax error when it is not valid. */
export function anchoredRe2(pattern: string): LabelRegexp {
  const re = RE2JS.compile(pattern);
  return { test: (value) => re.matches(value) };
}
