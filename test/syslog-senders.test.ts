// The real syslog senders users forward from — rsyslog, syslog-ng and util-linux `logger` —
// into the real collector, with the forwarding configs their documentation gives (those in
// docs/api.md, "Forwarding from rsyslog, syslog-ng and logger"): every message arrives once,
// with its header fields, time, structured data, UTF-8 text (with and without BOM), multi-line
// text where the framing can carry it, and a message longer than the sender's default maximum;
// and a collector restarted while rsyslog forwards over TCP or TLS through an action queue gets
// every message but what rsyslog itself loses at a broken connection (see that test). Over
// TLS (RFC 5425, syslog.tls): rsyslog's gtls driver in both framings and syslog-ng's
// transport("tls"), verifying the collector's certificate, and with client certificates (mutual
// TLS); every message arrives as over TCP, and no handshake fails.
// Without a sender its tests are skipped with the reason, except in CI (CI=true) where they
// fail (test/helpers/syslog-senders.ts).
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { freePort } from './helpers/net.ts';
import { LOGGER, missingSenders, sendOctetCounted, startRsyslog, startSyslogNg, type Daemon } from './helpers/syslog-senders.ts';
import { makeTestCerts, opensslMissing } from './helpers/tls-certs.ts';

const missing = missingSenders();
for (const reason of Object.values(missing)) console.warn(`skipping its syslog sender tests: ${reason}`);

const BOM = '\uFEFF';
const run = Date.now().toString(36).slice(-5);

async function records(collector: CollectorProcess, app: string): Promise<any[]> {
  const text = await (await fetch(`${collector.url}/api/v1/logs/export?service=${encodeURIComponent(app)}`)).text();
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l));
}

async function framesRejected(collector: CollectorProcess): Promise<number> {
  return ((await (await fetch(`${collector.url}/health/detailed`)).json()) as any).components.syslog.framesRejected;
}

