// Label and annotation templates, a small subset of Prometheus alert templating
// (https://prometheus.io/docs/prometheus/latest/configuration/template_reference/):
//
//   {{ $value }}  {{ $labels.host }}  {{ $labels["k8s.pod"] }}  {{ $rule }}  {{ $severity }}
//   pipes: humanize, humanizePercentage, humanizeDuration, round [digits], printf "%.2f", upper, lower,
//          default "text"; or called operand last, as Go templates do: {{ printf "%.2f" $value }}
//
// Templates are compiled when a rule is loaded, so an unknown variable or function is a validation
// error naming the key, never a runtime surprise. A missing label renders as "" and a missing value
// (nodata, error) as "NaN".

export interface TemplateData {
  value: number | null;
  labels: Record<string, string>;
  rule: string;
  severity: string;
}

export type CompiledTemplate = ((data: TemplateData) => string) & { usesValue: boolean };

type Piece = string | ((data: TemplateData) => string);
type Fn = (input: unknown, args: Array<string | number>) => unknown;

function humanize(v: unknown): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs === 0) return '0';
  const big = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  const small = ['', 'm', 'µ', 'n', 'p'];
  if (abs >= 1) {
    let i = 0;
    let x = n;
    while (Math.abs(x) >= 1000 && i < big.length - 1) {
      x /= 1000;
      i++;
    }
    return `${Number(x.toPrecision(4))}${big[i]}`;
  }
  let i = 0;
  let x = n;
  while (Math.abs(x) < 1 && i < small.length - 1) {
    x *= 1000;
    i++;
  }
  return `${Number(x.toPrecision(4))}${small[i]}`;
}

function humanizeDuration(v: unknown): string {
  let s = Number(v);
  if (!Number.isFinite(s)) return String(s);
  if (Math.abs(s) < 1) return `${Number((s * 1000).toPrecision(4))}ms`;
  const parts: string[] = [];
  const sign = s < 0 ? '-' : '';
  s = Math.abs(s);
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || !parts.length) parts.push(`${Number(s.toFixed(3))}s`);
  return sign + parts.join(' ');
}

function printf(format: string, input: unknown): string {
  return format.replace(/%(-?\d*)(?:\.(\d+))?([fdsgv%])/g, (_m, width: string, prec: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    let out: string;
    const n = Number(input);
    if (conv === 'f') out = Number.isFinite(n) ? n.toFixed(prec === undefined ? 6 : Number(prec)) : String(n);
    else if (conv === 'd') out = Number.isFinite(n) ? String(Math.trunc(n)) : String(n);
    else if (conv === 'g') out = Number.isFinite(n) ? String(prec === undefined ? n : Number(n.toPrecision(Number(prec) || 1))) : String(n);
    else out = input === null || input === undefined ? '' : String(input);
    const w = Number(width || 0);
    return w < 0 ? out.padEnd(-w) : out.padStart(w);
  });
}

const FUNCTIONS: Record<string, { args: number[]; fn: Fn }> = {
  humanize: { args: [0], fn: (v) => humanize(v) },
  humanizePercentage: { args: [0], fn: (v) => `${Number((Number(v) * 100).toPrecision(4))}%` },
  humanizeDuration: { args: [0], fn: (v) => humanizeDuration(v) },
  round: {
    args: [0, 1],
    fn: (v, [digits]) => {
      const n = Number(v);
      const f = 10 ** Number(digits ?? 0);
      return Number.isFinite(n) ? Math.round(n * f) / f : n;
    },
  },
  printf: { args: [1], fn: (v, [format]) => printf(String(format), v) },
  upper: { args: [0], fn: (v) => String(v ?? '').toUpperCase() },
  lower: { args: [0], fn: (v) => String(v ?? '').toLowerCase() },
  // also for NaN: that is what $value is when the alert has no value (nodata, error)
  default: { args: [1], fn: (v, [fallback]) => (v === undefined || v === null || v === '' || Number.isNaN(v) ? fallback : v) },
};

