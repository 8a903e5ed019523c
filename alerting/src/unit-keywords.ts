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
 *  - `unitMinimum: "1s"` on a key: a smaller value is refused, "must be at least 1s";
 *  - `unitOrder: [["low", "high"], …]` on an object: of two of its keys of one format, `low` may
 *    not be larger than `high` (a first retry delay above the largest one); the error is on `low`:
 *    "must not be larger than high (30s)".
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
  ajv.addKeyword({
    keyword: 'unitOrder',
    type: 'object',
    schemaType: 'array',
    errors: true,
    compile(pairs: Array<[string, string]>, parent: AnySchemaObject): DataValidateFunction {
      const compared = pairs.map(([low, high]) => {
        const [lowKey, highKey] = [parent.properties?.[low], parent.properties?.[high]];
        if (lowKey?.format !== highKey?.format) throw new Error(`unitOrder: ${low} and ${high} are not of one format`);
        return { low, high, lowKey, highKey, parse: parserOf(parsers, lowKey?.format, 'unitOrder') };
      });
      const check: DataValidateFunction = (data: Record<string, unknown>, cxt) => {
        check.errors = [];
        for (const { low, high, lowKey, highKey, parse } of compared) {
          const [a, b] = [data[low], data[high]];
          if (!comparable(parse, lowKey, a) || !comparable(parse, highKey, b) || !(parse(a) > parse(b))) continue;
          const instancePath = `${cxt?.instancePath ?? ''}/${low}`;
          check.errors.push({ keyword: 'unitOrder', instancePath, message: `must not be larger than ${high} (${b})`, params: { high } });
        }
        return check.errors.length === 0;
      };
      return check;
    },
  });
}

/**
 * A value unitOrder compares: a string at or above its key's own unitMinimum. One under it is
 * reported by unitMinimum; compared too, it would be reported twice.
 */
function comparable(parse: (value: string) => number, key: AnySchemaObject | undefined, value: unknown): value is string {
  return typeof value === 'string' && !(key?.unitMinimum !== undefined && parse(value) < parse(key.unitMinimum));
}

function parserOf(parsers: UnitParsers, format: unknown, keyword: string): (value: string) => number {
  const parse = typeof format === 'string' ? parsers[format] : undefined;
  if (!parse) throw new Error(`${keyword} on a key of format ${String(format)}: expected one of ${Object.keys(parsers).join(', ')}`);
  return parse;
}
