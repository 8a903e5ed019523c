import type { Ajv, AnySchemaObject, FuncKeywordDefinition } from 'ajv';

// Bounds of the unit strings of Periscope's config files ("30s", "16MiB"). JSON Schema's `minimum`
// compares numbers only; these values stay strings until a component parses them, so a zero
// interval (a timer that spins) or a zero size (every request refused) passed the schema.

/** What a keyword's compile step returns (ajv does not export the type by name). */
type DataValidateFunction = ReturnType<NonNullable<FuncKeywordDefinition['compile']>>;

/** Per unit format (`format: duration`, …): its parser, to base units (ms, bytes), NaN when malformed. */
export type UnitParsers = Record<string, (value: string) => number>;

/**
 * Adds to `ajv`, for keys whose `format` has a parser in `parsers`:
 *  - `unitMinimum: "1s"`: a smaller value is refused, "must be at least 1s".
 * A malformed value passes these keywords: its format reports it. A keyword on a key of a format
 * without a parser is a mistake in the schema, thrown when it is compiled.
 */
export function addUnitKeywords(ajv: Ajv, parsers: UnitParsers): void {
  ajv.addKeyword({
    keyword: 'unitMinimum',
    type: 'string',
    schemaType: 'string',
    errors: true,
    compile(limit: string, parent: AnySchemaObject): DataValidateFunction {
      const parse = parserOf(parsers, parent.format, 'unitMinimum');
      const min = parse(limit);
      if (!Number.isFinite(min)) throw new Error(`unitMinimum: ${JSON.stringify(limit)} is not a valid ${parent.format}`);
      const check: DataValidateFunction = (data: string) => {
        if (!(parse(data) < min)) return true;
        check.errors = [{ keyword: 'unitMinimum', message: `must be at least ${limit}`, params: { limit } }];
        return false;
      };
      return check;
    },
  });
}

function parserOf(parsers: UnitParsers, format: unknown, keyword: string): (value: string) => number {
  const parse = typeof format === 'string' ? parsers[format] : undefined;
  if (!parse) throw new Error(`${keyword} on a key of format ${String(format)}: expected one of ${Object.keys(parsers).join(', ')}`);
  return parse;
}
