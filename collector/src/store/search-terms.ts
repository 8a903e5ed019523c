// The syntax of `q=` (GET /api/v1/logs, live tail, log alert rules), after Elasticsearch's
// simple_query_string (https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-simple-query-string-query)
// and web search boxes: words separated by white space, all required;
//  - "a phrase" in double quotes: its words one after the other (an unclosed quote runs to the end);
//  - -word or -"a phrase": records that have it are left out. A `-` before text without letters
//    or digits (`-->`) is text: such a q has nothing to exclude and is matched as typed;
//  - word* : a prefix (search-words.ts; outside quotes only).
// A quote inside a word (`key="v"`) is a character of the word.

export interface SearchTerm {
  /** As typed, without the quotes and the leading `-`. */
  text: string;
  exclude: boolean;
  /** Given in quotes: `*` at its end is a character, not a prefix. */
  quoted: boolean;
}

const HAS_WORD_CHAR = /[\p{L}\p{N}]/u;

export function searchTerms(q: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  let i = 0;
  while (i < q.length) {
    while (i < q.length && /\s/.test(q[i])) i++;
    if (i >= q.length) break;
    let exclude = false;
    if (q[i] === '-' && i + 1 < q.length && (q[i + 1] === '"' || HAS_WORD_CHAR.test(wordAt(q, i + 1).text))) {
      exclude = true;
      i++;
    }
    if (q[i] === '"') {
      const close = q.indexOf('"', i + 1);
      const end = close === -1 ? q.length : close;
      const text = q.slice(i + 1, end).trim();
      if (text !== '') terms.push({ text, exclude, quoted: true });
      i = end + 1;
    } else {
      const word = wordAt(q, i);
      terms.push({ text: word.text, exclude, quoted: false });
      i = word.end;
    }
  }
  return terms;
}

function wordAt(q: string, start: number): { text: string; end: number } {
  let end = start;
  while (end < q.length && !/\s/.test(q[end])) end++;
  return { text: q.slice(start, end), end };
}
