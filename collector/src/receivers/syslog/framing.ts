// RFC 6587 syslog-over-TCP framing: https://www.rfc-editor.org/rfc/rfc6587#section-3.4
//
//   - octet counting (§3.4.1):  MSG-LEN SP SYSLOG-MSG,  MSG-LEN = NONZERO-DIGIT *DIGIT
//   - non-transparent (§3.4.2): SYSLOG-MSG TRAILER, TRAILER = LF (CR LF and NUL tolerated)
//
// Which one a frame uses (RFC 6587 leaves the detection to the receiver):
// - A frame is octet-counted only when it starts with MSG-LEN SP "<": a SYSLOG-MSG starts with
//   PRI, whose first character is "<" (RFC 5424 §6, RFC 3164 §4.1.1). Digits and a space before
//   anything else ("404 page not found", the continuation line of a multi-line message) are the
//   start of a non-transparent frame, read up to its trailer; the parser then rejects it.
// - The first frame of a connection decides for the rest of it. After a non-transparent first
//   frame no frame is ever octet-counted: a continuation line such as "12 <b>x</b>" cannot
//   swallow the 12 bytes of the valid frames after it. On a connection that began with an
//   octet-counted frame, a frame that does not start with MSG-LEN SP "<" is read up to the next
//   trailer (a sender may put a trailer after its octet-counted frames). Senders keep one
//   framing per connection (rsyslog omfwd's TCP_Framing, syslog-ng's syslog() and network()
//   drivers), so deciding once costs nothing. (rsyslog's imtcp decides per frame on a leading
//   digit alone, which is the failure above; its remedy is to turn octet counting off for the
//   whole listener.)
// - An octet-counted SYSLOG-MSG loses one trailing LF (or CR LF, or NUL), as a datagram does
//   (receiver.ts): rsyslog's RSYSLOG_SyslogProtocol23Format and syslog-ng's syslog() driver end
//   every message with a LF inside MSG-LEN, and both drop it again on receipt (rsyslog's
//   parser.dropTrailingLFOnReception, on by default), so it is a trailer, not text. Only one: a
//   message that ends in blank lines keeps the others.
// - A MSG-LEN longer than 10 digits is not an octet count. Empty non-transparent frames (blank
//   lines, a stray trailer after an octet-counted frame) are skipped silently and decide nothing.
//
// Chunks are never copied except when one frame spans several chunks; emitted frames may be
// views on the pushed chunks, so consume them before the chunk memory is reused.

import { PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE, PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME } from './errors.ts';

export type FrameEvent =
  | { ok: true; frame: Buffer }
  | {
      ok: false;
      code: typeof PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE | typeof PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME;
      message: string;
    };

export interface FrameSplitterOptions {
  /** Largest accepted SYSLOG-MSG in bytes (without MSG-LEN prefix or trailer). */
  maxFrameBytes: number;
}

const LF = 0x0a;
/**
 * The trailer (CR LF) an octet count may hold beyond maxFrameBytes: rsyslog and syslog-ng count a
 * LF into MSG-LEN, and a message of exactly maxFrameBytes was refused for that byte.
 */
const COUNTED_TRAILER_MAX = 2;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
const LT = 0x3c;
const D0 = 0x30;
const D1 = 0x31;
const D9 = 0x39;
/** MSG-LEN longer than this is not treated as an octet count (≥ 10 GB frames are nonsense). */
const MAX_LEN_DIGITS = 10;

// States of the splitter. Plain numbers: `enum` is not erasable syntax.
const START = 0; // at a frame boundary
const COUNT = 1; // reading MSG-LEN digits
const OCTETS = 2; // collecting `remaining` bytes of an octet-counted frame
const SKIP = 3; // dropping `remaining` bytes of an oversize octet-counted frame
const LINE = 4; // collecting a non-transparent frame up to the trailer
const DISCARD = 5; // dropping an oversize non-transparent frame up to the trailer
const LEN_SP = 6; // MSG-LEN SP read: the next byte tells an octet count ("<") from a line
type State = typeof START | typeof COUNT | typeof OCTETS | typeof SKIP | typeof LINE | typeof DISCARD | typeof LEN_SP;

// Framing of the connection, decided by its first non-empty frame.
const UNDECIDED = 0;
const OCTET_COUNTING = 1;
const NON_TRANSPARENT = 2;
type Framing = typeof UNDECIDED | typeof OCTET_COUNTING | typeof NON_TRANSPARENT;

