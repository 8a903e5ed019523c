import { describe, expect, it } from 'vitest';
import { exportProblem, refusal, tlsFailure, warnOnce } from '../src/logs/delivery-problem.ts';

const URL_ = 'https://collector:4318/api/v1/logs';

describe('delivery problems told to the app', () => {
  it('a refusal quotes the collector\'s code and message, and for 401/403 says which credentials to set', () => {
    const p = refusal(URL_, 401, JSON.stringify({ error: { code: 'PERISCOPE_ERR_UNAUTHORIZED', message: 'authentication required' } }));
    expect(p).toMatchObject({ key: 'log records refused 401', code: 'PERISCOPE_SDK_DELIVERY_REFUSED' });
    expect(p.message).toBe(
      `the collector at ${URL_} refused log records with 401 PERISCOPE_ERR_UNAUTHORIZED: authentication required: they are dropped (stats().dropped.permanent_error); check the credentials: OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer <token>", or user:password in the endpoint (a basic user of the collector's http.auth)`,
    );
    // A proxy's HTML page: the status alone, no credentials hint for a 404.
    expect(refusal(URL_, 404, '<html>nope</html>').message).toBe(`the collector at ${URL_} refused log records with 404: they are dropped (stats().dropped.permanent_error)`);
  });

  it('a TLS failure is found under fetch\'s TypeError; a refused connection is no problem to tell (it is retried and fixes itself)', () => {
    const fetchError = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(`boom ${code}`), { code }) });
    expect(tlsFailure(URL_, fetchError('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toMatchObject({ key: 'log records tls UNABLE_TO_VERIFY_LEAF_SIGNATURE', code: 'PERISCOPE_SDK_DELIVERY_TLS_FAILED', message: expect.stringContaining('OTEL_EXPORTER_OTLP_CERTIFICATE') });
    expect(tlsFailure(URL_, fetchError('ERR_SSL_WRONG_VERSION_NUMBER'))?.message).toContain('is it http://?');
    expect(tlsFailure(URL_, fetchError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))?.message).toContain('OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE');
    expect(tlsFailure(URL_, fetchError('ERR_TLS_CERT_ALTNAME_INVALID'))?.message).toContain("not for the endpoint's host name");
    expect(tlsFailure(URL_, fetchError('ECONNREFUSED'))).toBeUndefined();
    expect(tlsFailure(URL_, new DOMException('timed out', 'TimeoutError'))).toBeUndefined();
  });

  it('an OTLP export\'s failure: a 401 is a refusal of that signal, without the URL\'s credentials; 429 and 5xx are not told (retried)', () => {
    const otlpError = (code: number, data = '') => Object.assign(new Error(`Unauthorized ${code}`), { name: 'OTLPExporterError', code, data });
    const spans = exportProblem('https://app:s3cret@collector:4318/v1/traces', otlpError(401), 'spans');
    expect(spans).toMatchObject({ key: 'spans refused 401', code: 'PERISCOPE_SDK_DELIVERY_REFUSED' });
    expect(spans!.message).toContain('the collector at https://collector:4318/v1/traces refused spans with 401: they are dropped (stats().spans.failed); check the credentials');
    expect(spans!.message).not.toContain('s3cret');
    expect(exportProblem('https://collector:4318/v1/metrics', otlpError(403), 'metrics')!.message).toContain('this export is lost (stats().metrics.failed)');
    for (const status of [408, 429, 500, 503]) expect(exportProblem('https://collector:4318/v1/traces', otlpError(status), 'spans')).toBeUndefined();
    const untrusted = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(exportProblem('https://collector:4318/v1/metrics', untrusted, 'metrics')).toMatchObject({ key: 'metrics tls UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: expect.stringContaining('the next export tries again') });
  });

  it('warnOnce warns of each problem once per process, and ignores what is not a problem', () => {
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(`${(w as NodeJS.ErrnoException).code} ${w.message}`);
    process.on('warning', listener);
    const warn = warnOnce();
    try {
      const p = refusal(URL_, 403, '');
      warn(p);
      warn(p);
      warn(undefined);
      warn({ key: 1 });
      return new Promise<void>((resolve) => setImmediate(() => {
        expect(warnings).toEqual([`PERISCOPE_SDK_DELIVERY_REFUSED ${p.message}`]);
        resolve();
      }));
    } finally {
      setImmediate(() => process.off('warning', listener));
    }
  });
});
