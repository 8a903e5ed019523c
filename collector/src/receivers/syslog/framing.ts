// RFC 6587 syslog-over-TCP framing: https://www.rfc-editor.org/rfc/rfc6587#section-3.4
//
// Each frame is detected on its own (§3.4.2: a syslog message starts with "<", so a leading
// digit means octet counting), hence both methods may be mixed on one connection:
//   - octet counting (§3.4.1):  MSG-LEN SP SYSLOG-MSG,  MSG-LEN = NONZERO-DIGIT *DIGIT
//   - non-transparent (§3.4.2): SYSLOG-MSG TRAILER, TRAILER = LF (CR LF and NUL tolerated)
//
// A leading digit run that is not followed by SP (or is longer than 10 digits) is not an octet
// count; the frame is then read as non-transparent, up to the next trailer, and the parser
// rejects it. Empty non-transparent frames (blank lines, a stray trailer after an
// octet-counted frame) are skipped silently.
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
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
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
type State = typeof START | typeof COUNT | typeof OCTETS | typeof SKIP | typeof LINE | typeof DISCARD;

export class SyslogFrameSplitter {
  readonly maxFrameBytes: number;
  #state: State = START;
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
          if (c >= D1 && c <= D9) {
            this.#state = COUNT;
            this.#len = 0;
            this.#lenDigits = 0;
          } else {
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
            this.#remaining = this.#len;
            if (this.#len > max) {
              out.push(tooLarge(`octet-counted frame of ${this.#len} bytes exceeds maxFrameBytes ${max}`));
              this.#state = SKIP;
            } else {
              this.#state = OCTETS;
            }
          } else {
            // Not an octet count: the digits belong to a non-transparent frame.
            this.#state = LINE;
            this.#parts.push(Buffer.from(String(this.#len), 'latin1'));
            this.#partsLen = this.#lenDigits;
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
            out.push({ ok: true, frame: this.#takeParts() });
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
            let frame = this.#takeParts();
            if (frame.length > 0 && frame[frame.length - 1] === CR) frame = frame.subarray(0, frame.length - 1);
            if (frame.length > 0) out.push({ ok: true, frame });
          }
          break;
        }
      }
    }
    return out;
  }

  /**
   * The stream ended (connection closed). A frame still in progress is reported as
   * TRUNCATED_FRAME and dropped, never emitted: it cannot be told apart from a cut message.
   * The splitter is reset and may be reused.
   */
  end(): FrameEvent[] {
    const state = this.#state;
    const pending = this.#partsLen;
    const lenDigits = this.#lenDigits;
    let onlyCr = false;
    if (state === LINE && pending === 1) onlyCr = this.#parts[0][0] === CR;
    this.reset();
    if (state === COUNT) {
      return [truncated(`stream ended inside a ${lenDigits}-digit MSG-LEN`)];
    }
    if (state === OCTETS) {
      return [truncated(`stream ended ${pending} bytes into an octet-counted frame`)];
    }
    if (state === LINE && pending > 0 && !onlyCr) {
      return [truncated(`stream ended with ${pending} bytes and no trailer`)];
    }
    return [];
  }

  /** Drops any partial frame and returns to a frame boundary. */
  reset(): void {
    this.#state = START;
    this.#len = 0;
    this.#lenDigits = 0;
    this.#remaining = 0;
    this.#dropParts();
  }

  #takeParts(): Buffer {
    const parts = this.#parts;
    const frame = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.#partsLen);
    this.#dropParts();
    return frame;
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

function tooLarge(message: string): FrameEvent {
  return { ok: false, code: PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE, message };
}

function truncated(message: string): FrameEvent {
  return { ok: false, code: PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME, message };
}
