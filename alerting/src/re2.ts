// Label-matcher regular expressions as Prometheus and Alertmanager read them: RE2 syntax
// (https://github.com/google/re2/wiki/Syntax), fully anchored. JavaScript's RegExp (with the `u`
// flag, for code-point semantics like RE2's) refuses some RE2 that users copy from their
// Prometheus rules and amtool silences; those forms are translated:
//   - a leading `(?i)` / `(?s)` (or `(?is)`) → the i / s flags (`severity=~"(?i)critical"`);
//   - `(?P<name>` → `(?<name>`;
//   - a backslash before punctuation JavaScript does not let be escaped there (`\-` outside a
//     class, `\:`, `\@`, `\_`, …) → the character itself: RE2 reads `\` + punctuation as that
//     character.
// Anything else is left to RegExp, whose error the caller reports.

/** JavaScript's syntax characters: the punctuation a `u`-mode RegExp lets be escaped anywhere. */
const SYNTAX = new Set('^$\\.*+?()[]{}|/');

/** The JavaScript source and flags of an RE2 pattern (see above). */
export function re2ToJs(pattern: string): { source: string; flags: string } {
  let flags = 'u';
  let rest = pattern;
  const leading = /^\(\?([is]+)\)/.exec(rest);
  if (leading) {
    for (const f of new Set(leading[1])) flags += f;
    rest = rest.slice(leading[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === '\\' && i + 1 < rest.length) {
      const next = rest[i + 1];
      i++;
      if (/[A-Za-z0-9]/.test(next) || SYNTAX.has(next) || (inClass && next === '-')) out += `\\${next}`;
      else out += next;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      out += '[';
      if (rest[i + 1] === '^') out += rest[++i];
      if (rest[i + 1] === ']') {
        out += '\\]'; // a `]` first in a class is a literal in RE2
        i++;
      }
      continue;
    } else if (rest.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    out += c;
  }
  return { source: out, flags };
}

/** The anchored RegExp of an RE2 label-matcher value; throws RegExp's error when it is not valid. */
export function anchoredRe2(pattern: string): RegExp {
  const { source, flags } = re2ToJs(pattern);
  return new RegExp(`^(?:${source})$`, flags);
}
