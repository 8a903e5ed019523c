// fetch wrappers for the collector's JSON API. Errors carry the HTTP status and the coded error
// body { error: { code, message, details } } (docs/api.md).

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function parse(res, path) {
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body && body.error;
    throw new ApiError(res.status, e ? e.code : `HTTP_${res.status}`, e ? e.message : `${path}: HTTP ${res.status}`, e ? e.details : null);
  }
  return body;
}

export async function getJson(path, options = {}) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal: options.signal });
  return parse(res, path);
}

/**
 * Like getJson but resolves to the body of a failure status too when the body is the health
 * report (/health/detailed answers 503 with its components when one is down). A failure that is
 * not — a coded error body, or a proxy's HTML page while the collector restarts — is thrown as
 * getJson throws it, so the page names the status instead of a JSON syntax error.
 */
export async function getJsonAnyStatus(path, options = {}) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal: options.signal });
  if (res.status === 404) throw new ApiError(404, 'HTTP_404', `${path}: not found`, null);
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: thrown below with the status
  }
  if (body && typeof body.status === 'string') return { status: res.status, body };
  const e = body && body.error;
  const message = res.ok ? `${path}: HTTP ${res.status} without a health report` : `${path}: HTTP ${res.status}`;
  throw new ApiError(res.status, e ? e.code : `HTTP_${res.status}`, e ? e.message : message, e ? e.details : null);
}

export async function postJson(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  return parse(res, path);
}

export async function getText(path, options = {}) {
  const res = await fetch(path, { signal: options.signal });
  if (!res.ok) throw new ApiError(res.status, `HTTP_${res.status}`, `${path}: HTTP ${res.status}`, null);
  return res.text();
}

/** Human text for an error shown in the page. */
export function describeError(err) {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err && err.message ? err.message : String(err);
}
