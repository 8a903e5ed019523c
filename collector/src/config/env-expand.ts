/**
 * Environment and file references in string values of periscope.yaml, so secrets (passwords, API
 * keys, webhook URLs) need not be written in the file. Syntax, as the OpenTelemetry Collector and
 * Loki's -config.expand-env accept it:
 *   ${NAME} or ${env:NAME}   the variable's value; unset → a config error naming the key
 *   ${NAME:-default}         the default when the variable is unset or empty
 *   ${file:PATH}             the file's content without the whitespace around it (a Kubernetes
 *                            or Docker secret, read as Prometheus' *_file keys are, with Go's
 *                            strings.TrimSpace, and as the OpenTelemetry Collector's file provider
 *                            reads a YAML scalar: a secret file ending in a blank line or a space
 *                            would otherwise send it, and be refused); read once, at start; a
 *                            relative PATH is from the config file's folder; unreadable → a
 *                            config error naming the key and the file (never its content)
 *   a value that is one reference and comes out empty (${NAME:-}) leaves its key unset
 *   $$                       a literal $ (so $${NAME} stays ${NAME})
 * Expanded after YAML parsing, in string scalars only (never keys): a value can never change the
 * structure of the file; a value that is one reference may then be read as a number or a boolean
 * (load.ts, typedReferences). A `$` not followed by `{` or `$` is kept as it is.
 */
const REFERENCE = /\$\$|\$\{file:([^}]+)\}|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
/** A value that is one reference and nothing else (not `$$`, a literal `$`). */
const WHOLE_REFERENCE = new RegExp(`^(?!\\$\\$$)(?:${REFERENCE.source})$`);

export interface ExpandContext {
  env: Record<string, string | undefined>;
  /** The text of a referenced file (relative paths already resolved by the caller); throws when unreadable. */
  readFile: (path: string) => string;
  /** One line per problem, naming the key. */
  problems: string[];
  /**
   * Paths (JSON pointers, ajv's instancePath) of values that were one reference and nothing else
   * (`concurrency: ${LOKI_CONCURRENCY}`): the only ones that may be read as a number or a boolean
   * where the key takes one (typedReferences in load.ts), as the OpenTelemetry Collector reads
   * `${env:PORT}`.
   */
  wholeReferences?: Set<string>;
}

export function expandEnv(value: unknown, ctx: ExpandContext, path: string[] = []): unknown {
  const { env, problems, wholeReferences } = ctx;
  if (typeof value === 'string') {
    if (!value.includes('$')) return value;
    if (wholeReferences && WHOLE_REFERENCE.test(value)) {
      wholeReferences.add(path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join(''));
    }
    return value.replace(REFERENCE, (match, file: string | undefined, name: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      if (file !== undefined) {
        try {
          return ctx.readFile(file).trim();
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          problems.push(`${path.join('.') || '(root)'}: \${file:${file}} cannot be read (${reason})`);
          return match;
        }
      }
      const v = env[name!];
      if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
      if (v === undefined) {
        problems.push(`${path.join('.') || '(root)'}: \${${name}} is not set in the environment (write \${${name}:-} for an empty default)`);
        return match;
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, ctx, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const expanded = expandEnv(v, ctx, [...path, k]);
      // A key whose value is one reference that comes out empty (`tenant: ${LOKI_TENANT:-}`, the
      // empty default the unset-variable error suggests) is left unset: an optional key takes its
      // default, as an empty value means "not set" to the OpenTelemetry Collector, and a required
      // key is reported missing. Kept as "", an optional key was refused ('must not be empty').
      if (expanded === '' && typeof v === 'string' && WHOLE_REFERENCE.test(v)) continue;
      out[k] = expanded;
    }
    return out;
  }
  return value;
}
