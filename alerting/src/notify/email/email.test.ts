// The SMTP connection options an `email` integration of periscope.yaml gets: implicit TLS follows
// the port unless `secure` says otherwise (Alertmanager's email receiver does TLS on 465).
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../dispatch/duration.ts';
import { parseNotifyConfig } from '../../notify-config.ts';
import { smtpTransportOptions } from './email.ts';

function optionsFor(smtp: Record<string, unknown>) {
  const config = parseNotifyConfig({
    receivers: [{ name: 'mail', email: [{ to: 'ops@example.com', from: 'alerts@example.com', smtp: { host: 'smtp.example.com', ...smtp } }] }],
    route: { receiver: 'mail' },
  });
  const email = config.receivers[0].email![0];
  return smtpTransportOptions({ ...email, to: [String(email.to)], timeoutMs: parseDuration(email.timeout) });
}

describe('SMTP transport options', () => {
  it.each([
    { name: 'port 465 alone: TLS from the first byte', smtp: { port: 465 }, secure: true },
    { name: 'default port 587: plain, then STARTTLS', smtp: {}, secure: false },
    { name: 'port 25: plain, then STARTTLS', smtp: { port: 25 }, secure: false },
    { name: 'secure: true on another port', smtp: { port: 2465, secure: true }, secure: true },
    { name: 'secure: false on 465 is kept', smtp: { port: 465, secure: false }, secure: false },
  ])('$name', ({ smtp, secure }) => {
    expect(optionsFor(smtp).secure).toBe(secure);
  });
});
