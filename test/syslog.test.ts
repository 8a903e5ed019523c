// Syslog RFC 5424 into the real collector: TCP (octet counting + LF framing) and UDP, with
// malformed frames between valid ones; the valid ones are stored and searchable.
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;
beforeAll(async () => {
  // Records carry fixed 2026 dates: keep retention from deleting them mid-run.
  collector = await startCollectorProcess({ configYaml: 'store:\n  retention:\n    maxAge: 3650d\n' });
});
afterAll(async () => {
  await collector?.stop();
});

async function search(query: string): Promise<any[]> {
  return ((await (await fetch(`${collector.url}/api/v1/logs?${query}`)).json()) as { records: any[] }).records;
}

const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

it('TCP: valid frames around malformed ones are stored, the connection survives', async () => {
  const app = `tcp${Date.now()}`;
  const frames = [
    octet(`<165>1 2026-03-01T10:00:00.000001Z host1 ${app} 42 ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] first ✓`),
    octet('<999>1 garbage'), // bad PRI
    `<34>1 2026-03-01T10:00:01.5+01:00 host1 ${app} - - - second\n`, // LF framing on the same connection
    'this is not syslog at all\n',
    octet(`<11>1 2026-03-01T10:00:02Z host1 ${app} - - [a@1 k="with \\"quote\\" and \\] bracket"] third`),
  ];
  const socket = net.connect(collector.syslogPort!, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  // Split the stream at awkward places: frames must survive chunk boundaries.
  const stream = Buffer.from(frames.join(''));
  for (let i = 0; i < stream.length; i += 37) socket.write(stream.subarray(i, i + 37));
  const records = await waitFor(async () => {
    const r = await search(`service=${app}`);
    return r.length === 3 ? r : undefined;
  });
  socket.end();
  expect(records.map((r) => r.msg)).toEqual(['third', 'first ✓', 'second']);
  const first = records[1];
  expect(first).toMatchObject({
    timestamp: '2026-03-01T10:00:00.000001Z', facility: 20, severity: 5, level: 'notice', hostname: 'host1', procId: '42', msgId: 'ID47',
    structuredData: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } },
  });
  expect(records[2].timestamp).toBe('2026-03-01T09:00:01.500000Z');
  expect(records[0].structuredData).toEqual({ 'a@1': { k: 'with "quote" and ] bracket' } });
  const metrics = await (await fetch(`${collector.url}/metrics`)).text();
  const rejected = [...metrics.matchAll(/periscope_receiver_rejected_records_total\{receiver="syslog",reason="[^"]+"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  expect(rejected).toBeGreaterThanOrEqual(2);
});

it('UDP: one message per datagram, including non-UTF-8 bytes', async () => {
  const app = `udp${Date.now()}`;
  const client = dgram.createSocket('udp4');
  const send = (buf: Buffer) => new Promise<void>((resolve, reject) => client.send(buf, collector.syslogPort!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  await send(Buffer.from(`<14>1 2026-03-01T11:00:00Z h ${app} - - - udp one`));
  await send(Buffer.from('<14>1 not-a-timestamp h x - - - broken'));
  await send(Buffer.concat([Buffer.from(`<14>1 2026-03-01T11:00:01Z h ${app} - - - bad bytes `), Buffer.from([0xc3, 0x28])]));
  const records = await waitFor(async () => {
    const r = await search(`service=${app}`);
    return r.length === 2 ? r : undefined;
  });
  client.close();
  expect(records[1].msg).toBe('udp one');
  expect(records[0].msg).toBe('bad bytes \uFFFD(');
  expect(records[0].attributes).toEqual({ invalidUtf8: true });
});