export class SyslogFrameSplitter {
  readonly maxFrameBytes: number;
  #state: State = START;
  #framing: Framing = UNDECIDED;
  /** MSG-LEN being read (COUNT) */
  #len = 0;
  #lenDigits = 0;
  /** bytes still to collect (OCTETS) or to drop (SKIP) */
  #remaining = 0;
  /** pieces of the frame being collected (OCTETS, LINE) */
  #parts: Buffer[] = [];
  #partsLen = 0;

  constructor(options: FrameSplitterOptions) {
    if (!Number.isInteger(options.maxFrameBytes) || options.maxFrameBytes < 1) {
      throw new RangeError(`maxFrameBytes must be a positive integer, got ${options.maxFrameBytes}`);
    }
    this.maxFrameBytes = options.maxFrameBytes;
  }

  /** Feeds the next chunk of the stream; returns the frames and errors it completes, in order. */
  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    const n = chunk.length;
    const max = this.maxFrameBytes;
    let i = 0;
    // Cached position of the next NUL in this chunk (-1: none left), so that looking for
    // "LF or NUL" stays linear in the chunk size.
    let nulAt = -2;
    while (i < n) {
      switch (this.#state) {
        case START: {
          const c = chunk[i];
          if (c === LF || c === NUL) {
            i++; // an empty frame: skipped, decides nothing
          } else if (c >= D1 && c <= D9 && this.#framing !== NON_TRANSPARENT) {
            this.#state = COUNT;
            this.#len = 0;
            this.#lenDigits = 0;
          } else {
            // A CR may be the start of a blank CR LF line: it does not decide the framing.
            if (c !== CR) this.#decide(NON_TRANSPARENT);
            this.#state = LINE;
          }
          break;
        }
        case COUNT: {
          const c = chunk[i];
          if (c >= D0 && c <= D9 && this.#lenDigits < MAX_LEN_DIGITS) {
            this.#len = this.#len * 10 + (c - D0);
            this.#lenDigits++;
            i++;
          } else if (c === SP) {
            i++;
            this.#state = LEN_SP;
          } else {
            this.#lineFromCount(false);
          }
          break;
        }
        case LEN_SP: {
          // Not consumed here: "<" is the first byte of the SYSLOG-MSG.
          if (chunk[i] !== LT) {
            this.#lineFromCount(true);
            break;
          }
          this.#decide(OCTET_COUNTING);
          this.#remaining = this.#len;
          if (this.#len > max + COUNTED_TRAILER_MAX) {
            out.push(tooLarge(`octet-counted frame of ${this.#len} bytes exceeds maxFrameBytes ${max}`));
            this.#state = SKIP;
          } else {
            this.#state = OCTETS;
          }
          break;
        }
        case OCTETS: {
          const take = Math.min(this.#remaining, n - i);
          this.#parts.push(chunk.subarray(i, i + take));
          this.#partsLen += take;
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) {
            const frame = withoutTrailer(this.#takeParts());
            out.push(frame.length > max ? tooLarge(`octet-counted frame of ${this.#len} bytes exceeds maxFrameBytes ${max}`) : { ok: true, frame });
            this.#state = START;
          }
          break;
        }
        case SKIP: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = START;
          break;
        }
        case LINE:
        case DISCARD: {
          if (nulAt !== -1 && nulAt < i) nulAt = chunk.indexOf(NUL, i);
          let end = chunk.indexOf(LF, i);
          if (nulAt !== -1 && (end === -1 || nulAt < end)) end = nulAt;
          if (this.#state === DISCARD) {
            if (end === -1) {
              i = n;
            } else {
              i = end + 1;
              this.#state = START;
            }
            break;
          }
          const stop = end === -1 ? n : end;
          const newLen = this.#partsLen + (stop - i);
          if (newLen > max) {
            // A CR right before the trailer belongs to the trailer (CR LF), not to the frame.
            const lastIsCr = stop > i ? chunk[stop - 1] === CR : this.#lastPartByte() === CR;
            if (newLen > max + 1 || !lastIsCr) {
              out.push(tooLarge(`non-transparent frame exceeds maxFrameBytes ${max}`));
              this.#dropParts();
              if (end === -1) {
                this.#state = DISCARD;
                i = n;
              } else {
                this.#state = START;
                i = end + 1;
              }
              break;
            }
          }
          if (stop > i) {
            this.#parts.push(chunk.subarray(i, stop));
            this.#partsLen += stop - i;
          }
          if (end === -1) {
            i = n;
          } else {
            i = end + 1;
            this.#state = START;
            const frame = this.#takeLine();
            if (frame.length > 0) out.push({ ok: true, frame });
          }
          break;
        }
      }
    }
    return out;
  }

  /**
   * The sender closed the stream (TCP FIN). A non-transparent frame in progress is its last
   * frame and is emitted without a trailer, as rsyslog's imtcp does: the sender chose to stop
   * there (`printf '<13>…' | nc`). An octet-counted frame shorter than its MSG-LEN, or a
   * MSG-LEN without its frame, is TRUNCATED_FRAME and dropped: the count says bytes are missing.
   * The splitter is reset and may be reused.
   */
  end(): FrameEvent[] {
    if (this.#state !== LINE) return this.abort();
    const frame = this.#takeLine();
    this.reset();
    return frame.length > 0 ? [{ ok: true, frame }] : [];
  }

  /**
   * The stream was cut (connection reset or error, or closed by us): a frame in progress may
   * end anywhere, so it is reported as TRUNCATED_FRAME and dropped, never emitted.
   * The splitter is reset and may be reused.
   */
  abort(): FrameEvent[] {
    const state = this.#state;
    const pending = this.#partsLen;
    const lenDigits = this.#lenDigits;
    let onlyCr = false;
    if (state === LINE && pending === 1) onlyCr = this.#parts[0][0] === CR;
    this.reset();
    if (state === COUNT) {
      return [truncated(`stream ended inside a ${lenDigits}-digit MSG-LEN`)];
    }
    if (state === LEN_SP) {
      return [truncated(`stream ended right after a ${lenDigits}-digit MSG-LEN`)];
    }
    if (state === OCTETS) {
      return [truncated(`stream ended ${pending} bytes into an octet-counted frame`)];
    }
    if (state === LINE && pending > 0 && !onlyCr) {
      return [truncated(`stream ended with ${pending} bytes and no trailer`)];
    }
    return [];
  }

  /** Drops any partial frame and forgets the framing: the next push starts a new stream. */
  reset(): void {
    this.#state = START;
    this.#framing = UNDECIDED;
    this.#len = 0;
    this.#lenDigits = 0;
    this.#remaining = 0;
    this.#dropParts();
  }

  /** The first non-empty frame of the connection sets its framing; later frames do not. */
  #decide(framing: Framing): void {
    if (this.#framing === UNDECIDED) this.#framing = framing;
  }

  /**
   * The digits read (and the SP after them, `withSp`) are no octet count: they start a
   * non-transparent frame, which the LINE state completes.
   */
  #lineFromCount(withSp: boolean): void {
    this.#decide(NON_TRANSPARENT);
    this.#state = LINE;
    const text = withSp ? `${this.#len} ` : String(this.#len);
    this.#parts.push(Buffer.from(text, 'latin1'));
    this.#partsLen = text.length;
  }

  #takeParts(): Buffer {
    const parts = this.#parts;
    const frame = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.#partsLen);
    this.#dropParts();
    return frame;
  }

  /** The non-transparent frame collected so far, without the CR of a CR LF trailer. */
  #takeLine(): Buffer {
    const frame = this.#takeParts();
    return frame.length > 0 && frame[frame.length - 1] === CR ? frame.subarray(0, frame.length - 1) : frame;
  }

  #lastPartByte(): number {
    const last = this.#parts[this.#parts.length - 1];
    return last === undefined ? -1 : last[last.length - 1];
  }

  #dropParts(): void {
    if (this.#parts.length > 0) this.#parts = [];
    this.#partsLen = 0;
  }
}

/**
 * `message` without one trailing LF, NUL or CR, or CR LF / CR NUL: the end-of-message mark that senders
 * put inside an octet count or a datagram (see the header).
 */
export function withoutTrailer(message: Buffer): Buffer {
  let end = message.length;
  if (end > 0 && (message[end - 1] === LF || message[end - 1] === NUL)) end--;
  if (end > 0 && message[end - 1] === CR) end--;
  return end === message.length ? message : message.subarray(0, end);
}

function tooLarge(message: string): FrameEvent {
  return { ok: false, code: PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE, message };
}

function truncated(message: string): FrameEvent {
  return { ok: false, code: PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME, message };
}
