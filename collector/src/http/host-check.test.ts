import { describe, expect, it } from 'vitest';
import { hostCheck } from './host-check.ts';

describe('hostCheck (DNS rebinding)', () => {
  it('on a loopback address: IP literals, localhost and *.localhost, and the allowed names', () => {
    const allow = hostCheck('127.0.0.1', ['periscope.example.com'])!;
    for (const h of ['127.0.0.1:4318', 'localhost:4318', 'LOCALHOST', 'localhost.', 'grafana.localhost:4318', '[::1]:4318', '10.0.0.5', 'periscope.example.com', 'Periscope.Example.com:443', undefined]) {
      expect(allow(h), String(h)).toBe(true);
    }
    for (const h of ['evil.example:4318', '127.0.0.1.evil.example', 'localhost.evil.example', 'example.com', 'a/b', 'user@localhost', '']) {
      expect(allow(h), h).toBe(false);
    }
    expect(hostCheck('::1', [])!('evil.example')).toBe(false);
    expect(hostCheck('localhost', [])!('evil.example')).toBe(false);
  });

  it('on other addresses every Host is served unless names are listed; "*" serves every Host anywhere', () => {
    expect(hostCheck('0.0.0.0', [])).toBeUndefined();
    expect(hostCheck('10.1.2.3', [])).toBeUndefined();
    expect(hostCheck('127.0.0.1', ['*'])).toBeUndefined();
    const listed = hostCheck('0.0.0.0', ['periscope.example.com'])!;
    expect(listed('periscope.example.com:4318')).toBe(true);
    expect(listed('evil.example')).toBe(false);
  });
});
