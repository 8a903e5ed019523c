import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERR, errorBody } from '../errors.ts';

/**
 * The web console (docs/console.md): static files under ./static, read once at startup.
 *
 *   GET /                            index.html — `cache-control: no-cache` + ETag (revalidated on every load)
 *   GET /console/<version>/<file>    assets — `public, max-age=31536000, immutable`
 *
 * <version> is a hash of every asset, substituted for {{ASSETS}} in index.html. Modules import
 * each other by relative path, so they all resolve under the same version: any change gives new
 * URLs and no build step is needed. An old version answers 404 (the new HTML never asks for it).
 *
 * Every response carries a strict Content-Security-Policy: only same-origin scripts, styles,
 * images and connections (fetch + WebSocket), no inline script or style, no framing, and
 * Trusted Types enforced so that no code path can assign a string to innerHTML.
 */

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
export const ASSET_PREFIX = '/console/';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
};

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  etag: string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function asset(body: Buffer, type: string): Asset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  // Compress only where it pays (text, more than a packet).
  const gzip = body.length > 1024 && !type.startsWith('image/png') ? gzipSync(body, { level: 9 }) : undefined;
  return { body, type, etag, gzip: gzip && gzip.length < body.length ? gzip : undefined };
}

/** Reads the console files and fingerprints them. Exported for tests. */
export function loadConsoleAssets(dir = STATIC_DIR): { version: string; index: Asset; files: Map<string, Asset> } {
  const hash = createHash('sha256');
  const raw = new Map<string, Buffer>();
  for (const file of listFiles(dir)) {
    const rel = relative(dir, file).split(sep).join('/');
    const body = readFileSync(file);
    raw.set(rel, body);
    hash.update(rel).update('\0').update(body).update('\0');
  }
  const version = hash.digest('hex').slice(0, 12);
  const html = raw.get('index.html');
  if (!html) throw new Error(`console: ${dir}index.html is missing`);
  raw.delete('index.html');
  const files = new Map<string, Asset>();
  for (const [rel, body] of raw) files.set(rel, asset(body, TYPES[extname(rel)] ?? 'application/octet-stream'));
  const index = asset(Buffer.from(html.toString('utf8').replaceAll('{{ASSETS}}', `${ASSET_PREFIX}${version}`)), TYPES['.html']);
  return { version, index, files };
}

/** RFC 9110 §13.1.2: If-None-Match is a list of entity tags (weak comparison), or "*". */
function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function send(request: FastifyRequest, reply: FastifyReply, file: Asset, cacheControl: string) {
  reply.headers(SECURITY_HEADERS);
  reply.header('cache-control', cacheControl).header('etag', file.etag).header('vary', 'accept-encoding');
  if (notModified(request, file.etag)) return reply.code(304).send();
  reply.header('content-type', file.type);
  if (file.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(file.gzip);
  }
  return reply.send(file.body);
}

export function registerConsoleRoutes(app: FastifyInstance): void {
  const { version, index, files } = loadConsoleAssets();
  app.get('/', (request, reply) => send(request, reply, index, 'no-cache'));
  app.get(`${ASSET_PREFIX}:version/*`, (request, reply) => {
    const params = request.params as { version: string; '*': string };
    const file = params.version === version ? files.get(params['*']) : undefined;
    if (!file) {
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .send(errorBody(ERR.NOT_FOUND, `no console asset ${request.url.split('?')[0]} (current version is ${version})`));
    }
    return send(request, reply, file, 'public, max-age=31536000, immutable');
  });
}
