// Flow tabs: one per flow; click to show, double-click (or the ⋯ button) for its properties, + to add.
//
// Data down: 'flow-tabs' {flows, active}. Actions up: select-flow {id}, add-flow {}, edit-flow {id}.

import { ask, attr, h, text } from './dom.js';
import { keyedList } from './keyed.js';

/** @param {HTMLElement} root */
export function mountTabs(root) {
  const list = h('div', { class: 'tab-list', role: 'tablist', 'aria-label': 'Flows' });
  const add = h('button', { class: 'tab-add', type: 'button', 'aria-label': 'Add flow', title: 'Add flow' }, '+');
  root.append(list, add);
  let shown = null;

  /** @param {{flows: import('./state.js').Flow[], active: string|null}} props */
  function update(props) {
    if (shown && shown.flows === props.flows && shown.active === props.active) return;
    shown = props;
    keyedList(/** @type {any} */ (list), props.flows, {
      key: (f) => f.id,
      ordered: true,
      create: (f) => h('div', { class: 'tab', 'data-id': f.id },
        h('button', { class: 'tab-label', type: 'button', role: 'tab' }),
        h('button', { class: 'tab-menu', type: 'button', title: 'Flow properties' }, '⋯')),
      update: (el, f) => {
        const label = /** @type {HTMLElement} */ (el.firstChild);
        text(label, f.label);
        el.classList.toggle('disabled', f.disabled);
        attr(/** @type {Element} */ (el.lastChild), 'aria-label', `Properties of flow ${f.label}`);
      },
    });
    for (const el of list.children) {
      const active = el.getAttribute('data-id') === props.active;
      el.classList.toggle('active', active);
      attr(/** @type {Element} */ (el.firstChild), 'aria-selected', active ? 'true' : 'false');
    }
  }

  root.addEventListener('flow-tabs', (event) => update(/** @type {CustomEvent} */ (event).detail));
  add.addEventListener('click', () => ask(root, 'add-flow'));
  list.addEventListener('click', (event) => {
    const target = /** @type {Element} */ (event.target);
    const tab = target.closest('.tab');
    if (!tab) return;
    const id = tab.getAttribute('data-id');
    if (target.closest('.tab-menu')) ask(root, 'edit-flow', { id });
    else ask(root, 'select-flow', { id });
  });
  list.addEventListener('dblclick', (event) => {
    const tab = /** @type {Element} */ (event.target).closest('.tab');
    if (tab) ask(root, 'edit-flow', { id: tab.getAttribute('data-id') });
  });
}
