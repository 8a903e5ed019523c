// Periscope console: hash router. Each view is render(container, route) → cleanup function.
// Routes: #/tail, #/search, #/traces/<traceId>, #/alerts, #/alerts/<id>, #/status.
import { mount, notice } from './lib/dom.js';
import { renderAlert, renderAlerts } from './views/alerts.js';
import { renderSearch } from './views/search.js';
import { renderStatus } from './views/status.js';
import { renderTail } from './views/tail.js';
import { renderTrace } from './views/trace.js';

const view = document.getElementById('view');
let cleanup = null;

/** "#/traces/abc?x=1" → { parts: ['traces', 'abc'], params: URLSearchParams } */
export function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  return {
    parts: path.split('/').filter(Boolean).map(decodeSegment),
    params: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)),
  };
}

/** A path segment decoded; one that is not valid percent-encoding (a hand-typed "%ZZ") stays as typed. */
function decodeSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const ROUTES = {
  tail: (el, r) => renderTail(el, r.params),
  search: (el, r) => renderSearch(el, r.params),
  traces: (el, r) => renderTrace(el, r.parts[1] || ''),
  alerts: (el, r) => (r.parts[1] ? renderAlert(el, r.parts[1], r.params) : renderAlerts(el)),
  status: (el) => renderStatus(el),
};

function route() {
  const r = parseHash(location.hash);
  const name = r.parts[0] || 'search';
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a failing cleanup must not block navigation
    }
    cleanup = null;
  }
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const render = ROUTES[name];
  if (!render) {
    mount(view, notice('error', `Unknown page "#/${r.parts.join('/')}".`));
    return;
  }
  document.title = `Periscope · ${name}`;
  cleanup = render(view, r) || null;
}

window.addEventListener('hashchange', route);
route();
