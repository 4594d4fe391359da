// Small DOM helpers shared by the components: element creation and the two kinds of events.
//
// Data flows down as noun-named events dispatched on a component's root (it listens and calls its
// own update); actions bubble up as verb-named events that the app (app.js) turns into state edits.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Create an HTML element: h('button', {class: 'x', 'aria-label': 'Close', onclick: fn}, 'text', child)
 * @param {string} tag @param {Record<string, any>} [attrs] @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/**
 * Create an SVG element.
 * @param {string} tag @param {Record<string, any>} [attrs] @param {...(Node|string|null|undefined|false)} children
 * @returns {SVGElement}
 */
export function s(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** @template {Element} E @param {E} el @param {Record<string, any>} attrs @param {any[]} children @returns {E} */
function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(/** @type {HTMLElement} */ (el).dataset, value);
    else if (name === 'value' || name === 'checked' || name === 'selected') /** @type {any} */ (el)[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * Ask for an action: a bubbling, verb-named event (e.g. 'add-node') the app handles.
 * @param {Element} el @param {string} verb @param {any} [detail]
 */
export function ask(el, verb, detail = {}) {
  el.dispatchEvent(new CustomEvent(verb, { detail, bubbles: true }));
}

/**
 * Hand data down: a noun-named event (e.g. 'flow-view') on a component's root, not bubbling.
 * @param {Element} el @param {string} noun @param {any} detail
 */
export function give(el, noun, detail) {
  el.dispatchEvent(new CustomEvent(noun, { detail, bubbles: false }));
}

/** Set an attribute only when it differs (cheap idempotent updates). @param {Element} el @param {string} name @param {string|null} value */
export function attr(el, name, value) {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

/** Set text only when it differs. @param {Node} el @param {string} text */
export function text(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Whether a key event comes from a place where the user types text. @param {Event} event */
export function isTyping(event) {
  const target = /** @type {HTMLElement|null} */ (event.target);
  if (!target || !target.closest) return false;
  return !!target.closest('input, textarea, select, [contenteditable="true"]');
}
