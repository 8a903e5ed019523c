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
  const peer = `127.0.0.1:${socket.localPort}`;
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
  // The sender gets no answer: the collector's log says what was refused, why and from whom.
  const refusal = await waitFor(() => collector.output().split('\n').find((l) => l.includes('PRI 999 is above 191')));
  expect(JSON.parse(refusal)).toMatchObject({
    level: 40, receiver: 'syslog', code: 'PERISCOPE_ERR_SYSLOG_BAD_PRI', peer, msg: 'syslog frame refused: PRI 999 is above 191',
  });
});

it('UDP: one message per datagram, including non-UTF-8 bytes', async () => {
  const app = `udp${Date.now()}`;
  const client = dgram.createSocket('udp4');
  const send = (buf: Buffer) => new Promise<void>((resolve, reject) => client.send(buf, collector.syslogPort!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  await send(Buffer.from(`<14>1 2026-03-01T11:00:00Z h ${app} - - - udp one`));
  await send(Buffer.from('<14>1 not-a-timestamp h x - - - broken'));
  await send(Buffer.concat([Buffer.from(`<14>1 2026-03-01T11:00:01Z h ${app} - - - bad bytes `), Buffer.from([0xc3, 0x28])]));
  // RFC 3164 (BSD syslog) as rsyslog forwards by default: "Mmm dd hh:mm:ss" without a year, read as UTC
  const bsdAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const bsd = `${bsdAt.toUTCString().slice(8, 11)} ${String(bsdAt.getUTCDate()).padStart(2, ' ')} ${bsdAt.toISOString().slice(11, 19)}`;
  await send(Buffer.from(`<13>${bsd} web-7 ${app}[77]: bsd three`));
  const records = await waitFor(async () => {
    const r = await search(`service=${app}`);
    return r.length === 3 ? r : undefined;
  });
  client.close();
  expect(records.map((r) => r.msg)).toEqual(['bsd three', 'bad bytes \uFFFD(', 'udp one']); // newest first
  expect(records[1].attributes).toEqual({ invalidUtf8: true });
  expect(records[0]).toMatchObject({ timestamp: `${bsdAt.toISOString().slice(0, 19)}.000000Z`, hostname: 'web-7', procId: '77', severity: 5 });
});

it('syslog.timeZone: RFC 3164 timestamps of a sender on local time are read in its zone', async () => {
  const zoned = await startCollectorProcess({ configYaml: 'syslog:\n  timeZone: Asia/Kolkata\n' });
  const client = dgram.createSocket('udp4');
  try {
    const app = `zone${Date.now()}`;
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const kolkata = new Date(at.getTime() + 5.5 * 3_600_000); // its UTC fields are Kolkata's wall clock (+05:30, no DST)
    const bsd = `${kolkata.toUTCString().slice(8, 11)} ${String(kolkata.getUTCDate()).padStart(2, ' ')} ${kolkata.toISOString().slice(11, 19)}`;
    await new Promise<void>((resolve, reject) => client.send(Buffer.from(`<13>${bsd} sw-1 ${app}: link up`), zoned.syslogPort!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    const records = await waitFor(async () => {
      const r = ((await (await fetch(`${zoned.url}/api/v1/logs?service=${app}`)).json()) as { records: any[] }).records;
      return r.length === 1 ? r : undefined;
    });
    expect(records[0]).toMatchObject({ timestamp: `${at.toISOString().slice(0, 19)}.000000Z`, hostname: 'sw-1', msg: 'link up' });
  } finally {
    client.close();
    await zoned.stop();
  }
});

it('TCP back-pressure: while an exporter is at its backlog bound the connection pauses; nothing is lost', async () => {
  const { startLokiServer } = await import('./servers/loki.ts');
  const loki = await startLokiServer();
  await loki.setFault({ mode: 'down' });
  const bounded = await startCollectorProcess({
    configYaml: `store:
  retention:
    maxAge: 3650d
exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    batch: { wait: 50ms }
    retry: { initialBackoff: 50ms, maxBackoff: 200ms }
    circuitBreaker: { openDuration: 200ms, maxOpenDuration: 500ms }
    queue: { maxRecords: 100, policy: backpressure }
`,
  });
  try {
    const app = `bp${Date.now()}`;
    const socket = net.connect(bounded.syslogPort!, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const health = async () => ((await (await fetch(`${bounded.url}/health/detailed`)).json()) as any).components.syslog;
    // Keep sending until the collector refuses (the backlog bound is checked about once a second)
    // and the connection pauses; the sender's writes then queue on its side.
    let sent = 0;
    while ((await health()).pausedConnections !== 1) {
      if (sent > 20_000) throw new Error('the connection never paused');
      const now = new Date().toISOString(); // Loki refuses entries older than a week
      socket.write(Array.from({ length: 50 }, (_, i) => `<14>1 ${now} host ${app} - - - line ${sent + i}\n`).join(''));
      sent += 50;
      await new Promise((r) => setTimeout(r, 100));
    }
    await loki.setFault({ mode: 'none' });
    await waitFor(async () => loki.entries().filter((e) => e.line.startsWith('line ')).length === sent, 30_000);
    socket.end();
    const stored = await (await fetch(`${bounded.url}/api/v1/logs/export?service=${app}`)).text();
    expect(stored.trim().split('\n')).toHaveLength(sent);
    expect((await health()).framesRejected).toBe(0);
  } finally {
    await bounded.stop();
    await loki.close();
  }
});
