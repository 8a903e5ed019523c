// Configuration: `periscope check-config` names each bad key; the reference doc is generated.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../collector/bin/node-flags.ts';
import { REPO_ROOT, startCollectorProcess, waitFor } from './helpers/collector-process.ts';
import { freePort } from './helpers/net.ts';
import { startLokiServer } from './servers/loki.ts';

const run = promisify(execFile);
const BIN = join(REPO_ROOT, 'collector/bin/periscope.ts');

async function periscope(args: string[], env: Record<string, string> = {}) {
  try {
    // A command that should have exited but runs the collector is stopped (SIGTERM) at the timeout.
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'periscope-cfg-')), 'periscope.yaml');
  writeFileSync(path, text);
  return path;
}

describe('periscope check-config', () => {
  it.each([
    { name: 'unknown top-level key', yaml: 'htp:\n  addr: 127.0.0.1:1\n', keys: ['htp: unknown key (did you mean http?)'] },
    { name: 'unknown nested key', yaml: 'store:\n  retention:\n    maxAgee: 1d\n', keys: ['store.retention.maxAgee: unknown key (did you mean maxAge?)'] },
    { name: 'bad duration', yaml: 'store:\n  retention:\n    maxAge: 3 days\n', keys: ['store.retention.maxAge: invalid duration'] },
    { name: 'bad size', yaml: 'http:\n  bodyLimit: lots\n', keys: ['http.bodyLimit: invalid bytes'] },
    // 10⁹ to Kubernetes, 2³⁰ to Prometheus and Loki: the answer says which units there are.
    { name: 'size with a bare G', yaml: 'store:\n  retention:\n    maxBytes: 10G\n', keys: ['store.retention.maxBytes: invalid bytes (a number and a unit: B; KiB, MiB, GiB, TiB (or Ki, Mi, Gi, Ti) for 1024, 1024², …; KB, MB, GB, TB for 1000, 1000², …; e.g. 512MiB)'] },
    { name: 'bad address', yaml: 'http:\n  addr: localhost\n', keys: ['http.addr: invalid addr'] },
    { name: 'bad enum', yaml: 'store:\n  synchronous: sometimes\n', keys: ['store.synchronous: must be one of "normal", "full"'] },
    { name: 'bad cron', yaml: 'store:\n  retention:\n    schedule: every minute\n', keys: ['store.retention.schedule: invalid cron'] },
    // Node's HTTP client refuses the header on every query: promql rules would all be in error.
    { name: 'a line break in a Prometheus header', yaml: 'alerting:\n  prometheus:\n    url: http://127.0.0.1:9090\n    headers: { X-Token: "abc\\n" }\n', keys: ['alerting.prometheus.headers.X-Token: invalid header-value'] },
    { name: 'wrong type', yaml: 'syslog:\n  enabled: maybe\n', keys: ['syslog.enabled: must be boolean'] },
    { name: 'several problems at once', yaml: 'http:\n  addr: x\nstore:\n  colour: blue\n', keys: ['http.addr: invalid addr', 'store.colour: unknown key (expected one of dataDir, synchronous, retention, queryTimeout, queryThreads, search)'] },
    { name: 'not YAML', yaml: 'http: [unclosed\n', keys: ['(yaml)'] },
    { name: 'a key given twice', yaml: 'store:\n  dataDir: a\n  dataDir: b\n', keys: ['(yaml): Map keys must be unique at line 3, column 3 (key dataDir)\n'] },
    // Each of these passed the check, then crashed `start` with a stack trace and exit status 1.
    { name: 'syslog address without a host', yaml: 'syslog:\n  addr: "5514"\n', keys: ['syslog.addr: invalid addr (host:port)'] },
    { name: 'syslog port out of range', yaml: 'syslog:\n  addr: 127.0.0.1:99999\n', keys: ['syslog.addr: invalid addr (host:port)'] },
    { name: 'syslog IPv6 address without its ]', yaml: 'syslog:\n  addr: "[::1:5514"\n', keys: ['syslog.addr: invalid addr (host:port)'] },
    { name: 'zero body limit', yaml: 'http:\n  bodyLimit: "0"\n', keys: ['http.bodyLimit: must be at least 1KiB'] },
    { name: 'body limit below one byte', yaml: 'http:\n  bodyLimit: 0.5B\n', keys: ['http.bodyLimit: must be at least 1KiB'] },
    { name: 'empty data directory', yaml: 'store:\n  dataDir: ""\n', keys: ['store.dataDir: must not be empty'] },
    // Zero or inconsistent values that passed: a timer that spins (interval 0s kept ~3/4 of a core
    // busy), every request or span refused, retries and samples out of order.
    { name: 'remote-write interval 0s', yaml: 'exporters:\n  - { type: prometheusRemoteWrite, name: p, url: "http://127.0.0.1:9/api/v1/write", interval: 0s }\n', keys: ['exporters.0.interval: must be at least 1s'] },
    { name: 'zero batch size', yaml: 'exporters:\n  - { type: loki, name: l, url: "http://127.0.0.1:9", batch: { maxBytes: "0" } }\n', keys: ['exporters.0.batch.maxBytes: must be at least 1KiB'] },
    { name: 'zero span size', yaml: 'traces:\n  maxSpanBytes: "0"\n', keys: ['traces.maxSpanBytes: must be at least 1KiB'] },
    { name: 'sample resolution larger than its window', yaml: 'metrics:\n  sampleWindow: 1m\n  sampleResolution: 5m\n', keys: ['metrics.sampleResolution: must not be larger than sampleWindow (1m)'] },
    { name: 'initialBackoff larger than the default maxBackoff', yaml: 'exporters:\n  - { type: elasticsearch, name: e, url: "http://127.0.0.1:9", retry: { initialBackoff: 1m } }\n', keys: ['exporters.0.retry.initialBackoff: must not be larger than maxBackoff (30s)'] },
    {
      name: 'the other pairs out of order',
      yaml: 'exporters:\n  - { type: loki, name: l, url: "http://127.0.0.1:9", circuitBreaker: { openDuration: 5m, maxOpenDuration: 1m } }\ntraces:\n  maxAttributeValueBytes: 2MiB\nalerting:\n  delivery: { backoffBase: 10m, backoffCap: 1m }\n',
      keys: ['exporters.0.circuitBreaker.openDuration: must not be larger than maxOpenDuration (1m)', 'traces.maxAttributeValueBytes: must not be larger than maxSpanBytes (1MiB)', 'alerting.delivery.backoffBase: must not be larger than backoffCap (1m)'],
    },
    // A YAML number where a unit string belongs said only "must be string".
    { name: 'a size given as a number', yaml: 'http:\n  bodyLimit: 16\n', keys: ['http.bodyLimit: must be a size string like "16MiB" (quote it, with a unit)'] },
    { name: 'a duration given as a number', yaml: 'store:\n  retention:\n    maxAge: 0\n', keys: ['store.retention.maxAge: must be a duration string like "7d" (quote it, with a unit)'] },
    { name: 'an alerting duration given as a number', yaml: 'alerting:\n  delivery: { maxAge: 6 }\n', keys: ['alerting.delivery.maxAge: must be a duration string like "6h" (quote it, with a unit)'] },
    // The file may say something else than the environment: the problem says where the value came from.
    { name: 'a bad address from the environment', yaml: 'http:\n  addr: 127.0.0.1:4318\n', env: { PERISCOPE_HTTP_ADDR: 'bogus' }, keys: ['http.addr: invalid addr (host:port) (from the environment: PERISCOPE_HTTP_ADDR=bogus)'] },
  ])('rejects $name, naming the key', async ({ yaml, keys, env }) => {
    const { code, out } = await periscope(['check-config', file(yaml)], env);
    expect(code).toBe(2);
    expect(out).toContain('PERISCOPE_ERR_CONFIG_INVALID');
    for (const key of keys) expect(out).toContain(key);
  });

  it('reports every problem at once: unset references, schema errors, names, alerting references and rule files', async () => {
    const path = file([
      'store: { dataDir: "${PERISCOPE_TEST_UNSET_DIR}" }',
      'http: { addr: nope }',
      'exporters:',
      '  - { type: loki, name: a, url: "http://x:99999" }',
      '  - { type: loki, name: a, url: "http://y" }',
      'alerting:',
      '  ruleFiles: [rules.yaml]',
      '  route: { escalation: pager }',
      '',
    ].join('\n'));
    writeFileSync(join(path, '../rules.yaml'), 'rules:\n  - { name: x, kind: log, filter: { service: a }, threshold: abc }\n  - { name: y, kind: promql, expr: up == 0 }\n');
    const { code, out } = await periscope(['check-config', path]);
    expect(code).toBe(2);
    const lines = out.trim().split('\n').slice(1).map((l) => l.trim());
    expect(lines).toEqual([
      'store.dataDir: ${PERISCOPE_TEST_UNSET_DIR} is not set in the environment (write ${PERISCOPE_TEST_UNSET_DIR:-} for an empty default)',
      'http.addr: invalid addr (host:port)',
      'exporters.0.url: invalid url (http(s)://host[:port][/path])',
      'exporters.1.name: "a" is already the name of exporters.0',
      'alerting.route.escalation: unknown escalation "pager"',
      `${join(path, '../rules.yaml')}: rules[0].threshold: must be number`,
      `${join(path, '../rules.yaml')}: rules[1].kind: a promql rule needs a Prometheus to query: set alerting.prometheus.url`,
    ]);
    // start-up refuses the same file with the same list
    const start = await periscope(['start', '--config', path]);
    expect(start.code).toBe(2);
    expect(start.out).toContain('alerting.route.escalation: unknown escalation "pager"');
    expect(start.out).toContain('http.addr: invalid addr');
  });

  it('an alerting shape problem does not hide its cross-references or the rule files', async () => {
    const path = file([
      'alerting:',
      '  ruleFiles: [rules.yaml]',
      '  receivers:',
      "    - { name: team, webhook: [{ url: 'http://127.0.0.1:9/x' }] }",
      '  escalations:',
      '    - { name: oncall, steps: [{ notify: [zzz], wait: 5x }] }',
      '  route: { escalation: pager }',
      '',
    ].join('\n'));
    writeFileSync(join(path, '../rules.yaml'), 'rules:\n  - { name: x, kind: log, filter: { service: a }, threshold: abc }\n');
    const { code, out } = await periscope(['check-config', path]);
    expect(code).toBe(2);
    expect(out.trim().split('\n').slice(1).map((l) => l.trim())).toEqual([
      'alerting.escalations.0.steps.0.wait: invalid duration (e.g. 15s, 5m, 7d)',
      'alerting.escalations.0.steps.0.notify.0: unknown receiver "zzz"',
      'alerting.route.escalation: unknown escalation "pager"',
      `${join(path, '../rules.yaml')}: rules[0].threshold: must be number`,
    ]);
  });

  it('YAML merge keys (<<: *anchor) share settings, as in the OpenTelemetry Collector and Prometheus files', async () => {
    const path = file([
      'exporters:',
      '  - &loki { type: loki, name: team-a, url: "http://loki:3100", tenant: team-a, retry: { maxBackoff: 1m } }',
      '  - { <<: *loki, name: team-b, tenant: team-b }',
      '  - <<: *loki',
      '    name: team-c',
      '    retry: { maxBackoff: 2h, initialBackoff: 3h }',
      'alerting:',
      '  ruleFiles: [rules.yaml]',
      '',
    ].join('\n'));
    const rules = join(path, '../rules.yaml');
    writeFileSync(rules, 'rules:\n  - &errors { name: x, kind: log, filter: { service: a }, threshold: 5 }\n  - { <<: *errors, name: y, threshold: abc }\n');
    const { code, out } = await periscope(['check-config', path]);
    // Merged, not refused as an unknown key "<<"; the merged item's own keys win.
    expect(out.trim().split('\n').slice(1).map((l) => l.trim())).toEqual([
      'exporters.2.retry.initialBackoff: must not be larger than maxBackoff (2h)',
      `${rules}: rules[1].threshold: must be number`,
    ]);
    expect(code).toBe(2);
  });

  it('accepts a valid file', async () => {
    const { code, out } = await periscope(['check-config', file('http:\n  addr: 127.0.0.1:4318\nstore:\n  retention:\n    maxAge: 36h\n    maxBytes: 2GiB\n')]);
    expect(out).toContain('configuration is valid');
    expect(code).toBe(0);
  });

  it('accepts 0 where the reference gives it a meaning (a Loki check off, no batch wait, no flush at shutdown, notify at once)', async () => {
    const yaml = [
      'exporters:',
      '  - { type: loki, name: l, url: "http://127.0.0.1:9", batch: { wait: 0s }, shutdownTimeout: 0s, limits: { maxLineSize: "0", rejectOlderThan: 0s } }',
      'alerting:',
      '  route: { groupWait: 0s }',
      '  evaluation: { noDataGrace: 0s }',
      '',
    ].join('\n');
    const { code, out } = await periscope(['check-config', file(yaml)]);
    expect(out).toContain('configuration is valid');
    expect(code).toBe(0);
  });

  it('warns about a rule-file glob that matches nothing, and still accepts the file', async () => {
    const path = file('alerting:\n  ruleFiles: ["rules/*.yml"]\n');
    const { code, out } = await periscope(['check-config', path]);
    expect(out).toContain('warning: alerting.ruleFiles: rules/*.yml: matches no file');
    expect(out).toContain('configuration is valid');
    expect(code).toBe(0);
  });

  it('a bad key stops start-up with a message naming it', async () => {
    await expect(startCollectorProcess({ configYaml: 'store:\n  retention:\n    maxAge: forever\n' })).rejects.toThrow(/store\.retention\.maxAge: invalid duration/);
  });

  it('${VAR} references: an unset one is an error naming the key; $$ and :- work', async () => {
    const yaml = 'store:\n  dataDir: ${PERISCOPE_TEST_UNSET_DIR}\nexporters:\n  - { type: loki, name: l, url: "http://127.0.0.1:1", tenant: "${env:PERISCOPE_TEST_UNSET_TENANT}" }\n';
    const { code, out } = await periscope(['check-config', file(yaml)]);
    expect(code).toBe(2);
    expect(out).toContain('store.dataDir: ${PERISCOPE_TEST_UNSET_DIR} is not set in the environment');
    expect(out).toContain('exporters.0.tenant: ${PERISCOPE_TEST_UNSET_TENANT} is not set');
    const ok = await periscope(['check-config', file('store:\n  dataDir: "${PERISCOPE_TEST_UNSET_DIR:-./data}"\nexporters:\n  - { type: loki, name: l, url: "http://127.0.0.1:1", headers: { X-Note: "a$$b" } }\n')]); // ($ is no tenant ID character)
    expect(ok.out).toContain('configuration is valid');
  });

  it('a secret given as ${VAR} reaches the backend, and never the logs', async () => {
    const { startLokiServer } = await import('./servers/loki.ts');
    const loki = await startLokiServer({ auth: { basic: { username: 'periscope', password: 's3cr3t-from-env' } } });
    const yaml = `exporters:\n  - type: loki\n    name: loki\n    url: ${loki.url}\n    batch: { wait: 100ms }\n    auth: { basic: { username: periscope, password: "\${LOKI_PASSWORD}" } }\n`;
    const collector = await startCollectorProcess({ configYaml: yaml, env: { LOKI_PASSWORD: 's3cr3t-from-env' } });
    try {
      const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ appName: 'env-secret', msg: 'delivered with the env password' }]) });
      expect(res.status).toBe(200);
      await waitFor(() => loki.entries().some((e) => e.line.includes('delivered with the env password')));
      expect(collector.output()).not.toContain('s3cr3t-from-env');
    } finally {
      await collector.stop();
      await loki.close();
    }
  });

  it('an address in use stops start-up with an error naming the setting, and nothing keeps running', async () => {
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    const { port } = held.address() as AddressInfo;
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'periscope-busy-'));
      const yaml = `http:\n  addr: 127.0.0.1:${port}\nsyslog:\n  addr: 127.0.0.1:0\nstore:\n  dataDir: ${dataDir}\n`;
      // execFile resolves only once the process has exited: its workers did not hold it open
      const { code, out } = await periscope(['start', '--config', file(yaml)]);
      expect(code).toBe(2);
      expect(out).toContain(`PERISCOPE_ERR_LISTEN_FAILED: cannot listen for HTTP on 127.0.0.1:${port}: the address is in use by another process (EADDRINUSE); set http.addr in the configuration, or PERISCOPE_HTTP_ADDR`);
      expect(out).not.toMatch(/\n\s+at /); // one clear line, no stack trace
    } finally {
      held.close();
    }
  });

  it.each([
    { key: 'http.addr', env: 'PERISCOPE_HTTP_ADDR', what: 'HTTP', yaml: 'http:\n  addr: periscope-test.invalid:44510\nsyslog:\n  enabled: false\n' },
    { key: 'syslog.addr', env: 'PERISCOPE_SYSLOG_ADDR', what: 'syslog', yaml: 'http:\n  addr: 127.0.0.1:44511\nsyslog:\n  addr: periscope-test.invalid:44512\n' },
  ])('a host name that does not resolve in $key stops start-up with an error naming the setting', async ({ key, env, what, yaml }) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-nohost-'));
    const { code, out } = await periscope(['start', '--config', file(`${yaml}store:\n  dataDir: ${dataDir}\n`)]);
    expect(code).toBe(2);
    // ENOTFOUND, or EAI_AGAIN where no DNS server answers (.invalid never resolves: RFC 6761 §6.4)
    expect(out).toMatch(new RegExp(`PERISCOPE_ERR_LISTEN_FAILED: cannot listen for ${what} on periscope-test\\.invalid:\\d+: .* \\((ENOTFOUND|EAI_AGAIN)\\); set ${key} in the configuration, or ${env}`));
    expect(out).not.toMatch(/\n\s+at /);
  });

  it('a second collector on the same data directory stops with an error; after kill -9 of the first, it starts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-lock-'));
    const first = await startCollectorProcess({ dataDir });
    const yaml = `http:\n  addr: 127.0.0.1:0\nsyslog:\n  addr: 127.0.0.1:0\nstore:\n  dataDir: ${dataDir}\n`;
    const { code, out } = await periscope(['start', '--config', file(yaml)]);
    expect(code).toBe(2);
    expect(out).toContain(`PERISCOPE_ERR_DATA_DIR_LOCKED: data directory ${dataDir} is in use by another running collector`);
    first.proc.kill('SIGKILL');
    await new Promise((resolve) => first.proc.once('exit', resolve));
    const second = await startCollectorProcess({ dataDir });
    await second.stop();
  });

  it('a data directory of a version before lock.db, its log open in another process (that version still running), stops start-up and is left as it was', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-lockless-'));
    cpSync(join(REPO_ROOT, 'test/fixtures/upgrade/e19ae1e'), dataDir, { recursive: true }); // no lock.db, a search index to rebuild
    const running = new DatabaseSync(join(dataDir, 'periscope.db')); // as that collector holds it
    running.exec('PRAGMA journal_mode = WAL');
    running.prepare('SELECT count(*) FROM logs').get();
    const yaml = `http:\n  addr: 127.0.0.1:0\nsyslog:\n  addr: 127.0.0.1:0\nstore:\n  dataDir: ${dataDir}\n`;
    try {
      const { code, out } = await periscope(['start', '--config', file(yaml)]);
      expect(code).toBe(2);
      expect(out).toContain(`PERISCOPE_ERR_DATA_DIR_LOCKED: data directory ${dataDir} is in use: ${join(dataDir, 'periscope.db')} is open in another process`);
      expect(existsSync(join(dataDir, 'periscope-fts.db'))).toBe(true); // the running collector's search index was not removed under it
      expect((await periscope(['start', '--config', file(yaml)])).out).toContain('PERISCOPE_ERR_DATA_DIR_LOCKED'); // and not let through the next time
    } finally {
      running.close();
    }
    const upgraded = await startCollectorProcess({ dataDir });
    await upgraded.stop();
  });

  it.each([
    { name: 'a damaged periscope.db', setup: (dir: string) => (mkdirSync(dir), writeFileSync(join(dir, 'periscope.db'), 'not a database at all, just text')), reason: 'periscope.db: file is not a database' },
    { name: 'a damaged search index', setup: (dir: string) => (mkdirSync(dir), writeFileSync(join(dir, 'periscope-fts.db'), 'not a database at all, just text')), reason: 'periscope-fts.db: file is not a database (the search index: delete this file and it is rebuilt from the log at start-up)' },
    { name: 'a damaged alerting.db', setup: (dir: string) => (mkdirSync(dir), writeFileSync(join(dir, 'alerting.db'), 'not a database at all, just text')), reason: 'alerting.db: file is not a database' },
    { name: 'a file where the directory should be', setup: (dir: string) => writeFileSync(dir, ''), reason: 'it, or a folder above it, is a file, not a directory (EEXIST' },
  ])('an unusable data directory ($name) stops start-up with one line naming it, exit status 2', async ({ setup, reason }) => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'periscope-baddir-')), 'data');
    setup(dataDir);
    const yaml = `http:\n  addr: 127.0.0.1:0\nsyslog:\n  addr: 127.0.0.1:0\nstore:\n  dataDir: ${dataDir}\n`;
    const { code, out } = await periscope(['start', '--config', file(yaml)]);
    expect(code).toBe(2);
    expect(out).toContain(`PERISCOPE_ERR_DATA_DIR_UNUSABLE: cannot use the data directory ${dataDir}`);
    expect(out).toContain(reason);
    expect(out).not.toMatch(/\n\s+at /);
  });

  // root writes anywhere: collector/src/store/data-dir-access.test.ts covers the reasons then.
  it.skipIf(process.getuid?.() === 0)('a data directory the user cannot write stops start-up saying so', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-rodir-'));
    chmodSync(dataDir, 0o555);
    const yaml = `http:\n  addr: 127.0.0.1:0\nsyslog:\n  addr: 127.0.0.1:0\nstore:\n  dataDir: ${dataDir}\n`;
    const { code, out } = await periscope(['start', '--config', file(yaml)]);
    expect(code).toBe(2);
    expect(out).toContain(`cannot use the data directory ${dataDir} (store.dataDir; periscope.db, periscope-fts.db, alerting.db, lock.db): the directory is not writable by this user (uid ${process.getuid?.()})`);
  });

  it('env overrides reach the running collector', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'periscope-env-'));
    const collector = await startCollectorProcess({ dataDir });
    try {
      const health = (await (await fetch(`${collector.url}/health/detailed`)).json()) as { components: { store: { path: string } } };
      expect(health.components.store.path).toBe(join(dataDir, 'periscope.db'));
    } finally {
      expect(await collector.stop()).toBe(0);
    }
    // Its started and stopped lines are log lines like the others (level, time), for log shippers.
    const lines = collector.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    for (const msg of ['periscope collector started', 'periscope collector stopped']) {
      expect(lines.find((l) => l.msg === msg)).toMatchObject({ level: 30, time: expect.any(Number), pid: collector.proc.pid });
    }
    expect(lines.find((l) => l.msg === 'periscope collector started')).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it('log.level: warn leaves out info lines, start-up and stop included; debug adds a line per exporter request', async () => {
    // At warn there is no start-up line to wait for: the port is picked here and /health/ready polled.
    const port = await freePort();
    const quiet = spawn(process.execPath, [BIN, 'start', '--config', file('exporters:\n  - type: loki\n    name: loki\n    url: http://127.0.0.1:1\n    shutdownTimeout: 0s\n')], {
      env: { ...process.env, PERISCOPE_HTTP_ADDR: `127.0.0.1:${port}`, PERISCOPE_SYSLOG_ADDR: '127.0.0.1:0', PERISCOPE_DATA_DIR: mkdtempSync(join(tmpdir(), 'periscope-log-')), PERISCOPE_COLLECTOR_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    quiet.stdout.on('data', (d: Buffer) => (out += d.toString()));
    quiet.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => quiet.once('exit', resolve));
    await waitFor(() => fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false), 30_000);
    const posted = await fetch(`http://127.0.0.1:${port}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"msg":"to a Loki that is not there"}\n' });
    expect(posted.status).toBe(200);
    // The exporter's backend refusing connections is a warning: it is written.
    await waitFor(() => out.includes('"level":40'), 30_000);
    quiet.kill('SIGTERM');
    expect(await exited).toBe(0);
    const levels = out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.filter((l) => l < 40)).toEqual([]);

    const loki = await startLokiServer();
    const verbose = await startCollectorProcess({ configYaml: `log:\n  level: debug\nexporters:\n  - type: loki\n    name: loki\n    url: ${loki.url}\n    batch: { wait: 10ms }\n` });
    try {
      const sent = await fetch(`${verbose.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"msg":"one"}\n{"msg":"two"}\n' });
      expect(sent.status).toBe(200);
      const line = await waitFor(() => verbose.output().split('\n').find((l) => l.includes('batch sent')));
      expect(JSON.parse(line)).toMatchObject({ level: 20, exporter: 'loki', records: 2, delivered: 2, deadLettered: 0, unresolved: 0 });
    } finally {
      expect(await verbose.stop()).toBe(0);
      await loki.close();
    }
  });

  it('syslog.enabled: false starts the collector without a syslog listener', async () => {
    const collector = await startCollectorProcess({ configYaml: 'syslog:\n  enabled: false\n' });
    try {
      expect(collector.output()).toContain('"syslog":"disabled"');
      expect(collector.syslogPort).toBeUndefined();
      const posted = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"msg":"no syslog"}\n' });
      expect(posted.status).toBe(200);
      const health = (await (await fetch(`${collector.url}/health/detailed`)).json()) as { components: { syslog: unknown } };
      expect(health.components.syslog).toEqual({ status: 'up', enabled: false });
    } finally {
      expect(await collector.stop()).toBe(0);
    }
  });
});

