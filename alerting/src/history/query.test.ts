import { describe, expect, it } from 'vitest';
import { ALERT_ERR } from '../errors.ts';
import { parseHistoryQuery } from './query.ts';

const AT = Date.parse('2026-12-07T02:00:00.250Z');

describe('history since/until', () => {
  it.each([
    { name: 'epoch seconds (Grafana, date +%s)', value: '1796608800', ms: Date.parse('2026-12-07T02:00:00Z') },
    { name: 'epoch seconds with a fraction (Prometheus)', value: '1796608800.25', ms: AT },
    { name: 'epoch milliseconds', value: String(AT), ms: AT },
    { name: 'epoch microseconds', value: `${AT}123`, ms: AT },
    { name: 'epoch nanoseconds (Loki)', value: `${AT}123456`, ms: AT },
    { name: 'RFC 3339', value: '2026-12-07T02:00:00.250Z', ms: AT },
    { name: 'RFC 3339 with an offset', value: '2026-12-07T11:00:00.250+09:00', ms: AT },
    { name: 'RFC 3339 whose + the URL turned into a space', value: '2026-12-07T11:00:00.250 09:00', ms: AT },
  ])('$name', ({ value, ms }) => {
    expect(parseHistoryQuery({ since: value }).sinceMs).toBe(ms);
    expect(parseHistoryQuery({ until: value }).untilMs).toBe(ms);
  });

  it.each([
    { name: 'a word', value: 'yesterday' },
    { name: 'no zone (local time of the collector)', value: '2026-12-07T02:00:00' },
    { name: 'a date only', value: '2026-12-07' },
  ])('refuses $name naming the key', ({ value }) => {
    expect(() => parseHistoryQuery({ since: value })).toThrow(expect.objectContaining({ code: ALERT_ERR.BAD_QUERY, details: { key: 'since' } }));
  });
});
