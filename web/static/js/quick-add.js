// Quick-add: type to find a node type, Enter to add it where the pointer is (a combobox).

import { attr, h } from './dom.js';
import { groupTypes } from './palette.js';

/**
 * Open the quick-add box at screen point (x, y); resolves with the chosen type or null.
 * @param {HTMLElement} host @param {{x: number, y: number, types: import('./state.js').NodeType[], initial?: string}} props
 * @returns {Promise<string|null>}
 */
export function openQuickAdd(host, props) {
  const input = /** @type {HTMLInputElement} */ (h('input', {
    type: 'text', class: 'quick-add-input', role: 'combobox', 'aria-label': 'Add a node: type its name',
    'aria-controls': 'quick-add-list', 'aria-expanded': 'true', 'aria-autocomplete': 'list', autocomplete: 'off',
    value: props.initial || '',
  }));
  const list = h('ul', { id: 'quick-add-list', role: 'listbox', class: 'quick-add-list', 'aria-label': 'Node types' });
  const box = h('div', { class: 'quick-add' }, input, list);
  box.style.left = `${props.x}px`;
  box.style.top = `${props.y}px`;
  host.append(box);
  let active = 0;
  /** @type {string[]} */
  let shown = [];
  const render = () => {
    shown = groupTypes(props.types, input.value).flatMap((g) => g.types.map((t) => t.type));
    active = Math.min(active, Math.max(0, shown.length - 1));
    list.replaceChildren(...shown.map((type, i) => {
      const t = props.types.find((x) => x.type === type);
      return h('li', { role: 'option', id: `qa-${i}`, 'data-type': type, 'aria-selected': i === active ? 'true' : 'false', class: i === active ? 'active' : '' },
        h('span', { class: 'palette-swatch', style: `background:${t?.color}` }), t?.label || type, h('small', {}, ` ${t?.category}`));
    }));
    attr(input, 'aria-activedescendant', shown.length ? `qa-${active}` : null);
  };
  render();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  return new Promise((resolve) => {
    let finished = false;
    const finish = (/** @type {string|null} */ type) => {
      if (finished) return;
      finished = true;
      box.remove();
      resolve(type);
    };
    input.addEventListener('input', () => {
      active = 0;
      render();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown') active = Math.min(active + 1, shown.length - 1);
      else if (event.key === 'ArrowUp') active = Math.max(active - 1, 0);
      else if (event.key === 'Enter') return finish(shown[active] ?? null);
      else if (event.key === 'Escape') return finish(null);
      else return;
      event.preventDefault();
      render();
    });
    list.addEventListener('pointerdown', (event) => {
      const li = /** @type {Element} */ (event.target).closest('li');
      event.preventDefault();
      if (li) finish(li.getAttribute('data-type'));
    });
    input.addEventListener('blur', () => setTimeout(() => finish(null), 100));
  });
}
