// The header toolbar: deploy (marked when there are changes), undo/redo, layout, zoom, import,
// export, shortcuts, and the live connection indicator.
//
// Data down: 'toolbar' {canUndo, canRedo, dirty, changed, deploying, connected}.
// Actions up: deploy, undo, redo, auto-layout, zoom-fit, zoom-in, zoom-out, zoom-reset, import,
// export, show-shortcuts.

import { ask, attr, h, text } from './dom.js';

const BUTTONS = /** @type {[string, string, string, string][]} */ ([
  // verb, label, accessible name, shortcut hint
  ['undo', '↶', 'Undo', 'Ctrl+Z'],
  ['redo', '↷', 'Redo', 'Ctrl+Shift+Z'],
  ['auto-layout', '⇶ Layout', 'Auto-layout this flow', 'Alt+L'],
  ['import', 'Import', 'Import nodes', 'Ctrl+I'],
  ['export', 'Export', 'Export nodes', 'Ctrl+E'],
  ['show-shortcuts', '?', 'Keyboard shortcuts', '?'],
]);

/** @param {HTMLElement} root */
export function mountToolbar(root) {
  /** @type {Record<string, HTMLElement>} */
  const buttons = {};
  for (const [verb, label, name, key] of BUTTONS) {
    buttons[verb] = h('button', { type: 'button', class: `tool tool-${verb}`, 'data-verb': verb, 'aria-label': name, title: `${name} (${key})` }, label);
  }
  const connection = h('span', { class: 'connection', role: 'status', 'aria-live': 'polite' });
  const user = h('span', { class: 'user' }, h('span', { class: 'user-name' }), h('a', { href: '/logout', class: 'logout' }, 'Log out'));
  user.hidden = true;
  const deploy = h('button', { type: 'button', class: 'deploy primary', 'data-verb': 'deploy', 'aria-label': 'Deploy', title: 'Deploy (Ctrl+D)' },
    h('span', { class: 'deploy-label' }, 'Deploy'), h('span', { class: 'deploy-count' }));
  root.append(h('div', { class: 'tool-group' }, ...Object.values(buttons)), h('span', { class: 'spacer' }), user, connection, deploy);

  /** @param {{canUndo: boolean, canRedo: boolean, dirty: boolean, changed: number, deploying: boolean, connected: boolean,
   *            me: {username: string, role: string, via: string}|null}} p */
  function update(p) {
    const signedIn = !!p.me && p.me.via !== 'open';
    user.hidden = !signedIn;
    if (signedIn && p.me) text(/** @type {Element} */ (user.firstChild), `${p.me.username} (${p.me.role})`);
    /** @type {HTMLElement} */ (user.lastChild).hidden = p.me?.via !== 'session'; // tokens and Basic cannot log out
    const readOnly = p.me?.role === 'read-only';
    buttons.undo.toggleAttribute('disabled', !p.canUndo);
    buttons.redo.toggleAttribute('disabled', !p.canRedo);
    deploy.classList.toggle('dirty', p.dirty);
    deploy.toggleAttribute('disabled', p.deploying || readOnly);
    attr(deploy, 'title', readOnly ? 'Read-only access: deploying is not allowed' : 'Deploy (Ctrl+D)');
    text(/** @type {Element} */ (deploy.lastChild), p.changed ? String(p.changed) : '');
    attr(deploy, 'aria-label', p.dirty ? `Deploy ${p.changed} changed node${p.changed === 1 ? '' : 's'}` : 'Deploy (no changes)');
    text(connection, p.connected ? '● live' : '○ offline');
    connection.classList.toggle('offline', !p.connected);
  }

  root.addEventListener('toolbar', (event) => update(/** @type {CustomEvent} */ (event).detail));
  root.addEventListener('click', (event) => {
    const button = /** @type {Element} */ (event.target).closest('[data-verb]');
    if (button && !button.hasAttribute('disabled')) ask(root, /** @type {string} */ (button.getAttribute('data-verb')));
  });
}
