// Small modal dialogs: flow properties, import, export, deploy conflict, shortcuts. Each opens a
// native <dialog> (focus trapping, Escape and accessible names come with it) and resolves a Promise.

import { h } from './dom.js';

/**
 * @param {HTMLElement} host @param {string} title @param {HTMLElement[]} content @param {HTMLElement[]} buttons
 * @param {string} [className]
 */
function modal(host, title, content, buttons, className = '') {
  const titleId = `dlg-${Math.random().toString(16).slice(2)}`;
  const form = h('form', { method: 'dialog' },
    h('header', {}, h('h2', { id: titleId }, title)),
    h('div', { class: 'dialog-body' }, ...content),
    h('footer', {}, ...buttons));
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { class: `dialog ${className}`, 'aria-labelledby': titleId }, form));
  host.append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.showModal();
  return { dialog, form };
}

/**
 * Flow properties: label, enabled, delete.
 * @param {HTMLElement} host @param {import('./state.js').Flow} flow
 * @returns {Promise<{label: string, disabled: boolean}|'delete'|null>}
 */
export function openFlowDialog(host, flow) {
  const label = /** @type {HTMLInputElement} */ (h('input', { id: 'flow-label', type: 'text', value: flow.label, autocomplete: 'off' }));
  const enabled = /** @type {HTMLInputElement} */ (h('input', { id: 'flow-enabled', type: 'checkbox', checked: !flow.disabled }));
  const del = h('button', { type: 'button', class: 'danger' }, 'Delete flow');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const done = h('button', { type: 'submit', class: 'primary' }, 'Done');
  const { dialog, form } = modal(host, `Flow ${flow.label}`, [
    h('div', { class: 'field' }, h('label', { for: 'flow-label' }, 'Name'), label),
    h('div', { class: 'field field-boolean' }, h('label', { for: 'flow-enabled' }, 'Enabled'), enabled),
  ], [del, h('span', { class: 'spacer' }), cancel, done], 'flow-dialog');
  label.select();
  return new Promise((resolve) => {
    let result = /** @type {any} */ (null);
    cancel.addEventListener('click', () => dialog.close());
    del.addEventListener('click', () => {
      result = 'delete';
      dialog.close();
    });
    form.addEventListener('submit', () => {
      result = { label: label.value.trim() || flow.label, disabled: !enabled.checked };
    });
    dialog.addEventListener('close', () => resolve(result));
  });
}

/**
 * Import: paste or choose a file, into the current or a new flow. `tryImport` returns an error
 * text (shown inline) or null when it worked.
 * @param {HTMLElement} host @param {(text: string, target: 'current'|'new') => string|null} tryImport
 */
export function openImportDialog(host, tryImport) {
  const area = /** @type {HTMLTextAreaElement} */ (h('textarea', {
    id: 'import-text', class: 'code', rows: 14, spellcheck: 'false', placeholder: 'Paste flow JSON here',
  }));
  const file = /** @type {HTMLInputElement} */ (h('input', { id: 'import-file', type: 'file', accept: '.json,application/json' }));
  const current = h('input', { type: 'radio', name: 'import-target', value: 'current', id: 'import-current', checked: true });
  const fresh = h('input', { type: 'radio', name: 'import-target', value: 'new', id: 'import-new' });
  const error = h('p', { class: 'field-error', role: 'alert' });
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const go = h('button', { type: 'submit', class: 'primary' }, 'Import');
  const { dialog, form } = modal(host, 'Import nodes', [
    h('div', { class: 'field' }, h('label', { for: 'import-text' }, 'Flow JSON'), area),
    h('div', { class: 'field' }, h('label', { for: 'import-file' }, 'or a file'), file),
    h('fieldset', { class: 'field radios' }, h('legend', {}, 'Import to'),
      h('label', {}, current, ' current flow'), h('label', {}, fresh, ' new flow')),
    error,
  ], [h('span', { class: 'spacer' }), cancel, go], 'import-dialog');
  area.focus();
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (chosen) area.value = await chosen.text();
  });
  cancel.addEventListener('click', () => dialog.close());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const target = /** @type {HTMLInputElement} */ (fresh).checked ? 'new' : 'current';
    const problem = tryImport(area.value, target);
    if (problem) error.textContent = problem;
    else dialog.close();
  });
}

