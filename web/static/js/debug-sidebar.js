// The debug sidebar: live messages of debug nodes, newest at the bottom, each an expandable JSON
// tree with its time and source node. Filter by node or flow, pause, clear.
//
// Data down: 'debug-view' {log, filter, nodes: [{id, label, flow}], activeFlow}.
// Actions up: reveal-node {id}, debug-filter {filter}, debug-pause {paused}, debug-clear {}.

import { ask, attr, h, text } from './dom.js';
import { clockTime, visible } from './debug-log.js';
import { jsonTree } from './json-tree.js';
import { keyedList } from './keyed.js';

/** @param {HTMLElement} root */
export function mountDebugSidebar(root) {
  const filter = /** @type {HTMLSelectElement} */ (h('select', { class: 'debug-filter', 'aria-label': 'Show messages from' }));
  const pause = h('button', { type: 'button', class: 'debug-pause', 'aria-pressed': 'false' }, 'Pause');
  const clearButton = h('button', { type: 'button', class: 'debug-clear', 'aria-label': 'Clear debug messages' }, 'Clear');
  const count = h('span', { class: 'debug-count', role: 'status', 'aria-live': 'polite' });
  const list = h('ol', { class: 'debug-messages', 'aria-label': 'Debug messages' });
  root.append(h('div', { class: 'debug-toolbar' }, filter, pause, clearButton, count), list);
  /** @type {any} */
  let shown = {};
  let stick = true;

  /** @param {any} props */
  function update(props) {
    const optionsKey = JSON.stringify([props.nodes, props.activeFlow]);
    if (optionsKey !== shown.optionsKey) {
      const options = [h('option', { value: 'all' }, 'all nodes'), h('option', { value: 'flow' }, 'current flow')];
      for (const n of props.nodes) options.push(h('option', { value: `node:${n.id}` }, n.label));
      filter.replaceChildren(...options);
    }
    const value = props.filter.scope === 'node' ? `node:${props.filter.node}` : props.filter.scope;
    if (filter.value !== value) filter.value = value;
    const pausedText = props.log.paused ? `Resume${props.log.held.length ? ` (${props.log.held.length} new)` : ''}` : 'Pause';
    text(pause, pausedText);
    attr(pause, 'aria-pressed', props.log.paused ? 'true' : 'false');
    if (props.log !== shown.log || props.filter !== shown.filter || props.activeFlow !== shown.activeFlow) {
      const entries = visible(props.log.entries, props.filter.scope === 'flow' ? { ...props.filter, flow: props.activeFlow } : props.filter);
      stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
      keyedList(/** @type {any} */ (list), entries, { key: (e) => String(e.seq), create: createEntry });
      text(count, `${entries.length} message${entries.length === 1 ? '' : 's'}`);
      if (stick) list.scrollTop = list.scrollHeight;
    }
    shown = { ...props, optionsKey };
  }

  /** @param {import('./debug-log.js').DebugEntry} e */
  function createEntry(e) {
    const source = e.name || e.node;
    return h('li', { class: 'debug-message', 'data-node': e.node, 'data-seq': e.seq },
      h('div', { class: 'debug-meta' },
        h('time', { datetime: e.time || '' }, clockTime(e.time)),
        h('button', { type: 'button', class: 'debug-source', 'data-node': e.node, 'aria-label': `Reveal node ${source}`, title: 'Show this node' }, source),
        e.topic ? h('span', { class: 'debug-topic' }, `topic: ${e.topic}`) : null,
        h('span', { class: 'debug-property' }, e.property === 'msg' ? 'msg' : `msg.${e.property || 'payload'}`)),
      h('div', { class: 'debug-value' }, jsonTree(e.value)));
  }

  root.addEventListener('debug-view', (event) => update(/** @type {CustomEvent} */ (event).detail));
  filter.addEventListener('change', () => {
    const v = filter.value;
    const next = v.startsWith('node:') ? { scope: 'node', node: v.slice(5) } : { scope: v };
    ask(root, 'debug-filter', { filter: next });
  });
  pause.addEventListener('click', () => ask(root, 'debug-pause', { paused: !shown.log?.paused }));
  clearButton.addEventListener('click', () => ask(root, 'debug-clear'));
  list.addEventListener('click', (event) => {
    const button = /** @type {Element} */ (event.target).closest('.debug-source');
    if (button) ask(root, 'reveal-node', { id: button.getAttribute('data-node') });
  });
}
