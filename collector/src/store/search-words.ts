// `q=` through the search index. The index (fts-schema.ts) has one row per chunk of records, so
// it yields candidate chunks; each candidate record is then checked with matchesWords, which
// gives `q` the meaning a per-record FTS5 index gave it: every word occurs as whole tokens, a
// word of several tokens (path=/api/orders) as a phrase, a trailing `*` makes the last token a
// prefix. Tokens follow FTS5's unicode61 tokenizer, https://www.sqlite.org/fts5.html#unicode61_tokenizer:
// runs of letters, numbers and private-use characters (its default categories, "L* N* Co"),
// case-folded, diacritics removed from Latin letters (remove_diacritics 2, as the index is built).
// Except that a Han, Hiragana or Katakana character is a token of its own (cjkSpaced), as
// Elasticsearch's standard tokenizer (UAX #29) makes each ideograph one: those scripts write no
// spaces between words, so unicode61 made a whole sentence one token and no word in it was found.

import { searchTerms } from './search-terms.ts';

/** A token character: unicode61's default categories. */
const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;
/** A character of the scripts written without spaces between words (and the prolonged sound mark ー, of both kana). */
const CJK_SOURCE = '[\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}\\u30fc\\uff70]';
const CJK_CHAR = new RegExp(CJK_SOURCE, 'u');
const CJK_CHARS = new RegExp(CJK_SOURCE, 'gu');
/** A token: one CJK character, or a run of the other token characters. */
const TOKEN = new RegExp(`${CJK_SOURCE}|(?:(?!${CJK_SOURCE})${TOKEN_CHAR.source})+`, 'gu');
const NON_ASCII = /[^\x00-\x7f]/;
/** A Latin letter's combining diacritics, once decomposed (NFD): unicode61 removes those only. */
const LATIN_DIACRITICS = /(\p{Script=Latin})[\u0300-\u036f]+/gu;

/**
 * Lower case, Latin letters' diacritics removed, as unicode61 (remove_diacritics 2) folds text.
 * Its final sigma ς is σ, as unicode61 folds it: toLowerCase makes Σ either one by its place in
 * the word, so σοφόσ (or ΣΟΦΌΣ seen as σοφόσ) was a chunk the index matched and the check refused.
 */
function fold(text: string): string {
  const t = text.toLowerCase();
  return NON_ASCII.test(t) ? t.replaceAll('\u03c2', '\u03c3').normalize('NFD').replace(LATIN_DIACRITICS, '$1').normalize('NFC') : t;
}

/**
 * Lower case in which İ (U+0130) is i. It is the one letter whose lower case is two characters,
 * 'i' and a combining dot, which is no token character: the index would be asked for "i" and
 * "stanbul" (İstanbul), where unicode61 indexed one token "istanbul", and a plain substring
 * check (log-filter.ts matchesQ) would not find `istanbul` in it.
 */
export function lowerCase(text: string): string {
  return text.replaceAll('\u0130', 'i').toLowerCase();
}

/**
 * The text the index is given for `text`: each CJK character between spaces, so that unicode61
 * makes it a token of its own, as TOKEN splits a query. Other text is returned as it is.
 */
export function cjkSpaced(text: string): string {
  return CJK_CHAR.test(text) ? text.replace(CJK_CHARS, ' $& ') : text;
}

