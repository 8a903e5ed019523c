import { describe, expect, it } from 'vitest';
import { PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE, PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME } from './errors.ts';
import { SyslogFrameSplitter } from './framing.ts';
import type { FrameEvent } from './framing.ts';

const TOO_LARGE = PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE;
const TRUNCATED = PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME;

/** Octet-counting frame: MSG-LEN (in bytes) SP MSG. */
function oc(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}

/** Frames as strings, errors as { error: code }. */
type Out = string | { error: string };

function simplify(events: FrameEvent[]): Out[] {
  return events.map((e) => (e.ok ? e.frame.toString('utf8') : { error: e.code }));
}

/** Pushes the chunks, then ends the stream: closed by the sender (`end`) or cut (`abort`). */
function run(chunks: (string | Buffer)[], maxFrameBytes = 1024, close: 'end' | 'abort' = 'end'): Out[] {
  const splitter = new SyslogFrameSplitter({ maxFrameBytes });
  const events: FrameEvent[] = [];
  for (const c of chunks) events.push(...splitter.push(typeof c === 'string' ? Buffer.from(c) : c));
  events.push(...(close === 'end' ? splitter.end() : splitter.abort()));
  return simplify(events);
}

const A = '<34>1 - host app - - - first';
const B = '<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [x@1 a="b"] second';
const C = '<14>1 - h - - - - third: multi\nline ✓ 日本';
/** A multi-line message sent LF framed: its second line is a frame of its own. */
const FAILED = '<13>1 2026-12-06T19:20:00Z h a - - - failed:';
const TEN = Array.from({ length: 10 }, (_, n) => `<13>1 2026-12-06T19:20:0${n}Z h a - - - valid ${n}`);

