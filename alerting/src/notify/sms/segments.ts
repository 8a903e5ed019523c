// SMS segmenting (3GPP TS 23.038 alphabet, TS 23.040 concatenation):
//  - GSM-7 when every character is in the default alphabet or its extension table; extension
//    characters (^ { } \ [ ~ ] | € and form feed) take two septets (ESC + char). One message holds
//    160 septets; a concatenated one 153 per part (the UDH takes 7), and an escape pair never
//    straddles two parts.
//  - UCS-2 otherwise: 70 UTF-16 units in one message, 67 per part; a surrogate pair never straddles.
//  - Twilio refuses bodies over 1600 characters (Messages API `Body`), whatever the segment count.
// Before counting, a few typographic characters are replaced by GSM-7 look-alikes (’ → ', … → ...)
// so an English alert does not fall back to UCS-2 (and 2.3x the segments) because of one quote.

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';

const BASIC = new Set(GSM_BASIC);
const EXTENSION = new Set(GSM_EXTENSION);

export const GSM_SINGLE = 160;
export const GSM_PART = 153;
export const UCS2_SINGLE = 70;
export const UCS2_PART = 67;
/** Twilio's limit on `Body`. */
export const MAX_BODY_CHARS = 1600;

export type SmsEncoding = 'GSM-7' | 'UCS-2';

const LOOK_ALIKES: Record<string, string> = {
  '\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201b': "'", '\u2032': "'",
  '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u2033': '"',
  '\u2013': '-', '\u2014': '-', '\u2212': '-', '\u2010': '-', '\u2011': '-',
  '\u2026': '...', '\u00a0': ' ', '\u2009': ' ', '\u202f': ' ', '\t': ' ',
  '\u2022': '*', '\u00b7': '*',
};

/** Replaces typographic characters that have GSM-7 look-alikes. */
export function normaliseForSms(text: string): string {
  let out = '';
  for (const ch of text) out += LOOK_ALIKES[ch] ?? ch;
  return out;
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!BASIC.has(ch) && !EXTENSION.has(ch)) return false;
  return true;
}

/** Septets (GSM-7) or UTF-16 units (UCS-2) of one character. */
function cost(ch: string, encoding: SmsEncoding): number {
  if (encoding === 'GSM-7') return EXTENSION.has(ch) ? 2 : 1;
  return ch.length; // 2 for a surrogate pair
}

export interface SegmentCount {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 units (UCS-2). */
  units: number;
  segments: number;
}

export function countSegments(text: string, encoding: SmsEncoding = isGsm7(text) ? 'GSM-7' : 'UCS-2'): SegmentCount {
  const single = encoding === 'GSM-7' ? GSM_SINGLE : UCS2_SINGLE;
  const part = encoding === 'GSM-7' ? GSM_PART : UCS2_PART;
  let units = 0;
  for (const ch of text) units += cost(ch, encoding);
  if (units === 0) return { encoding, units, segments: 1 };
  if (units <= single) return { encoding, units, segments: 1 };
  // Greedy packing: a character that does not fit whole starts the next part.
  let segments = 1;
  let used = 0;
  for (const ch of text) {
    const c = cost(ch, encoding);
    if (used + c > part) {
      segments++;
      used = 0;
    }
    used += c;
  }
  return { encoding, units, segments };
}

export interface SmsFit extends SegmentCount {
  body: string;
  truncated: boolean;
}

/**
 * Fits `text` into at most `maxSegments` segments and MAX_BODY_CHARS characters, cutting at a
 * character boundary and ending with an ellipsis (`...` in GSM-7, `…` in UCS-2) when cut.
 */
export function fitSms(text: string, maxSegments: number): SmsFit {
  const body = normaliseForSms(text);
  const encoding: SmsEncoding = isGsm7(body) ? 'GSM-7' : 'UCS-2';
  const fits = (s: string) => s.length <= MAX_BODY_CHARS && countSegments(s, encoding).segments <= maxSegments;
  if (fits(body)) return { body, truncated: false, ...countSegments(body, encoding) };
  const ellipsis = encoding === 'GSM-7' ? '...' : '…';
  const chars = Array.from(body);
  // Largest prefix (in characters) that fits with the ellipsis: binary search, fits() is monotone.
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(chars.slice(0, mid).join('') + ellipsis)) lo = mid;
    else hi = mid - 1;
  }
  const cut = chars.slice(0, lo).join('').trimEnd() + ellipsis;
  return { body: cut, truncated: true, ...countSegments(cut, encoding) };
}