describe('periscope command line', () => {
  it('--version prints the version, as on the start-up log line, and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'collector/package.json'), 'utf8')) as { version: string };
    const { code, out } = await periscope(['--version']);
    expect(out.trim()).toBe(`periscope ${version} (node ${process.version})`);
    expect(code).toBe(0);
  });


  // Were `start` to run anyway (it did, on the defaults), it would listen here until the timeout.
  const env = { PERISCOPE_HTTP_ADDR: '127.0.0.1:44520', PERISCOPE_SYSLOG_ADDR: '127.0.0.1:44521', PERISCOPE_DATA_DIR: join(tmpdir(), 'periscope-cli-data') };
  it.each([
    { name: 'start given the file without --config', args: (f: string) => ['start', f], message: (f: string) => `unexpected argument "${f}" (the configuration file is given as --config ${f})` },
    { name: 'start with --config and another argument', args: (f: string) => ['start', '--config', f, 'extra'], message: () => 'unexpected argument "extra"' },
    { name: 'check-config given two files', args: (f: string) => ['check-config', f, 'other.yaml'], message: () => 'unexpected argument "other.yaml": check-config checks one file' },
    { name: 'check-config given a file and --config', args: (f: string) => ['check-config', f, '--config', 'other.yaml'], message: (f: string) => `unexpected argument "${f}": check-config checks one file` },
    { name: 'check-config without a file', args: () => ['check-config'], message: () => 'check-config needs the file to check' },
    { name: 'config-reference given an argument', args: () => ['config-reference', 'extra'], message: () => 'config-reference takes no argument ("extra")' },
    { name: 'an unknown command', args: (f: string) => [f], message: (f: string) => `unknown command "${f}"` },
    // node:util parseArgs refusals, which printed a TypeError's stack and exit status 1
    { name: 'an unknown option', args: () => ['--bogus'], message: () => "'--bogus'" },
    { name: 'an unknown option after start', args: (f: string) => ['start', '-x', '--config', f], message: () => "'-x'" },
    { name: '-c without its file', args: () => ['-c'], message: () => "'-c, --config <value>' argument missing" },
  ])('refuses $name with the usage, exit status 2', async ({ args, message }) => {
    const path = file('http:\n  addr: 127.0.0.1:44522\n');
    const { code, out } = await periscope(args(path), env);
    expect(out).toMatch(/^periscope: /);
    expect(out).toContain(message(path));
    expect(out).toContain('usage: periscope');
    expect(out).not.toContain('periscope collector started');
    expect(out).not.toMatch(/\n\s+at /); // no stack trace
    expect(code).toBe(2);
  });
});