describe('SyslogFrameSplitter: whole streams', () => {
  const cases: { name: string; chunks: (string | Buffer)[]; max?: number; expected: Out[] }[] = [
    { name: 'octet counting, one frame', chunks: [oc(A)], expected: [A] },
    { name: 'octet counting, frames back to back', chunks: [oc(A) + oc(B) + oc(A)], expected: [A, B, A] },
    { name: 'octet counting keeps LF inside the message and counts bytes, not chars', chunks: [oc(C) + oc(A)], expected: [C, A] },
    // rsyslog's RSYSLOG_SyslogProtocol23Format and syslog-ng's syslog() count a LF at the end of every message
    { name: 'octet counting, one LF (or CR LF) ending the message is dropped', chunks: [oc(`${A}\n`) + oc(`${B}\r\n`) + oc(`${A}\n\n`)], expected: [A, B, `${A}\n`] },
    { name: 'LF framing', chunks: [`${A}\n${B}\n`], expected: [A, B] },
    { name: 'CR LF framing', chunks: [`${A}\r\n${B}\r\n`], expected: [A, B] },
    { name: 'NUL trailer', chunks: [`${A}\0${B}\0`], expected: [A, B] },
    { name: 'CR inside a LF frame is kept, only the one before LF is dropped', chunks: [`${A}\rX\r\r\n`], expected: [`${A}\rX\r`] },
    { name: 'blank lines and stray trailers are skipped', chunks: [`\n\r\n\0${A}\n\n\n${B}\n`], expected: [A, B] },
    {
      name: 'a connection that starts octet-counted may mix in LF frames',
      chunks: [`${oc(A)}${B}\n${oc(C)}${A}\r\n${oc(B)}${C.replace('\n', ' ')}\0`],
      expected: [A, B, C, A, B, C.replace('\n', ' ')],
    },
    { name: 'octet-counted frame followed by a LF trailer', chunks: [`${oc(A)}\n${oc(B)}\n`], expected: [A, B] },
    { name: 'blank lines before the first frame do not decide the framing', chunks: [`\n\r\n\0${oc(A)}${oc(B)}`], expected: [A, B] },
    {
      name: 'a continuation line "digits SP text" on a LF connection is a bad frame, the frames after it are kept',
      chunks: [`${FAILED}\n404 page not found\n${TEN.map((m) => `${m}\n`).join('')}`],
      expected: [FAILED, '404 page not found', ...TEN],
    },
    {
      name: 'a LF connection never reads an octet count, even before "<"',
      chunks: [`${A}\n12 <b>bold</b> text\n${B}\n`],
      expected: [A, '12 <b>bold</b> text', B],
    },
    {
      name: 'a LF connection does not switch to octet counting (the frame is read up to its LF)',
      chunks: [`${A}\n${oc(B)}\n${C.replace('\n', ' ')}\n`],
      expected: [A, oc(B), C.replace('\n', ' ')],
    },
    {
      name: 'on an octet-counting connection, "digits SP" before anything but "<" is a LF frame',
      chunks: [`${oc(A)}404 page not found\n${oc(B)}`],
      expected: [A, '404 page not found', B],
    },
    { name: 'a first frame "digits SP text" makes the connection LF framed', chunks: [`5 hello\n${oc(A)}\n`], expected: ['5 hello', oc(A)] },
    { name: 'leading digits without SP are not an octet count', chunks: [`123abc\n${A}\n`], expected: ['123abc', A] },
    { name: 'digits then LF is a (bad) LF frame', chunks: [`42\n${A}\n`], expected: ['42', A] },
    { name: 'more than 10 digits is not an octet count', chunks: [`12345678901 x\n${A}\n`], expected: ['12345678901 x', A] },
    { name: 'a frame starting with 0 is LF framed', chunks: [`0 x\n`], expected: ['0 x'] },
    { name: 'frame of exactly maxFrameBytes (LF)', chunks: [`${'x'.repeat(16)}\n`], max: 16, expected: ['x'.repeat(16)] },
    { name: 'frame of exactly maxFrameBytes (CR LF)', chunks: [`${'x'.repeat(16)}\r\n`], max: 16, expected: ['x'.repeat(16)] },
    { name: 'frame of exactly maxFrameBytes (octet counting)', chunks: [oc(`<${'x'.repeat(15)}`)], max: 16, expected: [`<${'x'.repeat(15)}`] },
    // rsyslog and syslog-ng count a LF into MSG-LEN: the message is maxFrameBytes, the count is more.
    { name: 'frame of exactly maxFrameBytes with a counted LF or CR LF (octet counting)', chunks: [oc(`<${'x'.repeat(15)}\n`) + oc(`<${'y'.repeat(15)}\r\n`)], max: 16, expected: [`<${'x'.repeat(15)}`, `<${'y'.repeat(15)}`] },
    { name: 'a counted LF does not make room for more text (octet counting)', chunks: [oc(`<${'x'.repeat(16)}\n`) + oc(`<${'y'.repeat(17)}`) + oc('<1>ok')], max: 16, expected: [{ error: TOO_LARGE }, { error: TOO_LARGE }, '<1>ok'] },
    {
      name: 'oversize LF frame skipped, next frame OK',
      chunks: [`${'x'.repeat(41)}\n${A}\n`],
      max: 40,
      expected: [{ error: TOO_LARGE }, A],
    },
    {
      name: 'oversize LF frame spanning chunks is discarded up to the next LF',
      chunks: ['y'.repeat(30), 'y'.repeat(30), `yyy\n${A}`, '\n'],
      max: 40,
      expected: [{ error: TOO_LARGE }, A],
    },
    {
      name: 'oversize octet-counted frame skipped by its count, even if it contains LFs',
      chunks: [`${oc(`<14>big\n${'z'.repeat(60)}\n<14>1 fake`)}${oc(A)}`],
      max: 40,
      expected: [{ error: TOO_LARGE }, A],
    },
    {
      name: 'oversize octet count larger than the data received so far',
      chunks: [`99999 <${'z'.repeat(100)}`],
      max: 40,
      expected: [{ error: TOO_LARGE }],
    },
    {
      name: 'truncated octet-counted frame at close is an error, not a frame',
      chunks: [oc(A), oc(B).slice(0, 20)],
      expected: [A, { error: TRUNCATED }],
    },
    { name: 'a last LF frame without trailer is kept when the sender closes', chunks: [`${A}\n${B}`], expected: [A, B] },
    { name: 'a single frame without trailer is kept when the sender closes', chunks: [A], expected: [A] },
    { name: 'a last frame without trailer after octet-counted ones is kept', chunks: [`${oc(A)}${B}`], expected: [A, B] },
    { name: 'a last frame cut in its CR LF trailer loses the CR', chunks: [`${A}\r`], expected: [A] },
    { name: 'a last frame of maxFrameBytes and a CR', chunks: [`${'x'.repeat(16)}\r`], max: 16, expected: ['x'.repeat(16)] },
    { name: 'an oversize last frame without trailer is only reported once', chunks: ['x'.repeat(41)], max: 40, expected: [{ error: TOO_LARGE }] },
    { name: 'stream ending inside MSG-LEN is an error', chunks: [`${oc(A)}12`], expected: [A, { error: TRUNCATED }] },
    { name: 'stream ending right after MSG-LEN SP is an error', chunks: [`${oc(A)}12 `], expected: [A, { error: TRUNCATED }] },
    { name: 'stream ending after a lone CR is not an error', chunks: [`${A}\n\r`], expected: [A] },
    { name: 'empty stream', chunks: [], expected: [] },
  ];

  it.each(cases)('$name', ({ chunks, max, expected }) => {
    expect(run(chunks, max)).toEqual(expected);
  });
});

