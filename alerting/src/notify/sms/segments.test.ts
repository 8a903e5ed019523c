import { describe, expect, it } from 'vitest';
import { countSegments, fitSms, isGsm7, MAX_BODY_CHARS, normaliseForSms } from './segments.ts';

describe('SMS segments', () => {
  it.each([
    { name: 'empty', text: '', encoding: 'GSM-7', units: 0, segments: 1 },
    { name: '160 GSM-7 chars: one segment', text: 'a'.repeat(160), encoding: 'GSM-7', units: 160, segments: 1 },
    { name: '161 GSM-7 chars: two parts of ≤153', text: 'a'.repeat(161), encoding: 'GSM-7', units: 161, segments: 2 },
    { name: '306 GSM-7 chars: two parts', text: 'a'.repeat(306), encoding: 'GSM-7', units: 306, segments: 2 },
    { name: '307 GSM-7 chars: three parts', text: 'a'.repeat(307), encoding: 'GSM-7', units: 307, segments: 3 },
    { name: 'extension chars count two septets', text: '{'.repeat(80), encoding: 'GSM-7', units: 160, segments: 1 },
    { name: '81 extension chars: 162 septets, two parts', text: '€'.repeat(81), encoding: 'GSM-7', units: 162, segments: 2 },
    { name: 'an escape pair never straddles parts', text: `${'a'.repeat(152)}€${'a'.repeat(10)}`, encoding: 'GSM-7', units: 164, segments: 2 },
    { name: 'escape at a part boundary moves to the next part (306 septets, 3 parts)', text: `${'a'.repeat(152)}${'€'.repeat(77)}`, encoding: 'GSM-7', units: 306, segments: 3 },
    { name: 'GSM-7 accented letters stay GSM-7', text: 'é'.repeat(160), encoding: 'GSM-7', units: 160, segments: 1 },
    { name: 'Korean: 70 UCS-2 units, one segment', text: '가'.repeat(70), encoding: 'UCS-2', units: 70, segments: 1 },
    { name: 'Korean: 71 units, two parts of ≤67', text: '가'.repeat(71), encoding: 'UCS-2', units: 71, segments: 2 },
    { name: 'Korean: 134 units, two parts', text: '가'.repeat(134), encoding: 'UCS-2', units: 134, segments: 2 },
    { name: 'Korean: 135 units, three parts', text: '가'.repeat(135), encoding: 'UCS-2', units: 135, segments: 3 },
    { name: 'one non-GSM char switches everything to UCS-2', text: `${'a'.repeat(69)}ç`, encoding: 'UCS-2', units: 70, segments: 1 },
    { name: 'an emoji is two UCS-2 units and never splits', text: `${'a'.repeat(66)}🚨`, encoding: 'UCS-2', units: 68, segments: 1 },
    { name: 'emoji at a part boundary goes to the next part', text: `${'a'.repeat(66)}🚨${'a'.repeat(10)}`, encoding: 'UCS-2', units: 78, segments: 2 },
  ])('$name', ({ text, encoding, units, segments }) => {
    expect(countSegments(text)).toEqual({ encoding, units, segments });
  });

  it('knows the GSM 03.38 basic set (127 printable + ESC) and extension table', () => {
    expect(isGsm7('@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà')).toBe(true);
    expect(isGsm7('^{}\\[~]|€\f')).toBe(true);
    expect(isGsm7('`')).toBe(false);
    expect(isGsm7('ç')).toBe(false);
  });

  it('replaces typographic look-alikes so English stays GSM-7', () => {
    expect(normaliseForSms('It’s “down” – now…')).toBe('It\'s "down" - now...');
    expect(fitSms('It’s down…', 1).encoding).toBe('GSM-7');
  });

  it.each([
    { name: 'GSM-7 fits as is', text: 'a'.repeat(300), max: 2, body: 'a'.repeat(300), encoding: 'GSM-7', segments: 2, truncated: false },
    { name: 'GSM-7 cut to one segment ends with ...', text: 'a'.repeat(300), max: 1, body: `${'a'.repeat(157)}...`, encoding: 'GSM-7', segments: 1, truncated: true },
    { name: 'GSM-7 cut to three parts', text: 'b'.repeat(1000), max: 3, body: `${'b'.repeat(456)}...`, encoding: 'GSM-7', segments: 3, truncated: true },
    { name: 'UCS-2 cut to one segment ends with …', text: '가'.repeat(100), max: 1, body: `${'가'.repeat(69)}…`, encoding: 'UCS-2', segments: 1, truncated: true },
    { name: 'UCS-2 cut to two parts', text: '가'.repeat(200), max: 2, body: `${'가'.repeat(133)}…`, encoding: 'UCS-2', segments: 2, truncated: true },
    { name: 'never cuts an emoji in half', text: `${'a'.repeat(68)}🚨🚨`, max: 1, body: `${'a'.repeat(68)}…`, encoding: 'UCS-2', segments: 1, truncated: true },
  ])('fit: $name', ({ text, max, body, encoding, segments, truncated }) => {
    expect(fitSms(text, max)).toMatchObject({ body, encoding, segments, truncated });
  });

  it('caps the body at 1600 characters even when more segments are allowed', () => {
    const fit = fitSms('c'.repeat(5000), 100);
    expect(fit.body.length).toBe(MAX_BODY_CHARS);
    expect(fit.body.endsWith('...')).toBe(true);
    expect(fitSms('가'.repeat(5000), 100).body.length).toBe(MAX_BODY_CHARS);
  });
});
