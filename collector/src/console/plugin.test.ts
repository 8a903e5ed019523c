// The console's static serving: fingerprinting and cache validation, in-process (app.inject).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../http/server.ts';
import { CONTENT_SECURITY_POLICY, loadConsoleAssets, registerConsoleRoutes } from './plugin.ts';

describe('console assets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-console-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };

  it('the version changes with any file, and index.html points at it', () => {
    write('index.html', '<script type="module" src="{{ASSETS}}/app.js"></script>');
    write('app.js', "import './lib/x.js';");
    write('lib/x.js', 'export const x = 1;');
    const a = loadConsoleAssets(dir + '/');
    expect(a.index.body.toString()).toBe(`<script type="module" src="/console/${a.version}/app.js"></script>`);
    expect([...a.files.keys()].sort()).toEqual(['app.js', 'lib/x.js']);
    write('lib/x.js', 'export const x = 2;');
    const b = loadConsoleAssets(dir + '/');
    expect(b.version).not.toBe(a.version);
    expect(b.files.get('app.js')!.etag).toBe(a.files.get('app.js')!.etag); // per-file ETag only follows its content
  });
});

describe('console routes', () => {
  const app = createHttpServer({ bodyLimit: 1024 });
  registerConsoleRoutes(app);
  afterAll(() => app.close());

  it.each([
    { name: 'exact ETag', header: (etag: string) => etag, status: 304 },
    { name: 'weak ETag in a list', header: (etag: string) => `"nope", W/${etag}`, status: 304 },
    { name: 'star', header: () => '*', status: 304 },
    { name: 'stale ETag', header: () => '"stale"', status: 200 },
  ])('If-None-Match: $name → $status', async ({ header, status }) => {
    const first = await app.inject({ url: '/' });
    const res = await app.inject({ url: '/', headers: { 'if-none-match': header(String(first.headers.etag)) } });
    expect(res.statusCode).toBe(status);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it('gzip only when accepted; HEAD works', async () => {
    const html = (await app.inject({ url: '/' })).body;
    const css = /href="(\/console\/[^"]+\.css)"/.exec(html)![1];
    const plain = await app.inject({ url: css });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-type']).toBe('text/css; charset=utf-8');
    const gz = await app.inject({ url: css, headers: { 'accept-encoding': 'br, gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    const head = await app.inject({ method: 'HEAD', url: css });
    expect(head.statusCode).toBe(200);
  });

  it.each(['/console/000000000000/app.js', '/console/x/../../package.json'])('unknown asset %s → 404 with a coded error', async (url) => {
    const res = await app.inject({ url });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('PERISCOPE_ERR_NOT_FOUND');
  });
});
