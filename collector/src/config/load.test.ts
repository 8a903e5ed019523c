import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from './load.ts';

function read(yaml: string, env: Record<string, string | undefined>) {
  const file = join(mkdtempSync(join(tmpdir(), 'periscope-load-')), 'periscope.yaml');
  writeFileSync(file, yaml);
  return readConfig({ file, env });
}

describe('environment references in keys that take a number or a boolean', () => {
  const yaml = [
    'http:',
    '  parseThreads: ${THREADS}',
    'syslog:',
    '  enabled: ${SYSLOG_ON:-false}',
    'exporters:',
    '  - type: loki',
    '    name: l',
    '    url: http://loki:3100',
    '    concurrency: ${CONCURRENCY}',
    '    retry: { budgetRatio: "${BUDGET}" }',
    'alerting:',
    '  receivers:',
    '    - name: team',
    '      email: [{ to: a@example.com, from: b@example.com, smtp: { host: h, port: "${SMTP_PORT}", password: "${SMTP_PASSWORD}" } }]',
    '  route: { receiver: team }',
    '',
  ].join('\n');

  it('a value that is one reference is read as the number or boolean the key takes', () => {
    const { config, problems } = read(yaml, { THREADS: '3', CONCURRENCY: '8', BUDGET: '0.5', SMTP_PORT: '2525', SMTP_PASSWORD: '12345' });
    expect(problems).toEqual([]);
    expect(config.http.parseThreads).toBe(3);
    expect(config.syslog.enabled).toBe(false);
    expect(config.exporters[0]).toMatchObject({ concurrency: 8, retry: { budgetRatio: 0.5 } });
    // a key that takes a string keeps the text, digits or not
    expect(config.alerting.receivers[0].email?.[0].smtp).toMatchObject({ port: 2525, password: '12345' });
  });

  it.each([
    { name: 'not a number', env: { THREADS: 'three' }, want: 'http.parseThreads: must be integer' },
    { name: 'not an integer', env: { THREADS: '1.5' }, want: 'http.parseThreads: must be integer' },
    { name: 'not a boolean', env: { SYSLOG_ON: 'yes' }, want: 'syslog.enabled: must be boolean' },
  ])('a value that is not one is still refused: $name', ({ env, want }) => {
    const { problems } = read(yaml, { THREADS: '3', CONCURRENCY: '8', BUDGET: '0.5', SMTP_PORT: '2525', SMTP_PASSWORD: 'x', ...env });
    expect(problems).toEqual([want]);
  });

  it('a reference inside a longer text stays text', () => {
    const { problems } = read('http:\n  parseThreads: "1${THREADS}"\n', { THREADS: '2' });
    expect(problems).toEqual(['http.parseThreads: must be integer']);
  });
});

describe('a value that is one reference and comes out empty', () => {
  // following the unset-variable error's advice (${ES_API_KEY:-}) ended in 'must not be empty'
  it('leaves its key unset: an optional key takes its default', () => {
    const yaml = 'exporters:\n  - { type: loki, name: l, url: "${LOKI_URL:-http://loki:3100}", tenant: "${LOKI_TENANT:-}", auth: { bearerToken: "${LOKI_TOKEN:-}" } }\n';
    const { config, problems } = read(yaml, {});
    expect(problems).toEqual([]);
    expect(config.exporters[0]).not.toHaveProperty('tenant');
    expect(config.exporters[0].auth ?? {}).not.toHaveProperty('bearerToken');
    expect(read(yaml, { LOKI_TENANT: 'team-a' }).config.exporters[0]).toMatchObject({ tenant: 'team-a' });
  });

  it('a required key is then reported missing; an empty reference inside a longer text stays text', () => {
    expect(read('exporters:\n  - { type: loki, name: l, url: "${LOKI_URL:-}" }\n', {}).problems).toEqual(['exporters.0.url: missing required key']);
    expect(read('exporters:\n  - { type: loki, name: l, url: http://loki:3100, tenant: "x${T:-}" }\n', {}).config.exporters[0]).toMatchObject({ tenant: 'x' });
  });
});

describe('file references (${file:PATH}: Kubernetes and Docker secrets)', () => {
  function readWithSecrets(yaml: string, files: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-load-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const file = join(dir, 'periscope.yaml');
    writeFileSync(file, yaml);
    return { dir, ...readConfig({ file, env: {} }) };
  }

  it('reads the file, relative to the config file\'s folder or absolute, less its final line break', () => {
    const abs = join(mkdtempSync(join(tmpdir(), 'periscope-secret-')), 'token');
    writeFileSync(abs, 'tok\n');
    const yaml = `exporters:\n  - { type: elasticsearch, name: es, url: http://es:9200, auth: { apiKey: "\${file:es-key}" }, concurrency: "\${file:conc}" }\n  - { type: loki, name: l, url: "http://loki:3100", auth: { bearerToken: "\${file:${abs}}" } }\n`;
    const { config, problems } = readWithSecrets(yaml, { 'es-key': 'id:s3cr3t\r\n', conc: '8\n' });
    expect(problems).toEqual([]);
    expect(config.exporters[0]).toMatchObject({ auth: { apiKey: 'id:s3cr3t' }, concurrency: 8 });
    expect(config.exporters[1]).toMatchObject({ auth: { bearerToken: 'tok' } });
  });

  // Prometheus' *_file keys (strings.TrimSpace) and the OpenTelemetry Collector's file provider (a
  // YAML scalar) both drop the whitespace around a secret: a password file ending in a blank line
  // or a space was sent with it, refused (401) for good, and nothing said why.
  it('drops the whitespace around the content, as Prometheus and the OpenTelemetry Collector do', () => {
    const yaml = 'exporters:\n  - { type: loki, name: l, url: http://loki:3100, auth: { basic: { username: "${file:user}", password: "${file:pass}" } } }\n';
    const { config, problems } = readWithSecrets(yaml, { user: ' periscope \n', pass: 'pa55\n\n' });
    expect(problems).toEqual([]);
    expect(config.exporters[0]).toMatchObject({ auth: { basic: { username: 'periscope', password: 'pa55' } } });
  });

  it('a file that cannot be read is one problem naming the key and the file; what a file holds is never shown', () => {
    const yaml = 'exporters:\n  - { type: elasticsearch, name: es, url: http://es:9200, auth: { apiKey: "${file:missing-key}" } }\n  - { type: loki, name: l, url: http://loki:3100, auth: { bearerToken: "${file:two-lines}" } }\n';
    const { problems } = readWithSecrets(yaml, { 'two-lines': 'secret-one\nsecret-two\n' });
    expect(problems[0]).toBe('exporters.0.auth.apiKey: ${file:missing-key} cannot be read (ENOENT)');
    // a value with a line break inside is refused by the key's own check, without the value
    expect(problems.slice(1).join('\n')).toMatch(/exporters\.1\.auth\.bearerToken/);
    expect(problems.join('\n')).not.toMatch(/secret-one|secret-two/);
  });
});

