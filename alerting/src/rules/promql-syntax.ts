// The syntax check of a promql rule's `expr`, made where rules are loaded (rule files, check-config,
// the rules API) so a typo is refused with its key, as Prometheus refuses a rule file whose
// expression does not parse (promtool check rules), rather than showing up as an `error` alert at
// the rule's first evaluation. The grammar is Prometheus' own (@prometheus-io/lezer-promql, the one
// its web UI checks queries with); what only evaluation can tell (a function's argument types, a
// metric that does not exist) is still Prometheus' answer at run time.
import { parser } from '@prometheus-io/lezer-promql';

/**
 * Functions of the Prometheus 2 releases the project runs (DESIGN.md: 2.42) that the grammar, of
 * Prometheus 3, no longer knows, each with a name it knows of the same length: the grammar checks
 * no argument count or type, and the same length keeps the columns of later errors right.
 */
const PROMETHEUS_2_FUNCTIONS: Record<string, string> = { holt_winters: 'day_of_month' };
const PROMETHEUS_2_CALL = new RegExp(`\\b(${Object.keys(PROMETHEUS_2_FUNCTIONS).join('|')})\\b(?=\\s*\\()`, 'g');

/** Why `expr` is not PromQL (the place of the first syntax error), or undefined when it parses. */
export function promqlSyntaxError(expr: string): string | undefined {
  let at: number | undefined;
  parser.parse(expr.replace(PROMETHEUS_2_CALL, (name) => PROMETHEUS_2_FUNCTIONS[name])).iterate({
    enter: (node) => {
      if (at !== undefined) return false;
      if (node.type.isError) at = node.from;
      return undefined;
    },
  });
  if (at === undefined) return undefined;
  const rest = expr.slice(at).trimStart();
  if (rest === '') return 'PromQL syntax error: the expression ends too early (an operand, a closing bracket or a quote is missing)';
  const place = (pos: number) => {
    const before = expr.slice(0, pos);
    const line = before.split('\n').length;
    return `${line > 1 ? `line ${line}, ` : ''}column ${pos - before.lastIndexOf('\n')}`;
  };
  // A name the grammar stops at before "(" is a function Prometheus does not have (a typo: rat).
  const call = /([a-zA-Z_][a-zA-Z0-9_]*)\s*$/.exec(expr.slice(0, at));
  if (call && rest.startsWith('(')) return `PromQL syntax error at ${place(call.index)}: unknown function "${call[1]}"`;
  const near = rest.length > 30 ? `${rest.slice(0, 30)}…` : rest;
  return `PromQL syntax error at ${place(at)}, near ${JSON.stringify(near)}`;
}