/** Whether `q` has a word with CJK characters (the index holds them one by one only from cjk-split positions on: fts-schema.ts). */
export function hasCjkWords(q: string): boolean {
  return wordsOf(q).include.some((w) => w.raw.some((t) => CJK_CHAR.test(t)));
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

interface Words {
  /** All of these occur (the index is asked for them). */
  include: Word[];
  /** None of these does (checked per record only: a chunk holds other records too). */
  exclude: Word[];
}

let last: { q: string; words: Words } | undefined;

/** The terms of `q` (search-terms.ts) that have tokens; kept for the last `q` (a check runs once per candidate). */
function wordsOf(q: string): Words {
  if (last?.q === q) return last.words;
  const words: Words = { include: [], exclude: [] };
  for (const term of searchTerms(q)) {
    const prefix = !term.quoted && term.text.length > 1 && term.text.endsWith('*');
    const text = prefix ? term.text.slice(0, -1) : term.text;
    const raw = lowerCase(text).match(TOKEN) ?? [];
    const folded = searchTokens(text);
    if (raw.length > 0 && folded.length > 0) (term.exclude ? words.exclude : words.include).push({ raw, folded, prefix });
  }
  last = { q, words };
  return words;
}

/**
 * Whether `q` has words the index can look up. `q=-->` has not, nor has a `q` that only excludes
 * (`-debug`): those are matched by reading (log-filter.ts matchesQ).
 */
export function hasSearchTokens(q: string): boolean {
  return wordsOf(q).include.length > 0;
}

/**
 * The FTS5 query for the chunks that may hold matches of `q`: every token of every word in the
 * msg column, each a quoted string, so user input is never query syntax
 * (https://www.sqlite.org/fts5.html#full_text_query_syntax). Phrases are not asked for: chunk
 * rows have no meaningful positions (detail=column); matchesWords checks them. Nor are the
 * excluded words: a chunk that has one may hold records without it.
 */
export function chunkQuery(q: string): string {
  const terms: string[] = [];
  for (const w of wordsOf(q).include) {
    w.raw.forEach((t, i) => terms.push(w.prefix && i === w.raw.length - 1 ? `"${t}"*` : `"${t}"`));
  }
  return `msg : (${terms.join(' ')})`;
}

/**
 * Every word of `q` occurs in `msg` as consecutive whole tokens (the last a prefix after `*`), and
 * no excluded one does.
 */
export function matchesWords(msg: string, q: string): boolean {
  const text = fold(msg);
  const { include, exclude } = wordsOf(q);
  for (const w of include) if (!containsWord(text, w)) return false;
  for (const w of exclude) if (containsWord(text, w)) return false;
  return true;
}

/**
 * The word's tokens occur in folded `text` one after the other, separated by non-token
 * characters only, each whole (the last may go on after `*`). Found from the occurrences of the
 * first token, without splitting the text: a query's candidates are whole chunks, so this runs
 * for many records that do not match.
 */
function containsWord(text: string, w: Word): boolean {
  const tokens = w.folded;
  for (let i = text.indexOf(tokens[0]); i !== -1; i = text.indexOf(tokens[0], i + 1)) {
    if (i > 0 && joined(codePointBefore(text, i), text.codePointAt(i)!)) continue; // inside a longer token
    let pos = i;
    let k = 0;
    for (; k < tokens.length; k++) {
      if (k > 0) pos = nextTokenStart(text, pos);
      if (!text.startsWith(tokens[k], pos)) break;
      pos += tokens[k].length;
      const open = w.prefix && k === tokens.length - 1;
      if (!open && pos < text.length && joined(codePointBefore(text, pos), text.codePointAt(pos)!)) break; // a longer token
    }
    if (k === tokens.length) return true;
  }
  return false;
}

/** The first position at or after `pos` that holds a token character (or the text's end). */
function nextTokenStart(text: string, pos: number): number {
  while (pos < text.length) {
    const c = text.codePointAt(pos)!;
    if (isTokenChar(c)) break;
    pos += c > 0xffff ? 2 : 1;
  }
  return pos;
}

function codePointBefore(text: string, i: number): number {
  const c = text.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && i > 1 ? text.codePointAt(i - 2)! : c; // a surrogate pair's second half
}

/** Whether two adjacent characters are in one token: both token characters, neither a CJK one. */
function joined(before: number, after: number): boolean {
  return isTokenChar(before) && isTokenChar(after) && !isCjk(before) && !isCjk(after);
}

function isCjk(codePoint: number): boolean {
  return codePoint >= 0x2e80 && CJK_CHAR.test(String.fromCodePoint(codePoint));
}

function isTokenChar(codePoint: number): boolean {
  if (codePoint < 0x80) return (codePoint >= 0x61 && codePoint <= 0x7a) || (codePoint >= 0x30 && codePoint <= 0x39) || (codePoint >= 0x41 && codePoint <= 0x5a);
  return TOKEN_CHAR.test(String.fromCodePoint(codePoint));
}