/** "Mmm dd hh:mm:ss" (RFC 3164) of the UTC fields of `d`. */
function bsd(d: Date): string {
  return `${d.toUTCString().slice(8, 11)} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
}

// The messages fed to rsyslog and syslog-ng (octet-counted into their TCP input), two minutes
// old so that the year of an RFC 3164 TIMESTAMP is this one.
const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
const kolkata = new Date(at.getTime() + 5.5 * 3_600_000); // its UTC fields are the wall clock at +05:30
const SENT_AT = `${kolkata.toISOString().slice(0, 19)}.123456+05:30`;
const LONG = 20_000; // over rsyslog's default maxMessageSize (8 KiB), under syslog-ng's log-msg-size (64 KiB)

function messages(app: string, multiLine: boolean): string[] {
  return [
    `<165>1 ${SENT_AT} src-host ${app} 4242 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] ${BOM}über ✓ 日本`,
    `<13>1 ${at.toISOString()} src-host ${app} 43 - - naïve café`,
    `<12>${bsd(at)} src-host ${app}[99]: bsd input`,
    `<14>1 ${at.toISOString()} src-host ${app} 45 - - long ${'x'.repeat(LONG)} end`,
    ...(multiLine ? [`<14>1 ${at.toISOString()} src-host ${app} 44 - - first line\n  second line`] : []),
  ];
}

interface Path {
  name: string;
  /** Writes RFC 5424 (else RFC 3164, whose header has no MSGID, STRUCTURED-DATA or zone). */
  ietf: boolean;
  /** Octet-counted TCP or UDP: a message may hold a LF (LF framing ends it there). */
  multiLine: boolean;
  /** The sender's time has microseconds (syslog-ng with frac-digits(6), in RFC 3164 too). */
  fraction: boolean;
  /** RFC 3164 with an RFC 3339 TIMESTAMP (rsyslog's RSYSLOG_ForwardFormat): the zone is kept. */
  rfc3339?: boolean;
  /** What arrives of the 20 000-byte message: the sender's truncation, or all of it. */
  longKept: 'all' | 'rsyslog 8 KiB';
  /** rsyslog's %msg% of an RFC 3164 message starts with the space after "TAG:". */
  bsdMsgSpace: boolean;
}

/** Checks what `path` delivered of messages(app). */
/**
 * Starts a relay (rsyslog, syslog-ng) whose input i forwards path i to the collector, feeds each
 * input its path's messages, waits until they are stored, stops the relay (what it still holds
 * goes out then), and checks each path's records and that the collector refused no frame.
 */
async function relayThrough(collector: CollectorProcess, paths: Path[], inputs: number[], start: () => Promise<{ stop(): Promise<unknown> }>): Promise<void> {
  const rejectedBefore = await framesRejected(collector);
  const relay = await start();
  try {
    await Promise.all(paths.map((p, i) => sendOctetCounted(inputs[i], messages(`${p.name}-${run}`, p.multiLine))));
    await waitFor(async () => {
      for (const p of paths) if ((await records(collector, `${p.name}-${run}`)).length < (p.multiLine ? 5 : 4)) return false;
      return true;
    });
  } finally {
    await relay.stop();
  }
  for (const p of paths) checkDelivered(p, `${p.name}-${run}`, await records(collector, `${p.name}-${run}`));
  expect(await framesRejected(collector)).toBe(rejectedBefore);
}

function checkDelivered(path: Path, app: string, got: any[]): void {
  const by = (procId: string) => {
    const found = got.filter((r) => r.procId === procId);
    expect(found, `procId ${procId} of ${path.name}`).toHaveLength(1);
    return found[0];
  };
  expect(got, `${path.name}: every message once`).toHaveLength(path.multiLine ? 5 : 4);
  const first = by('4242');
  expect(first).toMatchObject({ hostname: 'src-host', appName: app, severity: 5, facility: 20, msg: 'über ✓ 日本' });
  if (path.ietf) {
    expect(first.timestamp).toBe(`${at.toISOString().slice(0, 19)}.${path.fraction ? '123456' : '000000'}Z`);
    expect(first.msgId).toBe('ID47');
    expect(first.structuredData).toEqual({ 'exampleSDID@32473': { iut: '3', eventSource: 'Application' } });
  } else {
    // RFC 3164 has no zone: the sender writes its wall clock, read as UTC (syslog.timeZone otherwise)
    const wall = path.rfc3339 ? at : kolkata;
    expect(first.timestamp).toBe(`${wall.toISOString().slice(0, 19)}.${path.fraction ? '123456' : '000000'}Z`);
    expect(first.msgId).toBeUndefined();
    expect(first.structuredData).toBeUndefined();
  }
  expect(by('43')).toMatchObject({ msg: 'naïve café', severity: 5, facility: 1, timestamp: `${at.toISOString().slice(0, 19)}.000000Z` });
  expect(by('99')).toMatchObject({ hostname: 'src-host', appName: app, severity: 4, facility: 1, msg: path.bsdMsgSpace ? ' bsd input' : 'bsd input' });
  const long = by('45').msg as string;
  if (path.longKept === 'all') expect(long).toBe(`long ${'x'.repeat(LONG)} end`);
  else expect(long).toMatch(/^long x{7000,8192}$/); // rsyslog cuts at maxMessageSize, keeps no rest
  if (path.multiLine) expect(by('44').msg).toBe('first line\n  second line');
}

describe('syslog from real senders', () => {
  let collector: CollectorProcess;
  beforeAll(async () => {
    collector = await startCollectorProcess();
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it.skipIf(missing.rsyslog)('rsyslog omfwd: RFC 5424 (RSYSLOG_SyslogProtocol23Format) over TCP octet-counted, LF and UDP; the default RFC 3164 over TCP and UDP; RSYSLOG_ForwardFormat', async () => {
    const port = collector.syslogPort!;
    const paths: (Path & { action: string })[] = [
      { name: 'rs-oc', ietf: true, multiLine: true, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: true, action: `protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"` },
      { name: 'rs-lf', ietf: true, multiLine: false, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: true, action: `protocol="tcp" template="RSYSLOG_SyslogProtocol23Format"` },
      { name: 'rs-udp', ietf: true, multiLine: true, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: true, action: `protocol="udp" template="RSYSLOG_SyslogProtocol23Format"` },
      { name: 'rs-bsd-tcp', ietf: false, multiLine: false, fraction: false, longKept: 'rsyslog 8 KiB', bsdMsgSpace: false, action: `protocol="tcp"` },
      { name: 'rs-bsd-udp', ietf: false, multiLine: true, fraction: false, longKept: 'rsyslog 8 KiB', bsdMsgSpace: false, action: `protocol="udp"` },
      { name: 'rs-fwd', ietf: false, rfc3339: true, multiLine: false, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: false, action: `protocol="tcp" template="RSYSLOG_ForwardFormat"` },
    ];
    const inputs = await Promise.all(paths.map(() => freePort()));
    // Control characters kept as they are (rsyslog writes a LF as "#012" by default).
    const config = [
      `global(workDirectory="$DIR" parser.escapeControlCharactersOnReceive="off")`,
      `module(load="imtcp")`,
      ...paths.map((p, i) => `input(type="imtcp" port="${inputs[i]}" ruleset="${p.name}")`),
      ...paths.map((p) => `ruleset(name="${p.name}") { action(type="omfwd" target="127.0.0.1" port="${port}" ${p.action}) }`),
    ].join('\n');
    await relayThrough(collector, paths, inputs, () => startRsyslog(config, inputs));
  });

  it.skipIf(missing.syslogNg)('syslog-ng: syslog() (RFC 5424, octet counting) and network() (RFC 3164) destinations over TCP and UDP', async () => {
    const port = collector.syslogPort!;
    const paths: (Path & { destination: string })[] = [
      { name: 'ng-ietf-tcp', ietf: true, multiLine: true, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `syslog("127.0.0.1" port(${port}) transport("tcp")` },
      { name: 'ng-ietf-udp', ietf: true, multiLine: true, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `syslog("127.0.0.1" port(${port}) transport("udp")` },
      { name: 'ng-bsd-tcp', ietf: false, multiLine: false, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `network("127.0.0.1" port(${port}) transport("tcp")` },
      { name: 'ng-bsd-udp', ietf: false, multiLine: true, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `network("127.0.0.1" port(${port}) transport("udp")` },
    ];
    const inputs = await Promise.all(paths.map(() => freePort()));
    // persist-name(): the four destinations share host and port, which their default persist names are made of.
    const config = [
      '@version: 3.38',
      // keep-hostname(yes): a relay keeps the HOSTNAME of the message (syslog-ng's default writes the peer's name instead)
      'options { frac-digits(6); keep-hostname(yes); };',
      ...paths.map((p, i) => `source s${i} { syslog(ip("127.0.0.1") port(${inputs[i]}) transport("tcp")); };`),
      ...paths.map((p, i) => `destination d${i} { ${p.destination} persist-name("${p.name}")); };`),
      ...paths.map((p, i) => `log { source(s${i}); destination(d${i}); };`),
    ].join('\n');
    await relayThrough(collector, paths, inputs, () => startSyslogNg(config, inputs));
  });

  it.skipIf(missing.logger).each([
    { name: 'RFC 5424 over TCP (LF framing)', args: ['--rfc5424', '-T'], ietf: true },
    { name: 'RFC 5424 over TCP, octet counting', args: ['--rfc5424', '-T', '--octet-count'], ietf: true },
    { name: 'RFC 5424 over UDP', args: ['--rfc5424', '-d'], ietf: true },
    { name: 'RFC 3164 over TCP (LF framing)', args: ['--rfc3164', '-T'], ietf: false },
    { name: 'RFC 3164 over TCP, octet counting', args: ['--rfc3164', '-T', '--octet-count'], ietf: false },
    { name: 'RFC 3164 over UDP', args: ['--rfc3164', '-d'], ietf: false },
  ])('logger $name, straight to the collector', async ({ name, args, ietf }) => {
    const app = `lg${name.replace(/[^A-Za-z0-9]/g, '').slice(0, 20)}${run}`;
    const sd = ietf ? ['--msgid', 'MID7', '--sd-id', 'origin@32473', '--sd-param', 'ip="192.0.2.1"', '--sd-param', 'note="ü \\] ✓"'] : [];
    const before = Date.now();
    // RFC 5424: logger writes its local time with its offset (+05:30 here); RFC 3164 has none, so UTC.
    const env = { ...process.env, TZ: ietf ? 'Asia/Kolkata' : 'UTC' };
    await promisify(execFile)(LOGGER, ['-n', '127.0.0.1', '-P', String(collector.syslogPort), ...args, '-t', app, '--id=4242', '-p', 'local3.warning', ...sd, `${BOM}über ✓ 日本`], { env });
    const after = Date.now();
    const [rec] = await waitFor(async () => {
      const r = await records(collector, app);
      return r.length > 0 ? r : undefined;
    });
    expect(await records(collector, app)).toHaveLength(1);
    expect(rec).toMatchObject({ appName: app, procId: '4242', severity: 4, facility: 19, msg: 'über ✓ 日本' });
    expect(rec.hostname.split('.')[0]).toBe(hostname().split('.')[0]);
    const t = Date.parse(rec.timestamp);
    expect(t).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000); // an offset misread is hours off
    expect(t).toBeLessThanOrEqual(after);
    if (ietf) {
      expect(rec.timestamp).not.toMatch(/\.000000Z$/); // logger -T/--rfc5424 sends microseconds
      expect(rec.msgId).toBe('MID7');
      expect(rec.structuredData).toMatchObject({ 'origin@32473': { ip: '192.0.2.1', note: 'ü ] ✓' }, timeQuality: { tzKnown: '1' } });
    } else {
      expect(rec.msgId).toBeUndefined();
    }
  });

  it.skipIf(missing.logger)('logger --size: a multi-line message past its default 1 KiB limit, octet-counted, arrives whole', async () => {
    const app = `lglong${run}`;
    const text = `line one\n${'y'.repeat(20_000)}\nlast line`;
    await promisify(execFile)(LOGGER, ['-n', '127.0.0.1', '-P', String(collector.syslogPort), '--rfc5424', '-T', '--octet-count', '--size', '30000', '-t', app, text]);
    const got = await waitFor(async () => {
      const r = await records(collector, app);
      return r.length > 0 ? r : undefined;
    });
    expect(got).toHaveLength(1);
    expect(got[0].msg).toBe(text);
  });
});

