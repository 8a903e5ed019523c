// Label matchers shared by routes, silences and inhibition rules.
// Semantics follow Alertmanager (https://prometheus.io/docs/alerting/latest/configuration/#matcher):
// a missing label has the value ""; regexes are fully anchored (`^(?:re)$`); a matcher list
// matches when every matcher matches.
import type { LabelMatcher, MatchOp } from '../types.ts';
import { anchoredRe2, type LabelRegexp } from '../re2.ts';

export type { LabelMatcher, MatchOp };

export interface CompiledMatcher extends LabelMatcher {
  test(labels: Record<string, string>): boolean;
}

const OPS: MatchOp[] = ['=~', '!~', '!=', '='];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses one `name="value"`, `name=~"re"`, `name!=value` (quotes optional, `\"` and `\\` escapes inside quotes). */
function parseOne(text: string, whole: string): LabelMatcher {
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(text);
  if (!m) throw new Error(`bad matcher ${JSON.stringify(whole)}: expected name=value, name!=value, name=~regex or name!~regex`);
  let value = m[3];
  if (value.startsWith('"')) {
    if (value.length < 2 || !value.endsWith('"')) throw new Error(`bad matcher ${JSON.stringify(whole)}: unterminated quote`);
    value = value.slice(1, -1).replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
  }
  return { name: m[1], op: m[2] as MatchOp, value };
}

/**
 * Parses a matcher string as Alertmanager's config and amtool do (labels.ParseMatchers): one
 * matcher, or several separated by commas, optionally in braces — `severity=critical,team="db"`,
 * `{severity="critical", team="db"}`. A comma inside a quoted value is part of the value; an
 * unquoted value ends at a comma (quote a regex like "a{1,3}"). Read as one matcher,
 * `severity=critical,team=db` was the value "critical,team=db", and the route matched nothing.
 */
export function parseMatcherList(text: string): LabelMatcher[] {
  let body = text.trim();
  if (body.startsWith('{') && body.endsWith('}')) body = body.slice(1, -1);
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quoted && c === '\\' && i + 1 < body.length) {
      current += c + body[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  // A trailing comma is allowed ({a="1",}), as in PromQL and Alertmanager.
  if (current.trim() !== '' || parts.length === 0) parts.push(current);
  return parts.map((part) => parseOne(part, text));
}

/** Parses a string that must hold exactly one matcher. */
export function parseMatcherString(text: string): LabelMatcher {
  const list = parseMatcherList(text);
  if (list.length !== 1) throw new Error(`bad matcher ${JSON.stringify(text)}: holds ${list.length} matchers where one is expected`);
  return list[0];
}

export type MatcherInput = string | LabelMatcher | { name: string; value: string; isRegex?: boolean; isEqual?: boolean };

/** Accepts the string form, `{ name, op, value }` and Alertmanager's API form `{ name, value, isRegex, isEqual }`. */
export function toMatcher(input: MatcherInput): LabelMatcher {
  if (typeof input === 'string') return parseMatcherString(input);
  if (typeof input !== 'object' || input === null || typeof input.name !== 'string' || typeof input.value !== 'string') {
    throw new Error('bad matcher: expected a string like name="value" or an object { name, op, value }');
  }
  if ('op' in input && input.op !== undefined) {
    if (!OPS.includes(input.op)) throw new Error(`bad matcher operator ${JSON.stringify(input.op)}: expected one of =, !=, =~, !~`);
    return { name: input.name, op: input.op, value: input.value };
  }
  const am = input as { name: string; value: string; isRegex?: unknown; isEqual?: unknown };
  for (const key of ['isRegex', 'isEqual'] as const) {
    if (am[key] !== undefined && typeof am[key] !== 'boolean') throw new Error(`bad matcher: ${key} must be true or false, got ${JSON.stringify(am[key])}`);
  }
  const equal = am.isEqual ?? true;
  const op: MatchOp = am.isRegex ? (equal ? '=~' : '!~') : equal ? '=' : '!=';
  return { name: am.name, op, value: am.value };
}

export function compileMatcher(input: MatcherInput): CompiledMatcher {
  const m = toMatcher(input);
  if (!LABEL_NAME.test(m.name)) throw new Error(`bad matcher label name ${JSON.stringify(m.name)}`);
  if (m.op === '=~' || m.op === '!~') {
    let re: LabelRegexp;
    try {
      re = anchoredRe2(m.value);
    } catch (err) {
      throw new Error(`bad matcher regex ${JSON.stringify(m.value)}: ${(err as Error).message}`);
    }
    const positive = m.op === '=~';
    return { ...m, test: (labels) => re.test(labels[m.name] ?? '') === positive };
  }
  const positive = m.op === '=';
  return { ...m, test: (labels) => ((labels[m.name] ?? '') === m.value) === positive };
}

/** Every matcher of the inputs: a string may hold several (parseMatcherList). */
export function toMatchers(input: MatcherInput): LabelMatcher[] {
  return typeof input === 'string' ? parseMatcherList(input) : [toMatcher(input)];
}

export function compileMatchers(inputs: readonly MatcherInput[] | undefined): CompiledMatcher[] {
  return (inputs ?? []).flatMap(toMatchers).map(compileMatcher);
}

export function matchesAll(matchers: readonly CompiledMatcher[], labels: Record<string, string>): boolean {
  for (const m of matchers) if (!m.test(labels)) return false;
  return true;
}

/** `{a="1", b=~"x"}` — the Alertmanager string form, used in group keys and links. */
export function matchersToString(matchers: readonly LabelMatcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}
