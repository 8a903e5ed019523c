// Live tail over the WebSocket GET /api/v1/logs/tail (protocol in docs/console.md).
// The page keeps at most MAX_ROWS rows; the collector bounds what it buffers for us and tells
// us how many records it dropped (while paused, or because we read too slowly).
import { h, mount, notice } from '../lib/dom.js';
import { filterFields, linkErrors } from '../lib/filters.js';
import { formatNumber } from '../lib/format.js';
import { logTable, recordRows } from '../lib/logtable.js';
import { readTailParams } from '../lib/params.js';

const MAX_ROWS = 2000;

export function renderTail(el, params) {
  // With errors the page does not connect: tailing without a filter the link names would show
  // records it excludes.
  const { errors, api } = readTailParams(params);
  const filters = filterFields(params);
  const formError = h('div.form-error', { role: 'alert' });
  const form = h('form.tail', { on: { submit } }, filters.el, h('div.filters', null, h('button.primary', { type: 'submit' }, 'Apply filters')), formError);

  const state = h('span.tail-state.badge', { 'data-state': 'connecting' }, 'connecting');
  const received = h('span.tail-received', null, '0');
  const droppedTotal = h('span.tail-dropped', null, '0');
  const droppedDetail = h('span.tail-dropped-detail');
  const pauseBtn = h('button.tail-pause', { type: 'button', on: { click: togglePause } }, 'Pause');
  const clearBtn = h('button', { type: 'button', on: { click: clear } }, 'Clear');
  const follow = h('input', { type: 'checkbox', checked: true });
  const message = h('div.tail-message');
  const { table, body } = logTable([], { className: 'tail' });
  const scroller = h('div.tail-scroll', null, table);
  mount(
    el,
    h('h1', null, 'Live tail'),
    form,
    h(
      'div.toolbar',
      null,
      state,
      pauseBtn,
      clearBtn,
      h('label.inline', null, follow, 'Follow'),
      h('span.counter', null, 'Received ', received),
      h('span.counter', { title: 'records the collector did not send: while paused, because this page read too slowly, or too large for live tail (search shows them)' }, 'Dropped ', droppedTotal, droppedDetail),
    ),
    message,
    scroller,
  );

  let socket = null;
  let paused = false;
  let stopped = false;
  let retryMs = 500;
  let retryTimer = null;
  let receivedCount = 0;
  // Drop totals are per connection; earlier connections' totals are kept in `base`.
  const drops = { base: 0, current: 0, paused: 0, slow: 0, tooLarge: 0 };

  function submit(e) {
    e.preventDefault();
    formError.textContent = '';
    try {
      const next = filters.read();
      const hash = `#/tail?${next}`;
      if (location.hash === hash) reconnect();
      else location.hash = hash;
    } catch (err) {
      formError.textContent = err.message;
    }
  }

  function setState(name, text) {
    state.dataset.state = name;
    state.textContent = text || name;
  }

  function showDrops() {
    droppedTotal.textContent = formatNumber(drops.base + drops.current);
    const parts = [`paused ${formatNumber(drops.paused)}`, `slow ${formatNumber(drops.slow)}`];
    if (drops.tooLarge) parts.push(`too large ${formatNumber(drops.tooLarge)}`);
    droppedDetail.textContent = drops.paused || drops.slow || drops.tooLarge ? ` (${parts.join(', ')})` : '';
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/logs/tail?${api}`);
    socket = ws;
    setState('connecting');
    ws.addEventListener('message', (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg.type === 'ready') {
        retryMs = 500;
        message.replaceChildren();
        // A reconnect starts unpaused on the server: restore the page's state.
        if (paused) ws.send(JSON.stringify({ type: 'pause' }));
        setState(paused ? 'paused' : 'live');
      } else if (msg.type === 'records') {
        addRecords(msg.records);
      } else if (msg.type === 'dropped') {
        drops.current = msg.total;
        if (msg.reasons) {
          drops.paused += msg.reasons.paused || 0;
          drops.slow += msg.reasons.slow || 0;
          drops.tooLarge += msg.reasons.too_large || 0;
        }
        showDrops();
      } else if (msg.type === 'state') {
        setState(msg.paused ? 'paused' : 'live');
      } else if (msg.type === 'error') {
        mount(message, notice('error', `${msg.error.message} (${msg.error.code})`));
      }
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return;
      drops.base += drops.current;
      drops.current = 0;
      socket = null;
      if (stopped) return;
      if (event.code === 1008) {
        setState('error', 'stopped');
        return; // bad filter: retrying would fail the same way
      }
      setState('disconnected', `reconnecting in ${Math.round(retryMs / 1000) || 1}s`);
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    });
  }

  function reconnect() {
    if (socket) {
      const old = socket;
      socket = null;
      old.close(1000);
    }
    clearTimeout(retryTimer);
    start();
  }

  /** Connects with this link's filters, or says why it cannot. */
  function start() {
    if (!errors.length) return connect();
    setState('error', 'stopped');
    mount(message, linkErrors(errors, 'Not connected'));
  }

  function addRecords(records) {
    const frag = document.createDocumentFragment();
    for (const r of records) frag.append(...recordRows(r));
    body.append(frag);
    receivedCount += records.length;
    received.textContent = formatNumber(receivedCount);
    // Two rows (record + detail) per record.
    while (body.childElementCount > MAX_ROWS * 2) {
      body.firstElementChild.remove();
      body.firstElementChild.remove();
    }
    if (follow.checked) scroller.scrollTop = scroller.scrollHeight;
  }

  function togglePause() {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: paused ? 'pause' : 'resume' }));
  }

  function clear() {
    body.replaceChildren();
    receivedCount = 0;
    received.textContent = '0';
  }

  start();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    if (socket) socket.close(1000);
  };
}
