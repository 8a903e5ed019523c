import type { LabelMatcher, MatchOp } from '../types.ts';
import { anchoredRe2, type LabelRegexp } from '../re2.ts';

// Series selectors in the Prometheus text form: `name{label="v", other=~"re.*", x!="", y!~"a|b"}`.
// Regex matchers are fully anchored and a missing label matches as "" (Prometheus semantics:
// https://prometheus.io/docs/prometheus/latest/querying/basics/#time-series-selectors).
// Metric names may contain dots (OpenTelemetry names such as http.server.duration).

export interface Selector {
  name: string;
  matchers: LabelMatcher[];
}

export interface CompiledMatcher {
  name: string;
  test(value: string | undefined): boolean;
}

const NAME_RE = /^[A-Za-z_:][A-Za-z0-9_:.]*/;
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_.]*/;

/** Parses a selector; throws Error with a position-specific message when malformed. */
export function parseSelector(text: string): Selector {
  let rest = text.trim();
  const nameMatch = NAME_RE.exec(rest);
  if (!nameMatch) throw new Error('expected a metric name, e.g. http_requests_total{code="500"}');
  const name = nameMatch[0];
  rest = rest.slice(name.length).trimStart();
  const matchers: LabelMatcher[] = [];
  if (rest.startsWith('{')) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith('}')) {
      const label = LABEL_RE.exec(rest);
      if (!label) throw new Error(`expected a label name at "${rest.slice(0, 20)}"`);
      rest = rest.slice(label[0].length).trimStart();
      const op = (['=~', '!~', '!=', '='] as MatchOp[]).find((o) => rest.startsWith(o));
      if (!op) throw new Error(`expected one of = != =~ !~ after label "${label[0]}"`);
      rest = rest.slice(op.length).trimStart();
      const quote = rest[0];
      if (quote !== '"' && quote !== "'") throw new Error(`expected a quoted value for label "${label[0]}"`);
      let value = '';
      let i = 1;
      for (; i < rest.length && rest[i] !== quote; i++) {
        if (rest[i] === '\\' && i + 1 < rest.length) {
          i++;
          value += rest[i] === 'n' ? '\n' : rest[i] === 't' ? '\t' : rest[i];
        } else value += rest[i];
      }
      if (i >= rest.length) throw new Error(`unterminated value for label "${label[0]}"`);
      rest = rest.slice(i + 1).trimStart();
      matchers.push({ name: label[0], op, value });
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith('}')) throw new Error(`expected "," or "}" after the value of "${label[0]}"`);
    }
    rest = rest.slice(1).trimStart();
  }
  if (rest.length) throw new Error(`unexpected "${rest.slice(0, 20)}" after the selector`);
  for (const m of matchers) compileMatcher(m);
  return { name, matchers };
}

/** Compiles one matcher; throws on an invalid regular expression. */
export function compileMatcher(m: LabelMatcher): CompiledMatcher {
  switch (m.op) {
    case '=': return { name: m.name, test: (v) => (v ?? '') === m.value };
    case '!=': return { name: m.name, test: (v) => (v ?? '') !== m.value };
    case '=~':
    case '!~': {
      let re: LabelRegexp;
      try {
        re = anchoredRe2(m.value);
      } catch (err) {
        throw new Error(`invalid regular expression for label "${m.name}": ${(err as Error).message}`);
      }
      return m.op === '=~' ? { name: m.name, test: (v) => re.test(v ?? '') } : { name: m.name, test: (v) => !re.test(v ?? '') };
    }
  }
}

export function matchesAll(matchers: CompiledMatcher[], labels: Record<string, string>): boolean {
  for (const m of matchers) if (!m.test(labels[m.name])) return false;
  return true;
}

export function formatSelector(s: Selector): string {
  if (!s.matchers.length) return s.name;
  return `${s.name}{${s.matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`;
}
