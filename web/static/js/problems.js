// The problems panel: what the server said about the last deploy attempt, each naming its node;
// click one to reveal the node and open its editor.
//
// Data down: 'problems-view' {problems}. Actions up: reveal-node {id, edit: true}.

import { ask, h, text } from './dom.js';

/** @param {HTMLElement} root */
export function mountProblems(root) {
  const summary = h('p', { class: 'problems-summary', role: 'status' });
  const list = h('ul', { class: 'problems-list' });
  root.append(summary, list);
  let shown = null;

  /** @param {{problems: import('./api.js').Problem[]}} p */
  function update(p) {
    if (shown === p.problems) return;
    shown = p.problems;
    text(summary, p.problems.length ? `${p.problems.length} problem${p.problems.length === 1 ? '' : 's'} stopped the deploy` : 'No problems.');
    list.replaceChildren(...p.problems.map((problem) => h('li', { class: 'problem' },
      problem.node
        ? h('button', { type: 'button', class: 'problem-link', 'data-node': problem.node, 'aria-label': `Show ${problem.where}` }, problem.where)
        : h('strong', {}, problem.where),
      h('code', {}, problem.pointer || '/'), h('span', {}, problem.reason))));
  }

  root.addEventListener('problems-view', (event) => update(/** @type {CustomEvent} */ (event).detail));
  list.addEventListener('click', (event) => {
    const link = /** @type {Element} */ (event.target).closest('.problem-link');
    if (link) ask(root, 'reveal-node', { id: link.getAttribute('data-node'), edit: true });
  });
}
