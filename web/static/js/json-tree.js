// An expandable JSON tree: objects and arrays are <details> elements whose children are built
// only when first opened (a debug message with a large payload costs one line until expanded).

import { h } from './dom.js';

/** Longer texts are cut in the tree until asked for. */
const LONG = 500;

/**
 * A one-line preview of a value, at most about `budget` characters.
 * @param {any} value @param {number} [budget] @returns {string}
 */
export function preview(value, budget = 60) {
  if (value === null || typeof value !== 'object') return scalarText(value);
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const parts = [];
  let used = 2;
  for (const [key, v] of entries) {
    const inner = v !== null && typeof v === 'object' ? (Array.isArray(v) ? `array[${v.length}]` : '{…}') : scalarText(v);
    const part = isArray ? inner : `${key}: ${inner}`;
    if (used + part.length > budget) {
      parts.push('…');
      break;
    }
    parts.push(part);
    used += part.length + 2;
  }
  return isArray ? `array[${value.length}] [${parts.join(', ')}]` : `{${parts.join(', ')}}`;
}

/** @param {any} value */
function scalarText(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return String(value);
}

/** @param {any} value */
function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * The tree of `value`; `key` labels it (omit at the top level). `open` expands the first level.
 * @param {any} value @param {string|number|null} [key] @param {boolean} [open]
 * @returns {HTMLElement}
 */
export function jsonTree(value, key = null, open = false) {
  const label = key === null ? null : h('span', { class: 'json-key' }, `${key}: `);
  if (value === null || typeof value !== 'object') {
    const full = scalarText(value);
    const shown = h('span', { class: `json-value json-${kind(value)}` }, full.length > LONG ? `${full.slice(0, LONG)}…` : full);
    const more = full.length > LONG
      ? h('button', { type: 'button', class: 'json-more', 'aria-label': `Show all ${full.length} characters` }, `+${full.length - LONG}`)
      : null;
    more?.addEventListener('click', () => {
      shown.textContent = full;
      more.remove();
    });
    return h('div', { class: 'json-leaf' }, label, shown, more);
  }
  const details = h('details', { class: 'json-node' },
    h('summary', {}, label, h('span', { class: 'json-preview' }, preview(value))));
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const children = h('div', { class: 'json-children' });
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [k, v] of entries) children.append(jsonTree(v, k));
    if (!entries.length) children.append(h('div', { class: 'json-leaf json-empty' }, Array.isArray(value) ? 'empty array' : 'empty object'));
    details.append(children);
  };
  details.addEventListener('toggle', build);
  if (open) {
    build();
    /** @type {HTMLDetailsElement} */ (details).open = true;
  }
  return details;
}