describe.skipIf(missing.rsyslog)('a collector restarted while rsyslog forwards', () => {
  let daemon: Daemon | undefined;
  let collector: CollectorProcess | undefined;
  const certs = makeTestCerts();
  afterAll(async () => {
    await daemon?.stop();
    await collector?.stop();
    certs.remove();
  });

  // Without openssl or rsyslog's TLS driver only over TCP (the reason is written at the top).
  it.each([{ transport: 'TCP', tls: false }, ...(opensslMissing || missing.rsyslogTls ? [] : [{ transport: 'TLS (gtls)', tls: true }])])('over $transport: loses no more than the batch rsyslog had in flight, splits or glues none, duplicates at most one', async ({ tls }) => {
    const app = `restart${tls ? 'tls' : ''}${run}`;
    const total = 20_000;
    const syslogPort = await freePort();
    // Plain TCP syslog has no acknowledgement: what rsyslog has written into a connection that
    // breaks may be lost, as its documentation says (it recommends RELP where that matters).
    // It writes one dequeued batch at a time, so at most one batch, of BATCH messages.
    // (Measured: 0 to 3 of 20 000, the first of a burst, while the collector read all rsyslog
    // wrote before it closed; before the collector half-closed at shutdown, dozens. Over TLS
    // the same, with the bare FIN of receiver.ts drainConnections; with a close_notify alert in
    // front of it, which hides the FIN from rsyslog, 1 to 200 and once 897.)
    const BATCH = 16;
    // Over TLS the fixed port is syslog.tls.addr's (syslog.addr's a free one of its own).
    const configYaml = tls ? `syslog:\n  tls:\n    addr: 127.0.0.1:${syslogPort}\n    certFile: ${certs.serverCert}\n    keyFile: ${certs.serverKey}\n` : undefined;
    const start = (dataDir?: string) => startCollectorProcess({ ...(tls ? { configYaml } : { syslogAddr: `127.0.0.1:${syslogPort}` }), ...(dataDir && { dataDir }) });
    collector = await start();
    const dataDir = collector.dataDir;
    const input = await freePort();
    // A disk-assisted action queue (queue.filename), kept across rsyslog restarts, retried forever.
    daemon = await startRsyslog(
      `global(workDirectory="$DIR"${tls ? ` DefaultNetstreamDriverCAFile="${certs.ca}"` : ''})
module(load="imtcp")
input(type="imtcp" port="${input}" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="${syslogPort}" protocol="tcp" TCP_Framing="octet-counted"
         ${tls ? 'StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"' : ''}
         template="RSYSLOG_SyslogProtocol23Format"
         queue.type="LinkedList" queue.filename="fwd" queue.saveOnShutdown="on" queue.dequeueBatchSize="${BATCH}"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}`,
      [input],
    );
    // 4 000 messages a second for 5 s on one connection; the collector is stopped (SIGTERM) once
    // a fifth has arrived, and started again on the same port and data directory.
    const feed = connect(input, '127.0.0.1');
    await new Promise((resolve, reject) => feed.once('connect', resolve).once('error', reject));
    const feeding = (async () => {
      const started = Date.now();
      for (let i = 0; i < total; i += 200) {
        const batch = Array.from({ length: 200 }, (_, k) => {
          const m = Buffer.from(`<14>1 ${new Date().toISOString()} h ${app} - - - seq ${i + k} end`);
          return Buffer.concat([Buffer.from(`${m.length} `), m]);
        });
        feed.write(Buffer.concat(batch));
        const wait = started + ((i + 200) / 4000) * 1000 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await new Promise<void>((resolve) => feed.end(() => resolve()));
    })();
    await waitFor(async () => (await records(collector!, app)).length >= total / 5, 30_000, 100);
    const first = collector;
    await collector.stop();
    collector = await start(dataDir);
    await feeding;
    const counts = new Map<number, number>();
    let malformed: string[] = [];
    await waitFor(
      async () => {
        counts.clear();
        malformed = [];
        for (const r of await records(collector!, app)) {
          const m = /^seq (\d+) end$/.exec(r.msg);
          if (m) counts.set(Number(m[1]), (counts.get(Number(m[1])) ?? 0) + 1);
          else malformed.push(r.msg);
        }
        // One action queue, one worker: rsyslog delivers in order, so once the last message is
        // in, all that will arrive has.
        return counts.has(total - 1) && counts.size >= total - BATCH;
      },
      60_000,
      500,
    ).catch(() => undefined); // reported by the assertions below
    const rsyslogOutput = daemon.output();
    await daemon.stop(); // flushes its queue: a late duplicate would show now
    daemon = undefined;
    const all = await records(collector, app);
    expect(malformed).toEqual([]);
    const lost = Array.from({ length: total }, (_, i) => i).filter((i) => !counts.has(i));
    const refusals = [first, collector].map((c) => c.output().split('\n').filter((l) => l.includes('refused')).join('\n'));
    expect(lost.length, `lost ${lost.slice(0, 20)}; rsyslog said:\n${rsyslogOutput}\ncollectors said:\n${refusals.join('\n')}`).toBeLessThanOrEqual(BATCH);
    expect(all.length - total).toBeLessThanOrEqual(1);
    expect(await framesRejected(collector)).toBe(0);
    expect(refusals.join('')).toBe(''); // neither collector refused a frame (a cut one, a glued one)
    await collector.stop();
    collector = undefined;
  }, 150_000);
});

describe.skipIf(opensslMissing)('syslog over TLS (RFC 5425) from real senders', () => {
  const certs = makeTestCerts();
  // The collector's certificate verified (server authentication), and with client certificates.
  let serverAuth: CollectorProcess;
  let mutual: CollectorProcess;
  const tls = (clientCa: boolean) => `syslog:\n  tls:\n    addr: 127.0.0.1:0\n    certFile: ${certs.serverCert}\n    keyFile: ${certs.serverKey}\n${clientCa ? `    clientCaFile: ${certs.ca}\n` : ''}`;
  beforeAll(async () => {
    [serverAuth, mutual] = await Promise.all([startCollectorProcess({ configYaml: tls(false) }), startCollectorProcess({ configYaml: tls(true) })]);
  });
  afterAll(async () => {
    await Promise.all([serverAuth?.stop(), mutual?.stop()]);
    certs.remove();
  });

  async function handshakeFailures(collector: CollectorProcess): Promise<number> {
    return ((await (await fetch(`${collector.url}/health/detailed`)).json()) as any).components.syslog.tlsHandshakeFailures;
  }

  /** rsyslog with its gtls driver (Debian package rsyslog-gnutls): omfwd actions checking the collector's name against its certificate. */
  function rsyslogTls(paths: (Path & { action: string })[], inputs: number[], port: number, clientCert: boolean): string {
    const files = clientCert ? ` DefaultNetstreamDriverCertFile="${certs.clientCert}" DefaultNetstreamDriverKeyFile="${certs.clientKey}"` : '';
    return [
      `global(workDirectory="$DIR" parser.escapeControlCharactersOnReceive="off" DefaultNetstreamDriverCAFile="${certs.ca}"${files})`,
      `module(load="imtcp")`,
      ...paths.map((p, i) => `input(type="imtcp" port="${inputs[i]}" ruleset="${p.name}")`),
      ...paths.map((p) => `ruleset(name="${p.name}") { action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost" ${p.action}) }`),
    ].join('\n');
  }

  /** syslog-ng's transport("tls") with peer-verify(required-trusted) against the test CA. */
  function syslogNgTls(paths: (Path & { destination: string })[], inputs: number[], clientCert: boolean): string {
    const files = clientCert ? ` cert-file("${certs.clientCert}") key-file("${certs.clientKey}")` : '';
    return [
      '@version: 3.38',
      'options { frac-digits(6); keep-hostname(yes); };',
      ...paths.map((p, i) => `source s${i} { syslog(ip("127.0.0.1") port(${inputs[i]}) transport("tcp")); };`),
      ...paths.map((p, i) => `destination d${i} { ${p.destination} tls(ca-file("${certs.ca}") peer-verify(required-trusted)${files}) persist-name("${p.name}")); };`),
      ...paths.map((p, i) => `log { source(s${i}); destination(d${i}); };`),
    ].join('\n');
  }

  it.skipIf(missing.rsyslog || missing.rsyslogTls)('rsyslog gtls: RFC 5425 octet counting and its default LF framing; with a client certificate (mutual TLS)', async () => {
    const paths: (Path & { action: string })[] = [
      { name: 'rs-tls-oc', ietf: true, multiLine: true, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: true, action: `TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"` },
      { name: 'rs-tls-lf', ietf: true, multiLine: false, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: true, action: `template="RSYSLOG_SyslogProtocol23Format"` },
    ];
    const inputs = await Promise.all(paths.map(() => freePort()));
    await relayThrough(serverAuth, paths, inputs, () => startRsyslog(rsyslogTls(paths, inputs, serverAuth.syslogTlsPort!, false), inputs));
    const mtls: (Path & { action: string })[] = [
      { name: 'rs-mtls-oc', ietf: true, multiLine: true, fraction: true, longKept: 'rsyslog 8 KiB', bsdMsgSpace: true, action: `TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"` },
    ];
    const mtlsInput = [await freePort()];
    await relayThrough(mutual, mtls, mtlsInput, () => startRsyslog(rsyslogTls(mtls, mtlsInput, mutual.syslogTlsPort!, true), mtlsInput));
    expect([await handshakeFailures(serverAuth), await handshakeFailures(mutual)]).toEqual([0, 0]);

    // Without its client certificate rsyslog gets nothing through; the collector says why, and from where.
    const noCert: (Path & { action: string })[] = [{ ...mtls[0], name: 'rs-mtls-nocert' }];
    const noCertInput = [await freePort()];
    const relay = await startRsyslog(rsyslogTls(noCert, noCertInput, mutual.syslogTlsPort!, false), noCertInput);
    try {
      await sendOctetCounted(noCertInput[0], messages(`rs-mtls-nocert-${run}`, false));
      await waitFor(async () => (await handshakeFailures(mutual)) > 0);
    } finally {
      await relay.stop();
    }
    expect(await records(mutual, `rs-mtls-nocert-${run}`)).toEqual([]);
    const line = mutual.output().split('\n').find((l) => l.includes('syslog TLS handshake failed'));
    expect(JSON.parse(line!)).toMatchObject({ code: 'PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), msg: expect.stringMatching(/certificate/) });
  });

  it.skipIf(missing.syslogNg)('syslog-ng transport("tls"): syslog() (RFC 5424) and network() (RFC 3164); with a client certificate (mutual TLS)', async () => {
    // The rsyslog test's refused sender may have come first.
    const before = [await handshakeFailures(serverAuth), await handshakeFailures(mutual)];
    const paths: (Path & { destination: string })[] = [
      { name: 'ng-tls-ietf', ietf: true, multiLine: true, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `syslog("127.0.0.1" port(${serverAuth.syslogTlsPort}) transport("tls")` },
      { name: 'ng-tls-bsd', ietf: false, multiLine: false, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `network("127.0.0.1" port(${serverAuth.syslogTlsPort}) transport("tls")` },
    ];
    const inputs = await Promise.all(paths.map(() => freePort()));
    await relayThrough(serverAuth, paths, inputs, () => startSyslogNg(syslogNgTls(paths, inputs, false), inputs));
    const mtls: (Path & { destination: string })[] = [
      { name: 'ng-mtls-ietf', ietf: true, multiLine: true, fraction: true, longKept: 'all', bsdMsgSpace: false, destination: `syslog("127.0.0.1" port(${mutual.syslogTlsPort}) transport("tls")` },
    ];
    const mtlsInput = [await freePort()];
    await relayThrough(mutual, mtls, mtlsInput, () => startSyslogNg(syslogNgTls(mtls, mtlsInput, true), mtlsInput));
    expect([await handshakeFailures(serverAuth), await handshakeFailures(mutual)]).toEqual(before);
  });
});
