// `q=` through the search index. The index (fts-schema.ts) has one row per chunk of records, so
// it yields candidate chunks; each candidate record is then checked with matchesWords, which
// gives `q` the meaning a per-record FTS5 index gave it: every word occurs as whole tokens, a
// word of several tokens (path=/api/orders) as a phrase, a trailing `*` makes the last token a
// prefix. Tokens follow FTS5's unicode61 tokenizer, https://www.sqlite.org/fts5.html#unicode61_tokenizer:
// runs of letters, numbers and private-use characters (its default categories, "L* N* Co"),
// case-folded, diacritics removed from Latin letters (remove_diacritics 2, as the index is built).

const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;
const NON_ASCII = /[^\x00-\x7f]/;
/** A Latin letter's combining diacritics, once decomposed (NFD): unicode61 removes those only. */
const LATIN_DIACRITICS = /(\p{Script=Latin})[\u0300-\u036f]+/gu;

const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;

/** Lower case, Latin letters' diacritics removed, as unicode61 (remove_diacritics 2) folds text. */
function fold(text: string): string {
  const t = text.toLowerCase();
  return NON_ASCII.test(t) ? t.normalize('NFD').replace(LATIN_DIACRITICS, '$1').normalize('NFC') : t;
}

/** Text → its tokens, folded. */
export function searchTokens(text: string): string[] {
  return fold(text).match(TOKEN) ?? [];
}

interface Word {
  /** As typed, lower case, split into tokens: what FTS5 is asked for (it folds them itself). */
  raw: string[];
  /** Folded tokens: what matchesWords compares. */
  folded: string[];
  prefix: boolean;
}

let last: { q: string; words: Word[] } | undefined;

/** The words of `q` that have tokens; kept for the last `q` (a check runs once per candidate). */
function wordsOf(q: string): Word[] {
  if (last?.q === q) return last.words;
  const words: Word[] = [];
  for (const w of q.split(/\s+/)) {
    const prefix = w.length > 1 && w.endsWith('*');
    const text = prefix ? w.slice(0, -1) : w;
    const raw = text.toLowerCase().match(TOKEN) ?? [];
    if (raw.length > 0) words.push({ raw, folded: searchTokens(text), prefix });
  }
  last = { q, words };
  return words;
}

/** Whether `q` has anything the index can look up (`q=-->` has not: it is matched by reading). */
export function hasSearchTokens(q: string): boolean {
  return wordsOf(q).length > 0;
}

/**
 * The FTS5 query for the chunks that may hold matches of `q`: every token of every word in the
 * msg column, each a quoted string, so user input is never query syntax
 * (https://www.sqlite.org/fts5.html#full_text_query_syntax). Phrases are not asked for: chunk
 * rows have no meaningful positions (detail=column); matchesWords checks them.
 */
export function chunkQuery(q: string): string {
  const terms: string[] = [];
  for (const w of wordsOf(q)) {
    w.raw.forEach((t, i) => terms.push(w.prefix && i === w.raw.length - 1 ? `"${t}"*` : `"${t}"`));
  }
  return `msg : (${terms.join(' ')})`;
}

/** Every word of `q` occurs in `msg` as consecutive whole tokens (the last a prefix after `*`). */
export function matchesWords(msg: string, q: string): boolean {
  const text = fold(msg);
  let tokens: string[] | undefined;
  for (const w of wordsOf(q)) {
    // Most words are one token: found in the text without splitting it (a query's candidates
    // are whole chunks, so this runs for many records that do not match).
    if (w.folded.length === 1) {
      if (!containsToken(text, w.folded[0], w.prefix)) return false;
    } else {
      if (w.folded.length > 1 && !text.includes(w.folded[0])) return false;
      tokens ??= text.match(TOKEN) ?? [];
      if (!containsPhrase(tokens, w)) return false;
    }
  }
  return true;
}

/** `token` occurs in folded `text` with no token character right before it (nor after it, unless a prefix). */
function containsToken(text: string, token: string, prefix: boolean): boolean {
  for (let i = text.indexOf(token); i !== -1; i = text.indexOf(token, i + 1)) {
    if (i > 0 && isTokenChar(codePointBefore(text, i))) continue;
    const end = i + token.length;
    if (!prefix && end < text.length && isTokenChar(text.codePointAt(end)!)) continue;
    return true;
  }
  return false;
}

function codePointBefore(text: string, i: number): number {
  const c = text.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && i > 1 ? text.codePointAt(i - 2)! : c; // a surrogate pair's second half
}

function isTokenChar(codePoint: number): boolean {
  if (codePoint < 0x80) return (codePoint >= 0x61 && codePoint <= 0x7a) || (codePoint >= 0x30 && codePoint <= 0x39) || (codePoint >= 0x41 && codePoint <= 0x5a);
  return TOKEN_CHAR.test(String.fromCodePoint(codePoint));
}

function containsPhrase(tokens: string[], w: Word): boolean {
  const n = w.folded.length;
  if (n === 0) return true;
  for (let i = 0; i + n <= tokens.length; i++) {
    let j = 0;
    for (; j < n - 1; j++) if (tokens[i + j] !== w.folded[j]) break;
    if (j < n - 1) continue;
    const lastToken = tokens[i + n - 1];
    if (w.prefix ? lastToken.startsWith(w.folded[n - 1]) : lastToken === w.folded[n - 1]) return true;
  }
  return false;
}
