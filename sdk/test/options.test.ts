import { describe, expect, it } from 'vitest';
import { resolveOptions, DEFAULTS } from '../src/options.ts';

describe('resolveOptions: explicit > env > defaults', () => {
  it('uses defaults', () => {
    const o = resolveOptions({ service: 'svc' }, {});
    expect(o).toMatchObject({
      service: 'svc',
      endpoint: DEFAULTS.endpoint,
      levels: { defaultLevel: 'info' },
      format: 'none',
      maxBufferBytes: 8 * 1024 * 1024,
      batchMaxRecords: 1000,
      batchMaxBytes: 1024 * 1024,
      flushIntervalMs: 1000,
      shutdownTimeoutMs: 5000,
      facility: 1,
      redact: [],
    });
    expect(o.hostname).toBeTruthy();
  });

  it('reads the environment', () => {
    const o = resolveOptions({}, {
      PERISCOPE_SERVICE: 'env-svc',
      PERISCOPE_ENDPOINT: 'http://collector:4318/',
      PERISCOPE_LOG_LEVEL: 'warn,db=debug',
      PERISCOPE_LOG_FORMAT: 'LOGFMT',
    });
    expect(o).toMatchObject({ service: 'env-svc', endpoint: 'http://collector:4318', format: 'logfmt' });
    expect(o.levels.defaultLevel).toBe('warn');
    expect(o.levels.modules.db).toBe('debug');
  });

  it('explicit options win over the environment', () => {
    const o = resolveOptions(
      { service: 'explicit', endpoint: 'https://x.example', level: 'error', format: 'json' },
      { PERISCOPE_SERVICE: 'env', PERISCOPE_ENDPOINT: 'http://env', PERISCOPE_LOG_LEVEL: 'debug', PERISCOPE_LOG_FORMAT: 'pretty' },
    );
    expect(o).toMatchObject({ service: 'explicit', endpoint: 'https://x.example', format: 'json' });
    expect(o.levels.defaultLevel).toBe('error');
  });

  it.each([
    { name: 'missing service', options: {}, env: {}, error: /"service" is required/ },
    { name: 'blank service', options: { service: '  ' }, env: {}, error: /"service" is required/ },
    { name: 'bad endpoint', options: { service: 's', endpoint: 'not a url' }, env: {}, error: /"endpoint" is not a URL/ },
    { name: 'non-http endpoint', options: { service: 's', endpoint: 'ftp://x' }, env: {}, error: /must be http\(s\)/ },
    { name: 'bad level in env', options: { service: 's' }, env: { PERISCOPE_LOG_LEVEL: 'info,db=chatty' }, error: /"level": invalid log level "chatty"/ },
    { name: 'bad format', options: { service: 's', format: 'xml' as never }, env: {}, error: /"format" must be one of/ },
    { name: 'zero buffer', options: { service: 's', maxBufferBytes: 0 }, env: {}, error: /"maxBufferBytes" must be a positive integer/ },
    { name: 'fractional interval', options: { service: 's', flushIntervalMs: 1.5 }, env: {}, error: /"flushIntervalMs"/ },
    { name: 'facility out of range', options: { service: 's', facility: 24 }, env: {}, error: /"facility" must be an integer 0–23/ },
    { name: 'redact not array', options: { service: 's', redact: 'password' as never }, env: {}, error: /"redact" must be an array/ },
  ])('rejects $name with a clear message', ({ options, env, error }) => {
    expect(() => resolveOptions(options, env)).toThrow(error);
    expect(() => resolveOptions(options, env)).toThrow(/^\[periscope\] init: /);
  });
});