function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|\||\$[A-Za-z_]+(?:\.[A-Za-z_][A-Za-z0-9_]*|\["(?:[^"\\]|\\.)*"\])?|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?)\s*/y;
  let pos = 0;
  while (pos < expr.length) {
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) throw new Error(`unexpected "${expr.slice(pos).trim().slice(0, 20)}"`);
    tokens.push(m[1]);
    pos = re.lastIndex;
  }
  return tokens;
}

function literal(token: string): string | number {
  if (token.startsWith('"')) return JSON.parse(token) as string;
  if (/^-?\d/.test(token)) return Number(token);
  throw new Error(`expected a quoted string or a number, got "${token}"`);
}

function compileVariable(token: string, ctx: { usesValue: boolean }): (d: TemplateData) => unknown {
  if (token === '$value') {
    ctx.usesValue = true;
    return (d) => (d.value === null ? Number.NaN : d.value);
  }
  if (token === '$rule') return (d) => d.rule;
  if (token === '$severity') return (d) => d.severity;
  if (token === '$labels') return (d) => Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(', ');
  const dotted = /^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(token);
  if (dotted) return (d) => d.labels[dotted[1]] ?? '';
  const indexed = /^\$labels\[("(?:[^"\\]|\\.)*")\]$/.exec(token);
  if (indexed) {
    const key = JSON.parse(indexed[1]) as string;
    return (d) => d.labels[key] ?? '';
  }
  throw new Error(`unknown variable "${token}" (use $value, $labels.<name>, $rule, $severity)`);
}

function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  return String(v);
}

function compileAction(expr: string, ctx: { usesValue: boolean }): (d: TemplateData) => string {
  const tokens = tokenize(expr);
  if (!tokens.length) throw new Error('empty {{ }}');
  const stages: Array<string[]> = [[]];
  for (const t of tokens) {
    if (t === '|') stages.push([]);
    else stages[stages.length - 1].push(t);
  }
  // Go templates call a function with its operand last (`printf "%.2f" $value`, `humanize $value`,
  // as Prometheus' own rule examples write them): the same as the pipe `$value | printf "%.2f"`.
  if (stages[0].length > 1 && Object.hasOwn(FUNCTIONS, stages[0][0])) {
    const call = stages[0];
    stages.splice(0, 1, [call[call.length - 1]], call.slice(0, -1));
  }
  const [head, ...pipes] = stages;
  if (head.length !== 1) throw new Error(`expected one variable or literal before a pipe, or a function with its operand last (printf "%.2f" $value), got "${head.join(' ')}"`);
  const source = head[0].startsWith('$') ? compileVariable(head[0], ctx) : (() => {
    const lit = literal(head[0]);
    return () => lit;
  })();
  const calls = pipes.map((stage) => {
    const [name, ...rawArgs] = stage;
    if (!name) throw new Error('empty pipe stage');
    const def = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    if (!def) throw new Error(`unknown function "${name}" (known: ${Object.keys(FUNCTIONS).join(', ')})`);
    if (!def.args.includes(rawArgs.length)) throw new Error(`${name} takes ${def.args.join(' or ')} argument(s)`);
    const args = rawArgs.map(literal);
    return (v: unknown) => def.fn(v, args);
  });
  return (d) => {
    let v = source(d);
    for (const call of calls) v = call(v);
    return stringify(v);
  };
}

/** Compiles a template; throws Error with a precise message when it is malformed. */
export function compileTemplate(text: string): CompiledTemplate {
  const pieces: Piece[] = [];
  const ctx = { usesValue: false };
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    if (open < 0) {
      pieces.push(text.slice(pos));
      break;
    }
    if (open > pos) pieces.push(text.slice(pos, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new Error('unclosed "{{"');
    pieces.push(compileAction(text.slice(open + 2, close), ctx));
    pos = close + 2;
  }
  if (pieces.every((p) => typeof p === 'string')) {
    const constant = pieces.join('');
    return Object.assign(() => constant, { usesValue: false });
  }
  const render = (d: TemplateData) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(d);
    return out;
  };
  return Object.assign(render, { usesValue: ctx.usesValue });
}
