import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/load.ts';

function load(yaml: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'periscope-cfg-')), 'periscope.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env: {} });
}

function problems(yaml: string): string[] {
  try {
    load(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('exporters config', () => {
  it('accepts any number of each type and fills defaults per type', () => {
    const c = load(`exporters:
  - { type: loki, name: loki-a, url: "http://loki:3100", tenant: a }
  - { type: loki, name: loki-b, url: "http://loki:3100/loki/api/v1/push", tenant: b, format: json }
  - { type: elasticsearch, name: es, url: "https://es:9200", auth: { apiKey: k } }
  - { type: prometheusRemoteWrite, name: prom, url: "http://prom:9090/api/v1/write" }
`);
    expect(c.exporters.map((e) => e.name)).toEqual(['loki-a', 'loki-b', 'es', 'prom']);
    expect(c.exporters[0]).toMatchObject({ format: 'protobuf', batch: { maxRecords: 10000, maxBytes: '1MiB', wait: '1s' }, queue: { policy: 'backpressure' }, labels: { include: ['service_name', 'level', 'host'] } });
    expect(c.exporters[2]).toMatchObject({ dataStream: 'logs-periscope-default', installTemplate: true, batch: { maxRecords: 5000 } });
    expect(c.exporters[3]).toMatchObject({ interval: '15s', queue: { maxSamples: 500000 } });
    expect(load('http: {}').exporters).toEqual([]);
  });

  it.each([
    { name: 'missing url', yaml: '- { type: loki, name: a }', want: ['exporters.0.url: missing required key'] },
    { name: 'unknown type', yaml: '- { type: splunk, name: a, url: "http://x" }', want: ['exporters.0.type: must be one of "loki", "elasticsearch", "prometheusRemoteWrite"'] },
    { name: 'key of another type', yaml: '- { type: loki, name: a, url: "http://x", dataStream: logs-x-y }', want: ['exporters.0.dataStream: unknown key (expected one of type, name, url, timeout, auth, headers, tls, proxyUrl, noProxy, proxyFromEnvironment, retry, circuitBreaker, batch, concurrency, encodeThreads, queue, deadLetter, shutdownTimeout, startFrom, tenant, format, labels, structuredMetadata, limits)'] },
    { name: 'bad url', yaml: '- { type: elasticsearch, name: a, url: "ftp://x" }', want: ['exporters.0.url: invalid url (http(s)://host[:port][/path])'] },
    // Each of these crashed the exporter at start-up (new URL) after passing the check.
    { name: 'port out of range', yaml: '- { type: elasticsearch, name: a, url: "http://es:99999" }', want: ['exporters.0.url: invalid url (http(s)://host[:port][/path])'] },
    { name: 'port not a number', yaml: '- { type: loki, name: a, url: "http://loki:port" }', want: ['exporters.0.url: invalid url (http(s)://host[:port][/path])'] },
    { name: 'bad host', yaml: '- { type: prometheusRemoteWrite, name: a, url: "http://lo%ki:3100" }', want: ['exporters.0.url: invalid url (http(s)://host[:port][/path])'] },
    { name: 'bad policy', yaml: '- { type: loki, name: a, url: "http://x", queue: { policy: maybe } }', want: ['exporters.0.queue.policy: must be one of "backpressure", "drop"'] },
    { name: 'bad duration', yaml: '- { type: prometheusRemoteWrite, name: a, url: "http://x", interval: soon }', want: ['exporters.0.interval: invalid duration (e.g. 15s, 5m, 7d)'] },
    { name: 'two auth schemes', yaml: '- { type: loki, name: a, url: "http://x", auth: { bearerToken: t, basic: { username: u, password: p } } }', want: ['exporters.0.auth: at most 1 of its keys may be set, got bearerToken, basic'] },
    {
      name: 'bad static label names',
      yaml: '- { type: loki, name: a, url: "http://x", labels: { static: { bad-name: x, ok: y, 1abc: z } } }',
      want: ['exporters.0.labels.static.bad-name: invalid name, must match ^[a-zA-Z_][a-zA-Z0-9_]*$', 'exporters.0.labels.static.1abc: invalid name, must match ^[a-zA-Z_][a-zA-Z0-9_]*$'],
    },
    // The header replaced basic auth / joined the tenant: every record went to the dead letters with a 401.
    {
      name: 'headers the exporter sets itself',
      yaml: '- { type: loki, name: a, url: "http://x", tenant: t, auth: { bearerToken: s }, headers: { Authorization: "Bearer other", X-Scope-OrgID: o, Content-Type: text/plain, X-Proxy: ok } }',
      want: ['exporters.0.headers.Authorization: conflicts with exporters.0.auth (set one of them)', 'exporters.0.headers.X-Scope-OrgID: conflicts with exporters.0.tenant (set one of them)', 'exporters.0.headers.Content-Type: set by the exporter itself'],
    },
    // undici's ProxyAgent refuses a request that carries it: every record waited, retried forever as a network error.
    {
      name: 'a Proxy-Authorization header beside a proxy',
      yaml: '- { type: loki, name: a, url: "http://x", proxyUrl: "http://p:3128", headers: { Proxy-Authorization: "Basic eDp5" } }\n- { type: loki, name: b, url: "http://x", headers: { Proxy-Authorization: "Basic eDp5" } }',
      want: ['exporters.0.headers.Proxy-Authorization: the proxy\'s credentials go in proxyUrl (http://user:password@proxy:port), which sends them to the proxy only'],
    },
    // Loki refuses a push for a tenant ID outside its rules (400): every record went to the dead letters.
    { name: 'tenant Loki refuses', yaml: '- { type: loki, name: a, url: "http://x", tenant: "team a" }\n- { type: loki, name: b, url: "http://x", tenant: "a|b" }\n- { type: loki, name: c, url: "http://x", tenant: ".." }\n- { type: loki, name: d, url: "http://x", tenant: "o.k_(1)*" }', want: [0, 1, 2].map((i) => `exporters.${i}.tenant: must match ^(?!\\.\\.?$)[a-zA-Z0-9!._*'()-]+$`) },
    // Node's HTTP client refused every request with such a header: the exporter retried forever, a "network error".
    {
      name: 'header values with a line break, header names that are not tokens',
      yaml: '- { type: loki, name: a, url: "http://x", headers: { X-A: "v\\r\\nInjected: 1", "X B": ok, X-C: fine } }\n- { type: elasticsearch, name: b, url: "http://x", auth: { apiKey: "key\\n" } }\n- { type: prometheusRemoteWrite, name: c, url: "http://x", auth: { bearerToken: "tok\\n" } }',
      want: [
        "exporters.0.headers.X B: invalid name, must match ^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
        'exporters.0.headers.X-A: invalid header-value (no line break or NUL in an HTTP header value: does the secret end with a newline?)',
        'exporters.1.auth.apiKey: invalid header-value (no line break or NUL in an HTTP header value: does the secret end with a newline?)',
        'exporters.2.auth.bearerToken: invalid header-value (no line break or NUL in an HTTP header value: does the secret end with a newline?)',
      ],
    },
    // With 0 a retry waiting for budget waited forever once every batch in flight was a retry: delivery stuck.
    { name: 'no retry floor', yaml: '- { type: loki, name: a, url: "http://x", retry: { budgetMinPerSecond: 0 } }', want: ['exporters.0.retry.budgetMinPerSecond: must be > 0'] },
    { name: 'second item named', yaml: '- { type: loki, name: a, url: "http://x" }\n- { type: loki, name: b }', want: ['exporters.1.url: missing required key'] },
  ])('an error names the key: $name', ({ yaml, want }) => {
    expect(problems(`exporters:\n${yaml.replace(/^/gm, '  ')}\n`)).toEqual(want);
  });

  it('a Loki or Elasticsearch URL has no query string or fragment (the exporter adds its paths); a remote-write URL may', () => {
    expect(problems('exporters:\n  - { type: loki, name: a, url: "http://x/?org=1" }\n  - { type: elasticsearch, name: b, url: "http://y/es#frag" }\n  - { type: prometheusRemoteWrite, name: c, url: "http://z/api/v1/write?extra_label=a=b" }\n  - { type: loki, name: d, url: "http://x/base/" }\n')).toEqual([
      'exporters.0.url: no query string (?…) or fragment (#…) with type loki: the exporter adds its own paths to this URL; send parameters as headers',
      'exporters.1.url: no query string (?…) or fragment (#…) with type elasticsearch: the exporter adds its own paths to this URL; send parameters as headers',
    ]);
  });

  it('names must be unique (they key cursors, metrics and dead letters), checked with the file', () => {
    expect(problems('exporters:\n  - { type: loki, name: same, url: "http://x" }\n  - { type: elasticsearch, name: same, url: "http://y" }\n')).toEqual([
      'exporters.1.name: "same" is already the name of exporters.0',
    ]);
  });

  // Each PUT its template at start: the second replaced the first's, whose data stream then got
  // Elasticsearch's built-in template (dynamic mapping), silently.
  it('two data streams on one Elasticsearch need two template names', () => {
    const es = (name: string, url: string, extra: string) => `  - { type: elasticsearch, name: ${name}, url: "${url}", ${extra} }\n`;
    expect(
      problems(
        'exporters:\n' +
          es('app', 'http://es:9200', 'dataStream: logs-app-default') +
          es('audit', 'http://es:9200/', 'dataStream: logs-audit-default') +
          es('other-cluster', 'http://es-dr:9200', 'dataStream: logs-audit-default') +
          es('same-stream', 'http://es:9200', 'dataStream: logs-app-default') +
          es('own-template', 'http://es:9200', 'dataStream: logs-x-default, templateName: periscope-x') +
          es('no-install', 'http://es:9200', 'dataStream: logs-y-default, installTemplate: false') +
          es('traces', 'http://es:9200', 'dataStream: logs-z-default, templateName: periscope-z, traces: { enabled: true, templateName: periscope-x }'),
      ),
    ).toEqual([
      'exporters.1.templateName: "periscope-logs" is already the index template of data stream logs-app-default (exporters.0) on this Elasticsearch; give each data stream its own template name',
      'exporters.6.traces.templateName: "periscope-x" is already the index template of data stream logs-x-default (exporters.4) on this Elasticsearch; give each data stream its own template name',
    ]);
  });

  // Loki refuses a stream without labels: the records without a hostname (or all) went to the dead letters.
  it('a Loki exporter must give every record a stream label, each name once', () => {
    const loki = (name: string, labels: string) => `  - { type: loki, name: ${name}, url: "http://loki:3100", labels: ${labels} }\n`;
    expect(
      problems(
        'exporters:\n' +
          loki('none', '{ include: [] }') +
          loki('host-only', '{ include: [host] }') +
          loki('static', '{ include: [], static: { env: prod } }') +
          loki('level', '{ include: [level, host] }') +
          loki('default', '{}') +
          // twice the same name: Loki refuses the stream (duplicate label name)
          loki('host-twice', '{ static: { host: collector-1, env: prod } }') +
          loki('host-static', '{ include: [service_name, level], static: { host: collector-1 } }'),
      ),
    ).toEqual([
      'exporters.0.labels.include: Loki needs a stream label on every record: include service_name or level, or set labels.static',
      'exporters.1.labels.include: Loki needs a stream label on every record: include service_name or level, or set labels.static',
      'exporters.5.labels.static.host: also derived from each record (labels.include); Loki refuses a label twice: remove it from one of them',
    ]);
  });

  // Checked before sending, a static label over Loki's limits sent every record to the dead letters.
  it('a Loki exporter’s static labels must be within its limits', () => {
    const loki = (name: string, rest: string) => `  - { type: loki, name: ${name}, url: "http://loki:3100", ${rest} }\n`;
    const many = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`l${i}`, 'x']));
    expect(
      problems(
        'exporters:\n' +
          loki('long-value', `labels: { static: { env: "${'é'.repeat(1025)}" } }`) +
          loki('long-name', `labels: { static: { ${'n'.repeat(1025)}: x } }`) +
          loki('many', `labels: { static: ${JSON.stringify(many)} }`) +
          loki('within', `labels: { static: { env: "${'x'.repeat(2048)}" } }`) +
          loki('unchecked', `labels: { static: { env: "${'x'.repeat(3000)}" } }, limits: { maxLabelValueLength: 0 }`),
      ),
    ).toEqual([
      'exporters.0.labels.static.env: a value of 2050 bytes, over limits.maxLabelValueLength (2048): Loki refuses every record of such a stream',
      `exporters.1.labels.static.${'n'.repeat(1025)}: a name of 1025 characters, over limits.maxLabelNameLength (1024): Loki refuses every record of such a stream`,
      'exporters.2.labels.static: 16 stream labels with labels.include, over limits.maxLabelNamesPerSeries (15): Loki refuses every record of such a stream',
    ]);
  });
});