it('docs/configuration.md is generated from the schemas and up to date', async () => {
  const { out } = await periscope(['config-reference']);
  const committed = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  expect(committed, 'run: node collector/bin/periscope.ts config-reference > docs/configuration.md').toBe(out);
  // Each exporter type's own keys, and the keys without a default marked required.
  expect(out).toContain('| `exporters[type=loki].tenant` | string |  | `X-Scope-OrgID`');
  expect(out).toContain('| `exporters[type=elasticsearch].dataStream` | string | `"logs-periscope-default"` |');
  expect(out).toContain('| `exporters[type=prometheusRemoteWrite].url` | string (url) | required |');
  expect(out).not.toMatch(/\| `exporters\[type=\w+\]\.type` \|/);
  // Every key says what it does: the reference is where the README sends users.
  const keyRows = out.split('\n').filter((line) => /^\| `[a-z]/.test(line));
  const undescribed = keyRows.filter((line) => /\|\s*\|$/.test(line)).map((line) => line.split(' | ')[0]);
  expect(keyRows.length).toBeGreaterThan(300);
  expect(undescribed).toEqual([]);
});

it('config-reference is written whole to a pipe its reader drains late (| less): the process waits for it before exiting', async () => {
  // Over the pipe's 64 KiB, what was not written yet was lost at the exit. A shell pipe (pipe(2));
  // Node's own child pipes are socket pairs, with room for all of it.
  const { stdout } = await run('sh', ['-c', `"${process.execPath}" "${BIN}" config-reference | { sleep 1; wc -c; }`], { timeout: 30_000 });
  const committed = readFileSync(join(REPO_ROOT, 'docs/configuration.md'));
  expect(committed.length).toBeGreaterThan(65_536);
  expect(Number(stdout.trim())).toBe(committed.length);
});

it('periscope start loads the configuration modules only once, after its re-exec with the V8 flags', async () => {
  // A module hook (kept across the re-exec by NODE_OPTIONS) names each module loaded, and whether
  // the process already has the flags: one loaded before the re-exec is loaded for nothing.
  const hook = join(mkdtempSync(join(tmpdir(), 'periscope-hook-')), 'hook.mjs');
  writeFileSync(hook, `import { registerHooks } from 'node:module';
const when = process.execArgv.some((a) => a.startsWith('${NODE_FLAGS[0].split('=')[0]}')) ? 'after' : 'before';
registerHooks({ load(url, context, next) { process.stderr.write('loaded ' + when + ' the re-exec: ' + url + '\\n'); return next(url, context); } });
`);
  const { code, out } = await periscope(['start', '--config', file('http:\n  addr: nope\n')], { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(hook).href}` });
  expect(code).toBe(2); // the invalid address: read, after the re-exec
  expect(out).toContain('loaded after the re-exec: ' + pathToFileURL(join(REPO_ROOT, 'collector/src/config/load.ts')).href);
  expect(out).toContain('loaded before the re-exec: ' + pathToFileURL(BIN).href);
  expect(out.split('\n').filter((l) => l.startsWith('loaded before the re-exec:') && l.includes('/collector/src/config/'))).toEqual([]);
});

it('periscope start runs with the V8 flags of collector/bin/node-flags.ts, in the process it was started as', async () => {
  const collector = await startCollectorProcess({});
  try {
    // Linux: the command line of the running process (execve keeps the pid the helper spawned).
    const cmdline = readFileSync(`/proc/${collector.proc.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of NODE_FLAGS) expect(cmdline).toContain(flag);
    expect(cmdline).toContain('start');
    const posted = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"msg":"flags"}\n' });
    expect(posted.status).toBe(200);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
});
