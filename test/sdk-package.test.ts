// The SDK as an app outside this repository gets it: `npm pack` of the sdk workspace, installed
// from the tarball into a fresh app (so the SDK sits under node_modules, where Node refuses to
// strip TypeScript types), run against the REAL collector, and type-checked as a TypeScript app.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

const run = promisify(execFile);
const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

function runApp(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const APP = `
import { init } from '@periscope/sdk';
const obs = init({ service: process.env.APP_SERVICE, endpoint: process.env.APP_ENDPOINT, flushIntervalMs: 100 });
obs.logger.info({ orderId: 42 }, 'order created');
let traceId;
obs.tracer.startActiveSpan('charge card', (span) => {
  traceId = span.spanContext().traceId;
  obs.logger.info('charging');
  span.end();
});
await obs.shutdown();
console.log(JSON.stringify({ traceId, stats: obs.stats() }));
`;

const PRELOADED_APP = `
import { getPeriscope } from '@periscope/sdk';
const obs = getPeriscope();
obs.logger.warn('started by --import');
await obs.shutdown();
`;

// A CommonJS app, preloaded with --require as OpenTelemetry's auto-instrumentations register often is.
const PRELOADED_CJS_APP = `
const { getPeriscope } = require('@periscope/sdk');
const obs = getPeriscope();
obs.logger.warn('started by --require');
obs.shutdown();
`;

// What a bundler (esbuild, webpack) makes of the SDK: its modules run from the app's own folder, and
// the log worker's file, which pino loads by path in a worker thread, is not there.
const BUNDLED_APP = `
import { init } from './bundled/index.js';
try {
  const obs = init({ service: 'bundled', endpoint: process.env.APP_ENDPOINT });
  obs.logger.info('from a bundle');
  await obs.shutdown();
  console.log(JSON.stringify({ stats: obs.stats() }));
} catch (err) {
  console.log(JSON.stringify({ error: err.message }));
}
`;

// An app that starts the SDK in its worker threads too: both count the same jobs.
const WORKER_APP = `
import { Worker, isMainThread } from 'node:worker_threads';
import { once } from 'node:events';
import { init } from '@periscope/sdk';
const obs = init({ service: process.env.APP_SERVICE, endpoint: process.env.APP_ENDPOINT });
obs.meter.createCounter('jobs.done').add(isMainThread ? 100 : 1);
if (isMainThread) await once(new Worker(new URL(import.meta.url)), 'exit');
await obs.shutdown();
`;

// Compiles only if the package's declarations are found and say what the SDK takes: with types
// missing, \`init\` would be \`any\` and the @ts-expect-error lines would fail as unused.
const TS_APP = `
import { init, type Stats, type Logger } from '@periscope/sdk';
const obs = init({ service: 'typed', endpoint: 'http://127.0.0.1:4318', level: 'info,db=debug' });
const log: Logger = obs.logger.child({ module: 'db' });
log.info({ sql: 'select 1' }, 'query');
const stats: Stats = obs.stats();
const sent: number = stats.sent + stats.spans.dropped;
// @ts-expect-error service must be a string
init({ service: 42 });
// @ts-expect-error sent is a number
const wrong: string = stats.sent;
export { sent, wrong };
`;

describe('the packed SDK in an app outside the repository', () => {
  let collector: CollectorProcess;
  let appDir: string;
  let tarballPath: string;
  beforeAll(async () => {
    const packDir = mkdtempSync(join(tmpdir(), 'periscope-pack-'));
    // The sdk's `prepack` script builds sdk/dist (tsc), as for a publish. A file an earlier build
    // left there (its source since renamed or removed) must not be packed.
    mkdirSync(join(REPO_ROOT, 'sdk/dist'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'sdk/dist/left-over.js'), 'throw new Error("an earlier build");\n');
    await run('npm', ['pack', '-w', '@periscope/sdk', '--pack-destination', packDir, ...NPM_QUIET], { cwd: REPO_ROOT });
    const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
    tarballPath = join(packDir, tarball!);
    appDir = mkdtempSync(join(tmpdir(), 'periscope-app-'));
    writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
    // The SDK's dependencies come from npm's cache, filled by the repo's own `npm install`.
    await run('npm', ['install', '--prefer-offline', ...NPM_QUIET, join(packDir, tarball!)], { cwd: appDir });
    writeFileSync(join(appDir, 'app.js'), APP);
    writeFileSync(join(appDir, 'preloaded.js'), PRELOADED_APP);
    writeFileSync(join(appDir, 'preloaded.cjs'), PRELOADED_CJS_APP);
    collector = await startCollectorProcess();
  }, 180_000);
  afterAll(async () => {
    await collector?.stop();
  });

  it('installs as compiled JavaScript, with no install script for npm to warn about', () => {
    const installed = JSON.parse(readFileSync(join(appDir, 'node_modules/@periscope/sdk/package.json'), 'utf8'));
    expect(Object.keys(installed.scripts ?? {}).filter((s) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s))).toEqual([]);
    expect(readdirSync(join(appDir, 'node_modules/@periscope/sdk/dist')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(readdirSync(join(appDir, 'node_modules/@periscope/sdk/dist'))).not.toContain('left-over.js');
    // The package's page (npm, the registry a team publishes it to) shows how to start.
    expect(readFileSync(join(appDir, 'node_modules/@periscope/sdk/README.md'), 'utf8')).toContain("import { init } from '@periscope/sdk'");
  });

  it('ships logs and spans from plain JavaScript, with the logs joined to the trace', async () => {
    const service = `packed-${Date.now()}`;
    const { code, stdout, stderr } = await runApp(appDir, ['app.js'], { APP_SERVICE: service, APP_ENDPOINT: collector.url });
    expect(code, stderr).toBe(0);
    const { traceId, stats } = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(stats.sent).toBe(2);
    const { records } = await (await fetch(`${collector.url}/api/v1/logs?service=${service}`)).json() as any;
    expect(records.map((r: any) => r.msg).sort()).toEqual(['charging', 'order created']);
    expect(records.find((r: any) => r.msg === 'charging').traceId).toBe(traceId);
    const trace: any = await waitFor(async () => {
      const res = await fetch(`${collector.url}/api/v1/traces/${traceId}`);
      return res.status === 200 && res.json();
    });
    expect(trace.spans.map((s: any) => s.name)).toEqual(['charge card']);
  });

  it.each([
    { name: '`node --import @periscope/sdk/register`, configured by PERISCOPE_* env', flag: '--import', service: 'preloaded', app: 'preloaded.js' },
    { name: '`node --require @periscope/sdk/register` in a CommonJS app', flag: '--require', service: 'required', app: 'preloaded.cjs' },
  ])('starts from $name', async ({ flag, service: prefix, app }) => {
    const service = `${prefix}-${Date.now()}`;
    const { code, stderr } = await runApp(appDir, [flag, '@periscope/sdk/register', app], {
      PERISCOPE_SERVICE: service, PERISCOPE_ENDPOINT: collector.url,
    });
    expect(code, stderr).toBe(0);
    const { records } = await (await fetch(`${collector.url}/api/v1/logs?service=${service}`)).json() as any;
    expect(records.map((r: any) => [r.msg, r.level])).toEqual([[`started by ${flag}`, 'warning']]);
  });

  it('an SDK started in a worker thread too: the collector has both threads\' counts', async () => {
    const service = `threads-${Date.now()}`;
    writeFileSync(join(appDir, 'threads.js'), WORKER_APP);
    const { code, stderr } = await runApp(appDir, ['threads.js'], { APP_SERVICE: service, APP_ENDPOINT: collector.url });
    expect(code, stderr).toBe(0);
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    const counts = text.split('\n').filter((l) => l.startsWith('jobs_done_total{') && l.includes(`job="${service}"`)).map((l) => Number(l.split(' ').at(-1)));
    expect(counts.sort((a, b) => a - b)).toEqual([1, 100]);
  });

  it('bundled into the app, init() says the SDK cannot run from a bundle and what to do', async () => {
    cpSync(join(appDir, 'node_modules/@periscope/sdk/dist'), join(appDir, 'bundled'), { recursive: true });
    rmSync(join(appDir, 'bundled/logs/transport.js'));
    writeFileSync(join(appDir, 'bundled-app.js'), BUNDLED_APP);
    const { code, stdout, stderr } = await runApp(appDir, ['bundled-app.js'], { APP_ENDPOINT: collector.url });
    expect(code, stderr).toBe(0);
    const { error } = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(error).toContain(`@periscope/sdk cannot run from a bundle: its log worker's file ${join(appDir, 'bundled/logs/transport.js')} is not there`);
    expect(error).toContain('--external:@periscope/sdk');
  });

  // Apps still run Node 22 (an LTS line until April 2027): the SDK and its dependencies run there
  // from 22.19 (undici 8's floor; OpenTelemetry's is 22.15). npm checks engines against the Node
  // running it: under Node 22 it warned, and with engine-strict (and yarn 1) refused the install.
  it('installs with engine-strict on Node 22.19, the oldest Node its dependencies run on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-node22-app-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'node22-shop', private: true }));
    // npm reads the Node version it checks engines against from process.version
    const asNode22 = "--import=data:text/javascript,Object.defineProperty(process,'version',{value:'v22.19.0'})";
    const env = { ...process.env, NODE_OPTIONS: asNode22 };
    const result = await run('npm', ['install', '--engine-strict', '--prefer-offline', ...NPM_QUIET, tarballPath], { cwd: dir, env }).then(
      () => ({ ok: true, stderr: '' }),
      (err) => ({ ok: false, stderr: String(err.stderr) }),
    );
    expect(result).toEqual({ ok: true, stderr: '' });
  });

  // TypeScript before 7 resolves a package by its `types` field alone, not `exports`, with
  // "module": "commonjs" and no moduleResolution (node10) — the tsconfig of many CommonJS apps.
  it('type-checks a CommonJS TypeScript app compiled by TypeScript 5 (moduleResolution node10)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-ts5-app-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'legacy-shop', private: true }));
    await run('npm', ['install', '--prefer-offline', ...NPM_QUIET, tarballPath, 'typescript@5'], { cwd: dir });
    writeFileSync(join(dir, 'typed.ts'), TS_APP);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'commonjs', target: 'es2022', strict: true, esModuleInterop: true, noEmit: true, skipLibCheck: false,
        typeRoots: [join(REPO_ROOT, 'node_modules/@types')], types: ['node'],
      },
      files: ['typed.ts'],
    }));
    const result = await run(join(dir, 'node_modules/.bin/tsc'), ['-p', dir]).then(
      ({ stdout }) => ({ ok: true, stdout }),
      (err) => ({ ok: false, stdout: String(err.stdout) }),
    );
    expect(result).toEqual({ ok: true, stdout: '' });
  });

  it('type-checks a TypeScript app against the published declarations', async () => {
    writeFileSync(join(appDir, 'typed.ts'), TS_APP);
    writeFileSync(join(appDir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'nodenext', strict: true, noEmit: true, skipLibCheck: false,
        typeRoots: [join(REPO_ROOT, 'node_modules/@types')], types: ['node'],
      },
      files: ['typed.ts'],
    }));
    const result = await run(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', appDir]).then(
      ({ stdout }) => ({ ok: true, stdout }),
      (err) => ({ ok: false, stdout: String(err.stdout) }),
    );
    expect(result).toEqual({ ok: true, stdout: '' });
  });
});
