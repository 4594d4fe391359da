// The node edit dialog: name, enabled, the schema form and the type's documentation; inline
// problems from the last deploy. Config nodes (a broker) open in a second dialog over the first.
//
// Actions up (on `host`): update-node {id, name, disabled, config}, delete-nodes {ids}.
// For a config node that does not exist yet, `onDone` receives the values instead.

import { ask, h } from './dom.js';
import { configPointer } from './form-logic.js';
import { buildForm } from './schema-form.js';

/**
 * @typedef {import('./state.js').FlowNode} FlowNode
 * @typedef {import('./state.js').NodeType} NodeType
 * @typedef {import('./api.js').Problem} Problem
 */

/**
 * Open the dialog for `node`; resolves with the saved values, or null when cancelled or deleted.
 * @param {HTMLElement} host
 * @param {{node: FlowNode, type: NodeType|undefined, problems: Problem[], context: import('./schema-form.js').FormContext,
 *          isNew?: boolean}} props
 * @returns {Promise<{name: string, disabled: boolean, config: Record<string, any>}|null>}
 */
export function openNodeDialog(host, props) {
  const { node, type, problems, context } = props;
  const schema = type?.schema || { type: 'object', properties: {} };
  const titleId = `dlg-${node.id}-title`;
  const name = /** @type {HTMLInputElement} */ (h('input', { id: `${titleId}-name`, type: 'text', value: node.name, autocomplete: 'off' }));
  const enabled = /** @type {HTMLInputElement} */ (h('input', { id: `${titleId}-enabled`, type: 'checkbox', checked: !node.disabled }));
  const form = buildForm(schema, node.config, context);
  const nodeProblems = h('ul', { class: 'node-problems', role: 'alert' });
  const doc = type?.description ? h('details', { class: 'node-doc' }, h('summary', {}, `About ${type.label}`), h('pre', {}, type.description)) : null;
  const done = h('button', { type: 'submit', class: 'primary', value: 'done' }, 'Done');
  const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
  const del = props.isNew ? null : h('button', { type: 'button', class: 'danger', value: 'delete' }, 'Delete');
  const body = h('form', { method: 'dialog', class: 'node-form', novalidate: true },
    h('header', {}, h('h2', { id: titleId }, `Edit ${type?.label || node.type} node`), h('span', { class: 'node-id' }, node.id)),
    nodeProblems,
    h('div', { class: 'dialog-body' },
      h('div', { class: 'field field-string' }, h('label', { for: name.id }, 'Name'), name),
      h('div', { class: 'field field-boolean' }, h('label', { for: enabled.id }, 'Enabled'), enabled),
      form.el, doc),
    h('footer', {}, del, h('span', { class: 'spacer' }), cancel, done));
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'node-dialog', 'aria-labelledby': titleId, 'data-node': node.id }, body));
  host.append(dialog);

  const show = (/** @type {Problem[]} */ list) => {
    const inConfig = [];
    nodeProblems.replaceChildren();
    for (const p of list) {
      const pointer = 'pointer' in p ? configPointer(p.pointer) : null;
      if (pointer === null) nodeProblems.append(h('li', {}, p.text || p.reason));
      else inConfig.push({ pointer, reason: p.reason });
    }
    form.showProblems(inConfig);
  };
  show(problems || []);

  return new Promise((resolve) => {
    let result = /** @type {any} */ (null);
    const close = () => dialog.close();
    cancel.addEventListener('click', close);
    del?.addEventListener('click', () => {
      ask(host, 'delete-nodes', { ids: [node.id] });
      close();
    });
    body.addEventListener('submit', (event) => {
      event.preventDefault();
      const { value, errors } = form.read();
      if (errors.length) {
        form.showProblems(errors);
        return;
      }
      result = { name: name.value, disabled: !enabled.checked, config: value };
      if (!props.isNew) ask(host, 'update-node', { id: node.id, ...result });
      close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    dialog.showModal();
    const first = /** @type {HTMLElement|null} */ (form.el.querySelector('input, select, textarea')) || name;
    first.focus();
  });
}
