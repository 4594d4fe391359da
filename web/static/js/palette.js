// The palette: every node type by category, with a filter box. Drag an entry onto the canvas to
// add a node (pointer events, so it works the same with mouse, pen and touch), or press Enter on a
// focused entry to add it at the middle of the view.
//
// Data down: 'palette' {types}. Actions up: add-node {type, clientX?, clientY?}.

import { ask, h, text } from './dom.js';
import { keyedList } from './keyed.js';

/** @typedef {import('./state.js').NodeType} NodeType */

export const CATEGORY_ORDER = ['source', 'codec', 'transform', 'filter', 'sink', 'config'];
const CATEGORY_TITLES = /** @type {Record<string, string>} */ ({
  source: 'Sources', codec: 'Codecs', transform: 'Transforms', filter: 'Filters', sink: 'Sinks', config: 'Config',
});

/**
 * Types matching a filter text (type name, label or description), by category, without config types.
 * @param {NodeType[]} types @param {string} filter @returns {{category: string, types: NodeType[]}[]}
 */
export function groupTypes(types, filter) {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const matching = types.filter((t) => t.category !== 'config'
    && words.every((w) => `${t.type} ${t.label} ${t.category}`.toLowerCase().includes(w)));
  return CATEGORY_ORDER
    .map((category) => ({ category, types: matching.filter((t) => t.category === category) }))
    .filter((group) => group.types.length);
}

/** @param {HTMLElement} root */
export function mountPalette(root) {
  const filter = /** @type {HTMLInputElement} */ (h('input', {
    type: 'search', class: 'palette-filter', placeholder: 'filter nodes', 'aria-label': 'Filter node types',
  }));
  const groups = h('div', { class: 'palette-groups' });
  root.append(filter, groups);
  /** @type {NodeType[]} */
  let types = [];
  let shownFilter = null;
  let shownTypes = /** @type {NodeType[]|null} */ (null);

  function update() {
    if (shownFilter === filter.value && shownTypes === types) return;
    shownFilter = filter.value;
    shownTypes = types;
    const grouped = groupTypes(types, filter.value);
    keyedList(/** @type {any} */ (groups), grouped, {
      key: (g) => g.category,
      ordered: true,
      create: (g) => h('section', { class: 'palette-category', 'data-category': g.category },
        h('h3', {}, CATEGORY_TITLES[g.category] || g.category), h('ul', { role: 'list' })),
      update: (el, g) => {
        keyedList(/** @type {any} */ (el.querySelector('ul')), g.types, {
          key: (t) => t.type,
          ordered: true,
          create: (t) => h('li', {
            class: 'palette-node', tabindex: '0', role: 'button', 'data-type': t.type,
            'aria-label': `Add ${t.label} node`, title: t.description || t.type,
          }, h('span', { class: 'palette-swatch' }), h('span', { class: 'palette-label' })),
          update: (li, t) => {
            /** @type {HTMLElement} */ (li.querySelector('.palette-swatch')).style.background = t.color;
            text(/** @type {Element} */ (li.querySelector('.palette-label')), t.label);
          },
        });
      },
    });
  }

  root.addEventListener('palette', (event) => {
    types = /** @type {CustomEvent} */ (event).detail.types;
    update();
  });
  filter.addEventListener('input', update);
  filter.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      const first = /** @type {HTMLElement|null} */ (groups.querySelector('.palette-node'));
      if (first) ask(root, 'add-node', { type: first.dataset.type });
    } else if (event.key === 'Escape') {
      filter.value = '';
      update();
    }
  });

  groups.addEventListener('keydown', (event) => {
    const item = /** @type {HTMLElement} */ (event.target).closest('.palette-node');
    if (item && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      ask(root, 'add-node', { type: /** @type {HTMLElement} */ (item).dataset.type });
    }
  });

  // Drag with pointer events: a ghost follows the pointer; dropping over the canvas adds the node.
  groups.addEventListener('pointerdown', (event) => {
    const item = /** @type {HTMLElement|null} */ (/** @type {Element} */ (event.target).closest('.palette-node'));
    if (!item || event.button !== 0) return;
    event.preventDefault();
    const type = /** @type {string} */ (item.dataset.type);
    const ghost = /** @type {HTMLElement} */ (item.cloneNode(true));
    ghost.classList.add('palette-ghost');
    ghost.removeAttribute('tabindex');
    ghost.setAttribute('aria-hidden', 'true');
    const place = (/** @type {PointerEvent} */ e) => {
      ghost.style.left = `${e.clientX - 20}px`;
      ghost.style.top = `${e.clientY - 12}px`;
    };
    place(event);
    document.body.append(ghost);
    const move = (/** @type {PointerEvent} */ e) => place(e);
    const up = (/** @type {PointerEvent} */ e) => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      ghost.remove();
      const under = document.elementFromPoint(e.clientX, e.clientY);
      if (under && under.closest('.canvas')) ask(root, 'add-node', { type, clientX: e.clientX, clientY: e.clientY });
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  });
}