describe('empty sections and keys', () => {
  it('a section or list left empty (its keys commented out) takes the defaults', () => {
    const { config, problems } = read('http:\n#  addr: 0.0.0.0:4318\nsyslog:\nexporters:\nalerting:\n  receivers:\n', {});
    expect(problems).toEqual([]);
    expect(config.http).toMatchObject({ addr: '127.0.0.1:4318', bodyLimit: '16MiB' });
    expect(config.syslog.enabled).toBe(true);
    expect(config.exporters).toEqual([]);
    expect(config.alerting.receivers).toEqual([]);
  });

  it('a key that takes a value and is left empty is an error saying so', () => {
    const { problems } = read('store:\n  dataDir:\n  retention:\n    maxAge:\n', {});
    expect(problems).toEqual(['store.dataDir: is empty, but must be string', 'store.retention.maxAge: is empty, but must be a duration string like "7d" (quote it, with a unit)']);
  });

  it('syslog.timeZone: an IANA zone, or an error that says what is expected', () => {
    expect(read('syslog:\n  timeZone: Europe/Berlin\n', {}).problems).toEqual([]);
    expect(read('syslog:\n  timeZone: Berlin\n', {}).problems).toEqual(['syslog.timeZone: invalid time-zone (an IANA time zone such as Europe/Berlin, or UTC)']);
  });

  it('a key that takes a value or a list (email to:) and is left empty is an error, not an empty list', () => {
    const { problems } = read('alerting:\n  receivers:\n    - name: t\n      email: [{ to: , from: a@example.com, smtp: { host: h } }]\n  route: { receiver: t }\n', {});
    expect(problems).toEqual(['alerting.receivers.0.email.0.to: is empty, but must be one of string, array']);
  });
});

describe('http.tls files, read with the configuration', () => {
  it.each([
    { name: 'missing files: a problem each, naming the key and the path (relative to the config file)', tls: '{ certFile: c.pem, keyFile: k.pem }', problems: [/^http\.tls\.certFile: cannot read \S+\/c\.pem: no such file/, /^http\.tls\.keyFile: cannot read \S+\/k\.pem: no such file/] },
    { name: 'a file key that is not a string: the schema error alone, not another about reading it', tls: '{ certFile: [a, b], keyFile: k.pem }', problems: [/^http\.tls\.certFile: must be string$/] },
    { name: 'caFile (the exporters\' key) in place of clientCaFile: refused, naming the keys it takes', tls: '{ certFile: c.pem, keyFile: k.pem, caFile: ca.pem }', problems: [/^http\.tls\.caFile: unknown key \(expected one of certFile, keyFile, clientCaFile, minVersion\)/, /^http\.tls\.certFile: /, /^http\.tls\.keyFile: /] },
  ])('$name', ({ tls, problems }) => {
    const result = read(`http:\n  tls: ${tls}\n`, {});
    expect(result.problems).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(result.problems[i]).toMatch(p));
  });
});

describe('http.auth.basicUsers: a value that is no bcrypt hash', () => {
  // Following docs/api.md an operator pasted the password itself, a whole htpasswd line, or the
  // docs' elided `$2b$10$…`: the refusal printed bcrypt's regular expression, which does not say
  // what goes there or how to make it.
  const HASH = '$2b$10$qranzDe0IH5ZM2yVFvPDsuuyEMV7a0O2/wutzRutMsHrWV.656NYi';
  it('takes a bcrypt hash, quoted or not', () => {
    expect(read(`http:\n  auth:\n    basicUsers:\n      ops: ${HASH}\n      grafana: "${HASH.replace('$2b$', '$2y$')}"\n`, {}).problems).toEqual([]);
  });
  it.each([
    { name: 'the password itself', value: 'hunter2-the-password' },
    { name: 'a whole htpasswd line', value: `ops:${HASH}` },
    { name: "the docs' elided hash", value: '$2b$10$Ov4fY8…' },
  ])('is refused with how to make one, never with the value: $name', ({ value }) => {
    const { problems } = read(`http:\n  auth:\n    basicUsers:\n      ops: "${value}"\n`, {});
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^http\.auth\.basicUsers\.ops: .*bcrypt hash.*periscope hash-password/);
    expect(problems[0]).not.toContain(value);
  });
});
