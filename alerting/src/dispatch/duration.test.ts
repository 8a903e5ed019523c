import { expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

it.each([
  ['250ms', 250],
  ['1h30m', 5_400_000],
  ['2w', 14 * 86_400_000],
  ['1y', 365 * 86_400_000], // Prometheus' year: retention written as 1y is common
  ['1y2w', (365 + 14) * 86_400_000],
  ['0', 0],
])('%s is %d ms', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

it.each(['', '1', '5 m', '1mo', '-1s', '1h ', 'y'])('%j is refused', (text) => {
  expect(parseDuration(text)).toBeNaN();
});
