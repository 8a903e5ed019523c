import { describe, expect, it } from 'vitest';
import { backoffMs, decide, parseRetryAfter, retryDelayMs, BACKOFF_CAP_MS, RETRY_AFTER_MAX_MS } from '../src/logs/retry.ts';

describe('decide(status)', () => {
  it.each([
    { name: '200', status: 200, expected: 'ok' },
    { name: '202', status: 202, expected: 'ok' },
    { name: '400 bad request', status: 400, expected: 'permanent' },
    { name: '401', status: 401, expected: 'permanent' },
    { name: '404', status: 404, expected: 'permanent' },
    { name: '408 request timeout', status: 408, expected: 'retry' },
    { name: '409 key being handled', status: 409, expected: 'retry' },
    { name: '413 too large', status: 413, expected: 'split' },
    { name: '415 media type', status: 415, expected: 'permanent' },
    { name: '429 too many', status: 429, expected: 'retry' },
    { name: '500', status: 500, expected: 'retry' },
    { name: '502', status: 502, expected: 'retry' },
    { name: '503', status: 503, expected: 'retry' },
  ])('$name → $expected', ({ status, expected }) => {
    expect(decide(status)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-02T03:04:05Z');
  it.each([
    { name: 'delta seconds', value: '3', expected: 3000 },
    { name: 'zero', value: '0', expected: 0 },
    { name: 'whitespace', value: ' 7 ', expected: 7000 },
    { name: 'HTTP date in the future', value: 'Fri, 02 Jan 2026 03:04:15 GMT', expected: 10_000 },
    { name: 'HTTP date in the past', value: 'Fri, 02 Jan 2026 03:00:00 GMT', expected: 0 },
    { name: 'huge value clamped', value: '999999', expected: RETRY_AFTER_MAX_MS },
    { name: 'absent', value: null, expected: undefined },
    { name: 'empty', value: '', expected: undefined },
    { name: 'negative', value: '-5', expected: undefined },
    { name: 'fraction', value: '1.5', expected: undefined },
    { name: 'garbage', value: 'soon', expected: undefined },
  ])('$name: $value → $expected', ({ value, expected }) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('backoff with full jitter', () => {
  it.each([
    { name: 'attempt 0, top of range', attempt: 0, random: 0.999999, expected: 199 },
    { name: 'attempt 1, top of range', attempt: 1, random: 0.999999, expected: 399 },
    { name: 'attempt 3, half', attempt: 3, random: 0.5, expected: 800 },
    { name: 'capped at 30 s', attempt: 20, random: 0.999999, expected: BACKOFF_CAP_MS - 1 },
    { name: 'huge attempt stays capped', attempt: 5000, random: 0.5, expected: BACKOFF_CAP_MS / 2 },
    { name: 'jitter can be zero', attempt: 6, random: 0, expected: 0 },
  ])('$name', ({ attempt, random, expected }) => {
    expect(backoffMs(attempt, () => random)).toBe(expected);
  });

  it.each([
    { name: 'Retry-After longer than backoff wins', attempt: 0, retryAfter: 5000, expected: 5000 },
    { name: 'backoff longer than Retry-After wins', attempt: 10, retryAfter: 1000, expected: 15_000 },
    { name: 'no Retry-After → backoff', attempt: 2, retryAfter: undefined, expected: 400 },
  ])('retryDelayMs: $name', ({ attempt, retryAfter, expected }) => {
    expect(retryDelayMs(attempt, retryAfter, () => 0.5)).toBe(expected);
  });
});