describe('SyslogFrameSplitter: every chunk split point', () => {
  // Three frames, one per framing style, with multi-byte UTF-8 and an embedded LF.
  const stream = Buffer.from(`${oc(C)}${B}\r\n${oc(A)}`);
  const expected: Out[] = [C, B, A];

  it('one push gives the three frames', () => {
    expect(run([stream])).toEqual(expected);
  });

  it('every split into two chunks', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(run([stream.subarray(0, i), stream.subarray(i)]), `split at ${i}`).toEqual(expected);
    }
  });

  it('every split into three chunks', () => {
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const out = run([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]);
        if (JSON.stringify(out) !== JSON.stringify(expected)) {
          expect(out, `split at ${i}, ${j}`).toEqual(expected);
        }
      }
    }
  });

  it('one byte at a time', () => {
    const chunks = [...stream].map((b) => Buffer.from([b]));
    expect(run(chunks)).toEqual(expected);
  });

  const max = 64;
  const Y = `<${'y'.repeat(max - 1)}`;
  const withErrors = Buffer.from(
    `${oc(A)}${'L'.repeat(100)}\n${oc(A)}${oc(`<${'O'.repeat(90)}`)}${A}\n${'x'.repeat(max)}\r\n${oc(Y)}404 not a count\n`,
  );
  const expectedWithErrors: Out[] = [A, { error: TOO_LARGE }, A, { error: TOO_LARGE }, A, 'x'.repeat(max), Y, '404 not a count'];

  it('oversize frames: every split into two chunks gives the same events', () => {
    for (let i = 0; i <= withErrors.length; i++) {
      expect(run([withErrors.subarray(0, i), withErrors.subarray(i)], max), `split at ${i}`).toEqual(expectedWithErrors);
    }
  });

  it('oversize frames: one byte at a time', () => {
    expect(run([...withErrors].map((b) => Buffer.from([b])), max)).toEqual(expectedWithErrors);
  });

  const full = Buffer.from(`${oc(A)}${B}\n`);
  const firstEnd = Buffer.byteLength(oc(A));

  it('the sender closing at any point: a short octet-counted frame is reported, a LF frame is kept', () => {
    for (let cut = 1; cut < full.length; cut++) {
      const out = run([full.subarray(0, cut)]);
      if (cut < firstEnd) expect(out, `cut at ${cut}`).toEqual([{ error: TRUNCATED }]);
      else if (cut === firstEnd) expect(out, `cut at ${cut}`).toEqual([A]);
      else expect(out, `cut at ${cut}`).toEqual([A, full.toString('utf8', firstEnd, cut)]);
    }
  });

  it('a cut stream (reset): the frame in progress is reported at every cut point, never emitted', () => {
    for (let cut = 1; cut < full.length; cut++) {
      const out = run([full.subarray(0, cut)], 1024, 'abort');
      if (cut < firstEnd) expect(out, `cut at ${cut}`).toEqual([{ error: TRUNCATED }]);
      else if (cut === firstEnd) expect(out, `cut at ${cut}`).toEqual([A]);
      else expect(out, `cut at ${cut}`).toEqual([A, { error: TRUNCATED }]);
    }
    expect(run([`${A}\n\r`], 1024, 'abort')).toEqual([A]);
  });
});

describe('SyslogFrameSplitter: behaviour', () => {
  it('does not buffer an oversize LF frame', () => {
    const splitter = new SyslogFrameSplitter({ maxFrameBytes: 100 });
    const events = splitter.push(Buffer.alloc(1_000_000, 0x61));
    expect(simplify(events)).toEqual([{ error: TOO_LARGE }]);
    // Still discarding: more data without LF produces nothing, the LF ends the discard.
    expect(splitter.push(Buffer.alloc(1_000_000, 0x61))).toEqual([]);
    expect(simplify(splitter.push(Buffer.from(`tail\n${A}\n`)))).toEqual([A]);
  });

  it('is reusable after end() and abort(), and the next stream decides its framing anew', () => {
    const splitter = new SyslogFrameSplitter({ maxFrameBytes: 100 });
    expect(simplify(splitter.push(Buffer.from('57 <14>1')))).toEqual([]);
    expect(simplify(splitter.end())).toEqual([{ error: TRUNCATED }]);
    expect(simplify(splitter.push(Buffer.from(`${A}\n`)))).toEqual([A]);
    expect(splitter.end()).toEqual([]);
    expect(simplify(splitter.push(Buffer.from(oc(A))))).toEqual([A]);
    expect(simplify(splitter.push(Buffer.from(B)))).toEqual([]);
    expect(simplify(splitter.abort())).toEqual([{ error: TRUNCATED }]);
    expect(simplify(splitter.push(Buffer.from(`${A}\n`)))).toEqual([A]);
    expect(splitter.end()).toEqual([]);
  });

  it('rejects a non-positive maxFrameBytes', () => {
    expect(() => new SyslogFrameSplitter({ maxFrameBytes: 0 })).toThrow(RangeError);
  });

  it('error events carry a message', () => {
    const splitter = new SyslogFrameSplitter({ maxFrameBytes: 10 });
    const [event] = splitter.push(Buffer.from('99 <'));
    expect(event.ok).toBe(false);
    if (!event.ok) expect(event.message).toMatch(/99 bytes exceeds maxFrameBytes 10/);
  });
});