/**
 * Export: selection, flow or all; copy or download. `exportText(scope)` gives the JSON text.
 * @param {HTMLElement} host @param {(scope: 'selection'|'flow'|'all') => string} exportText
 * @param {boolean} hasSelection
 */
export function openExportDialog(host, exportText, hasSelection) {
  const scopes = /** @type {const} */ (['selection', 'flow', 'all']);
  const labels = { selection: 'selected nodes', flow: 'current flow', all: 'all flows' };
  const initial = hasSelection ? 'selection' : 'flow';
  const radios = scopes.map((scope) => h('input', {
    type: 'radio', name: 'export-scope', value: scope, id: `export-${scope}`, checked: scope === initial,
    disabled: scope === 'selection' && !hasSelection,
  }));
  const area = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: 'export-text', class: 'code', rows: 14, readonly: true, spellcheck: 'false' }));
  const note = h('p', { class: 'field-help', role: 'status' }, 'Credentials are never exported.');
  const copy = h('button', { type: 'button' }, 'Copy to clipboard');
  const download = h('button', { type: 'button' }, 'Download');
  const close = h('button', { type: 'submit', class: 'primary' }, 'Close');
  const scope = () => /** @type {'selection'|'flow'|'all'} */ (/** @type {HTMLInputElement|undefined} */ (radios.find((r) => /** @type {HTMLInputElement} */ (r).checked))?.value || 'flow');
  const fill = () => {
    area.value = exportText(scope());
  };
  const { dialog } = modal(host, 'Export nodes', [
    h('fieldset', { class: 'field radios' }, h('legend', {}, 'Export'),
      ...radios.map((r, i) => h('label', {}, r, ` ${labels[scopes[i]]}`))),
    h('div', { class: 'field' }, h('label', { for: 'export-text' }, 'Flow JSON'), area),
    note,
  ], [copy, download, h('span', { class: 'spacer' }), close], 'export-dialog');
  fill();
  for (const r of radios) r.addEventListener('change', fill);
  copy.addEventListener('click', async () => {
    area.select();
    try {
      await navigator.clipboard.writeText(area.value);
      note.textContent = 'Copied to the clipboard.';
    } catch {
      note.textContent = document.execCommand('copy') ? 'Copied to the clipboard.' : 'Select the text and copy it.';
    }
  });
  download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([area.value], { type: 'application/json' }));
    const link = h('a', { href: url, download: `flows-${scope()}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  return dialog;
}

/**
 * Someone else deployed meanwhile: reload (dropping local changes) or overwrite theirs.
 * @param {HTMLElement} host @param {number|null} theirs @param {number|null} ours
 * @returns {Promise<'reload'|'overwrite'|null>}
 */
export function openConflictDialog(host, theirs, ours) {
  const reload = h('button', { type: 'button' }, 'Reload theirs');
  const overwrite = h('button', { type: 'button', class: 'danger' }, 'Overwrite');
  const cancel = h('button', { type: 'submit' }, 'Cancel');
  const { dialog } = modal(host, 'Deploy conflict', [
    h('p', {}, `The flows were deployed by someone else (revision ${theirs}) since you loaded revision ${ours ?? 'none'}.`),
    h('p', {}, 'Reload their flows and lose your changes, or overwrite theirs with yours.'),
  ], [h('span', { class: 'spacer' }), cancel, reload, overwrite], 'conflict-dialog');
  return new Promise((resolve) => {
    let result = /** @type {any} */ (null);
    reload.addEventListener('click', () => {
      result = 'reload';
      dialog.close();
    });
    overwrite.addEventListener('click', () => {
      result = 'overwrite';
      dialog.close();
    });
    dialog.addEventListener('close', () => resolve(result));
  });
}

/** @param {HTMLElement} host @param {[string, string][]} shortcuts */
export function openShortcutsDialog(host, shortcuts) {
  modal(host, 'Keyboard shortcuts', [
    h('table', { class: 'shortcuts' }, h('tbody', {}, ...shortcuts.map(([key, what]) => h('tr', {}, h('th', {}, h('kbd', {}, key)), h('td', {}, what))))),
  ], [h('span', { class: 'spacer' }), h('button', { type: 'submit', class: 'primary' }, 'Close')], 'shortcuts-dialog');
}
