// DOM helpers. Every value reaches the page as a Text node or an attribute value, never as
// markup: the page runs under `require-trusted-types-for 'script'`, so innerHTML would throw.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('button.primary', { type: 'submit', on: { click } }, 'Save') → HTMLElement.
 * props: attributes (set with setAttribute), `class`, `dataset`, `style` (an object, applied
 * through CSSOM, which the CSP allows), `on` (event listeners), `value`/`checked`/`disabled`
 * (properties). Children: strings and numbers become Text nodes; null/false/undefined are skipped.
 */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.classList.add(...classes);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** The SVG twin of h(). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

function applyProps(el, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') {
      for (const c of String(value).split(/\s+/)) if (c) el.classList.add(c);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'style') {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, String(v));
    } else if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A message box: kind is 'error' | 'info' | 'warn'. */
export function notice(kind, ...children) {
  return h(`div.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, ...children);
}
