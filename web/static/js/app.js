// The editor's controller: loads node types, flows and status; keeps the one EditorState; turns
// the components' verb events into state.js edits and API calls; hands each component its data
// (noun events) after every change. Nothing else in the page changes the document.

import * as api from './api.js';
import { mountCanvas } from './canvas.js';
import * as DebugLog from './debug-log.js';
import { mountDebugSidebar } from './debug-sidebar.js';
import { openConflictDialog, openExportDialog, openFlowDialog, openImportDialog, openShortcutsDialog } from './dialogs.js';
import { give, h, isTyping } from './dom.js';
import { problemsByNode } from './form-logic.js';
import { openNodeDialog } from './node-dialog.js';
import { mountPalette } from './palette.js';
import { mountProblems } from './problems.js';
import { openQuickAdd } from './quick-add.js';
import * as S from './state.js';
import { mountTabs } from './tabs.js';
import { mountToolbar } from './toolbar.js';
import { nodeLabel } from './view.js';

/** @typedef {import('./state.js').EditorState} EditorState */

const SHORTCUTS = /** @type {[string, string][]} */ ([
  ['Ctrl+Z', 'undo'], ['Ctrl+Shift+Z / Ctrl+Y', 'redo'], ['Ctrl+C / Ctrl+X / Ctrl+V', 'copy / cut / paste'],
  ['Ctrl+A', 'select all nodes of the flow'], ['Delete', 'delete the selected nodes or wire'],
  ['Enter', 'edit the selected node'], ['Escape', 'clear the selection'], ['Arrow keys', 'move the selection (Shift: further)'],
  ['Ctrl+D', 'deploy'], ['Ctrl+I / Ctrl+E', 'import / export'], ['Alt+L', 'auto-layout the flow'],
  ['Alt+F', 'zoom to fit'], ['Ctrl+= / Ctrl+- / Ctrl+0', 'zoom in / out / 100%'],
  ['type a letter', 'quick-add a node (Ctrl+click on the canvas too)'], ['Alt+drag, Space+drag, middle drag, wheel', 'pan'],
  ['Ctrl+wheel', 'zoom'], ['Shift+click, drag on empty canvas', 'add to the selection, rubber band'], ['?', 'this list'],
]);

/** @type {{
 *   state: EditorState, selectedWire: string|null, problems: import('./api.js').Problem[],
 *   problemMap: Map<string, any[]>, status: Record<string, any>, connected: boolean, deploying: boolean,
 *   debug: DebugLog.DebugLog, debugFilter: DebugLog.DebugFilter, sidebar: 'debug'|'problems',
 *   me: {username: string, role: string, via: string}|null,
 * }} */
const app = {
  state: S.createState(S.emptyDoc()),
  selectedWire: null,
  problems: [],
  problemMap: new Map(),
  status: {},
  connected: false,
  deploying: false,
  debug: DebugLog.emptyLog(),
  debugFilter: { scope: 'all' },
  sidebar: 'debug',
  me: null,
};

const $ = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (document.querySelector(selector));
const overlays = $('#overlays');
const canvasRoot = $('#canvas');
mountToolbar($('#toolbar'));
mountPalette($('#palette'));
mountTabs($('#tabs'));
const canvas = mountCanvas(canvasRoot);
mountDebugSidebar($('#debug'));
mountProblems($('#problems'));

// -- rendering: hand every component its data ---------------------------------------------------

let changedMemo = { doc: /** @type {any} */ (null), deployed: /** @type {any} */ (null), changed: new Set(), dirty: false };
function changes() {
  const { doc, deployed } = app.state;
  if (changedMemo.doc !== doc || changedMemo.deployed !== deployed) {
    const changed = S.changedNodes(doc, deployed);
    changedMemo = { doc, deployed, changed, dirty: changed.size > 0 || S.isDirty(app.state) };
  }
  return changedMemo;
}

let lastSelection = { array: /** @type {string[]|null} */ (null), set: new Set() };
function selectionSet() {
  if (lastSelection.array !== app.state.selection) lastSelection = { array: app.state.selection, set: new Set(app.state.selection) };
  return lastSelection.set;
}

let visibleMemo = { doc: /** @type {any} */ (null), flow: /** @type {any} */ (null), nodes: /** @type {S.FlowNode[]} */ ([]) };
function visible() {
  const { doc, activeFlow } = app.state;
  if (visibleMemo.doc !== doc || visibleMemo.flow !== activeFlow) visibleMemo = { doc, flow: activeFlow, nodes: S.visibleNodes(app.state) };
  return visibleMemo.nodes;
}

function render() {
  const { state } = app;
  const { changed, dirty } = changes();
  const flow = state.doc.flows.find((f) => f.id === state.activeFlow);
  give($('#toolbar'), 'toolbar', {
    canUndo: S.canUndo(state), canRedo: S.canRedo(state), dirty, changed: changed.size, deploying: app.deploying, connected: app.connected, me: app.me,
  });
  give($('#tabs'), 'flow-tabs', { flows: state.doc.flows, active: state.activeFlow });
  give(canvasRoot, 'flow-view', {
    flow: state.activeFlow, flowDisabled: !!flow?.disabled, nodes: visible(), types: state.types, selection: selectionSet(),
    changed, problems: app.problemMap, status: app.status, selectedWire: app.selectedWire,
  });
  renderSidebar();
  document.title = `${dirty ? '• ' : ''}flowengine`;
}

let debugNodesMemo = { doc: /** @type {any} */ (null), nodes: /** @type {any[]} */ ([]) };
function renderSidebar() {
  const { doc } = app.state;
  if (debugNodesMemo.doc !== doc) {
    debugNodesMemo = {
      doc,
      nodes: doc.nodes.filter((n) => n.type === 'debug').map((n) => ({ id: n.id, label: nodeLabel(n, app.state.types[n.type]), flow: n.flow })),
    };
  }
  give($('#debug'), 'debug-view', { log: app.debug, filter: app.debugFilter, nodes: debugNodesMemo.nodes, activeFlow: app.state.activeFlow });
  give($('#problems'), 'problems-view', { problems: app.problems });
  for (const tab of document.querySelectorAll('.sidebar-tab')) {
    const active = tab.getAttribute('data-panel') === app.sidebar;
    tab.setAttribute('aria-selected', active ? 'true' : 'false');
    tab.classList.toggle('active', active);
  }
  $('#debug').hidden = app.sidebar !== 'debug';
  $('#problems').hidden = app.sidebar !== 'problems';
  const count = $('.sidebar-tab[data-panel="problems"] .badge');
  count.textContent = app.problems.length ? String(app.problems.length) : '';
}

/** @param {EditorState} next */
function setState(next) {
  if (next === app.state) return;
  app.state = next;
  render();
}

/** A short message in the corner. @param {string} message @param {'info'|'error'} [kind] */
function toast(message, kind = 'info') {
  const el = h('div', { class: `toast toast-${kind}` }, message);
  $('#toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

// -- verbs from the components ------------------------------------------------------------------

/** @param {string} verb @param {(detail: any) => void} handler */
function on(verb, handler) {
  document.addEventListener(verb, (event) => handler(/** @type {CustomEvent} */ (event).detail || {}));
}

on('add-node', ({ type, clientX, clientY }) => {
  const world = clientX !== undefined ? canvas.toWorld(clientX, clientY) : canvas.pointerWorld();
  setState(S.addNode(app.state, type, world.x - 40, world.y - 15));
  app.selectedWire = null;
  render();
});

on('select-nodes', ({ ids, add, toggle }) => {
  if (ids.length || !(add || toggle)) app.selectedWire = null;
  setState(S.select(app.state, ids, { add, toggle }));
  render();
});

on('select-wire', ({ key }) => {
  app.selectedWire = key;
  if (key) app.state = S.select(app.state, []);
  render();
});

on('drag-nodes', ({ phase, ids, dx, dy }) => {
  if (phase === 'start') app.state = S.beginGesture(app.state);
  else if (phase === 'move') setState(S.moveNodes(app.state, ids, dx, dy));
  else setState(S.endGesture(S.moveNodes(app.state, ids, 0, 0, { snapTo: true })));
});

on('add-wire', ({ source, port, target }) => setState(S.addWire(app.state, source, port, target)));

on('delete-nodes', ({ ids }) => setState(S.deleteNodes(app.state, ids)));

on('update-node', ({ id, name, disabled, config }) => {
  const node = S.findNode(app.state.doc, id);
  if (!node) return;
  // The form shows the schema's defaults; saving them unchanged is not an edit.
  const schema = app.state.types[node.type]?.schema;
  const same = (/** @type {any} */ a, /** @type {any} */ b) => JSON.stringify(sortedKeys(a)) === JSON.stringify(sortedKeys(b));
  const unchangedConfig = same(S.applyDefaults(schema, node.config), config);
  setState(S.updateNode(app.state, id, { name, disabled, config: unchangedConfig ? node.config : config }));
});

/** @param {any} value @returns {any} */
function sortedKeys(value) {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys(value[k])]));
  return value;
}

on('edit-node', ({ id }) => editNode(id));

on('inject-node', async ({ id }) => {
  if (changes().changed.has(id)) toast('This node has changes that are not deployed yet: the deployed version is injected.');
  const result = await api.inject(id);
  if (!result.ok) toast(`Inject failed: ${result.error}`, 'error');
});

on('quick-add', ({ clientX, clientY, initial }) => quickAdd(clientX, clientY, initial));

on('reveal-node', ({ id, edit }) => reveal(id, edit));

on('select-flow', ({ id }) => {
  app.selectedWire = null;
  setState(S.setActiveFlow(app.state, id));
});
on('add-flow', () => setState(S.addFlow(app.state)));
on('edit-flow', async ({ id }) => {
  const flow = app.state.doc.flows.find((f) => f.id === id);
  if (!flow) return;
  const result = await openFlowDialog(overlays, flow);
  if (result === 'delete') setState(S.deleteFlow(app.state, id));
  else if (result) setState(S.updateFlow(app.state, id, result));
});

on('deploy', () => deploy(false));
on('undo', () => setState(S.undo(app.state)));
on('redo', () => setState(S.redo(app.state)));
on('auto-layout', () => {
  setState(S.autoLayout(app.state));
  canvas.fit();
});
on('zoom-fit', () => canvas.fit());
on('zoom-in', () => canvas.zoom(1.25));
on('zoom-out', () => canvas.zoom(0.8));
on('zoom-reset', () => canvas.resetZoom());
on('import', () => openImportDialog(overlays, (text, target) => {
  try {
    setState(S.importNodes(app.state, text, { target }));
  } catch (error) {
    return /** @type {Error} */ (error).message;
  }
  toast(`Imported ${app.state.selection.length} node${app.state.selection.length === 1 ? '' : 's'}.`);
  return null;
}));
on('export', () => openExportDialog(overlays, (scope) => JSON.stringify(S.exportDoc(app.state, scope), null, 2), app.state.selection.length > 0));
on('show-shortcuts', () => openShortcutsDialog(overlays, SHORTCUTS));

on('debug-filter', ({ filter }) => {
  app.debugFilter = filter;
  renderSidebar();
});
on('debug-pause', ({ paused }) => {
  app.debug = DebugLog.setPaused(app.debug, paused);
  renderSidebar();
});
on('debug-clear', () => {
  app.debug = DebugLog.clear(app.debug);
  renderSidebar();
});

for (const tab of document.querySelectorAll('.sidebar-tab')) {
  tab.addEventListener('click', () => {
    app.sidebar = /** @type {any} */ (tab.getAttribute('data-panel'));
    renderSidebar();
  });
}
for (const button of document.querySelectorAll('.zoom-controls [data-verb]')) {
  button.addEventListener('click', () => document.dispatchEvent(new CustomEvent(/** @type {string} */ (button.getAttribute('data-verb')))));
}

// -- actions ------------------------------------------------------------------------------------

/** @param {string} id */
async function editNode(id) {
  const node = S.findNode(app.state.doc, id);
  if (!node) return;
  const type = app.state.types[node.type];
  await openNodeDialog(overlays, {
    node: { ...node, config: S.applyDefaults(type?.schema, node.config) }, type, problems: app.problemMap.get(id) || [], context: formContext(),
  });
}

/** What the schema form needs to offer config nodes. @returns {import('./schema-form.js').FormContext} */
function formContext() {
  return {
    configNodes: (type) => app.state.doc.nodes.filter((n) => n.type === type)
      .map((n) => ({ id: n.id, label: n.name || `${app.state.types[type]?.label || type} ${n.id}` })),
    editConfig: async (type, id) => {
      const existing = id ? S.findNode(app.state.doc, id) : undefined;
      const nodeType = app.state.types[type];
      if (!nodeType) {
        toast(`Unknown node type ${type}`, 'error');
        return id;
      }
      const node = existing || {
        id: S.newId(S.allIds(app.state.doc)), type, flow: null, name: '', disabled: false, x: 0, y: 0, wires: [],
        config: S.applyDefaults(nodeType.schema, {}),
      };
      const result = await openNodeDialog(overlays, {
        node, type: nodeType, problems: app.problemMap.get(node.id) || [], context: formContext(), isNew: !existing,
      });
      if (!result) return S.findNode(app.state.doc, node.id) ? node.id : null;
      if (!existing) {
        let next = S.addNode(app.state, type, 0, 0, { id: node.id, flow: null, config: result.config });
        next = S.updateNode(next, node.id, { name: result.name, disabled: result.disabled });
        setState(next);
      }
      return node.id;
    },
  };
}

/** @param {number} clientX @param {number} clientY @param {string} [initial] */
async function quickAdd(clientX, clientY, initial) {
  const selectedBefore = app.state.selection.length === 1 ? S.findNode(app.state.doc, app.state.selection[0]) : undefined;
  const types = Object.values(app.state.types);
  const type = await openQuickAdd(overlays, { x: clientX, y: clientY, types, initial });
  canvas.svg.focus({ preventScroll: true });
  if (!type) return;
  const world = canvas.toWorld(clientX, clientY);
  let x = world.x;
  let y = world.y;
  // Faster than Node-RED: with one node selected the new one goes to its right, wired to it.
  const fromSelected = selectedBefore && selectedBefore.wires.length > 0 && (app.state.types[type]?.inputs ?? 1) > 0;
  if (fromSelected && selectedBefore) {
    x = selectedBefore.x + 200;
    y = selectedBefore.y;
  }
  // addNode and addWire make one undo step.
  let next = S.addNode(S.beginGesture(app.state), type, x, y);
  if (fromSelected && selectedBefore) next = S.addWire(next, selectedBefore.id, 0, next.selection[0]);
  next = S.endGesture(next);
  setState(next);
}

/** @param {string} id @param {boolean} [edit] */
function reveal(id, edit = false) {
  const node = S.findNode(app.state.doc, id);
  if (!node) {
    toast(`Node ${id} is not in the flows any more.`, 'error');
    return;
  }
  if (node.flow && node.flow !== app.state.activeFlow) app.state = S.setActiveFlow(app.state, node.flow);
  if (!S.isConfigType(app.state, node.type)) app.state = S.select(app.state, [id]);
  render();
  canvas.reveal(id);
  if (edit || S.isConfigType(app.state, node.type)) editNode(id);
}

/** @param {boolean} force */
async function deploy(force) {
  if (app.deploying) return;
  app.deploying = true;
  render();
  const sent = app.state.doc;
  let result;
  try {
    result = await api.deploy(sent, app.state.revision, force);
  } catch (error) {
    result = { ok: false, status: 0, error: /** @type {Error} */ (error).message };
  } finally {
    app.deploying = false;
  }
  if (result.ok) {
    app.problems = [];
    app.problemMap = new Map();
    app.state = { ...app.state, deployed: sent, revision: result.revision };
    const c = result.changes || { started: [], stopped: [], rewired: [] };
    toast(`Deployed revision ${result.revision}: ${c.started.length} started, ${c.stopped.length} stopped, ${c.rewired.length} rewired.`);
    render();
    refreshStatus();
    return;
  }
  if (result.status === 400 && 'problems' in result && result.problems.length) {
    app.problems = result.problems;
    app.problemMap = problemsByNode(result.problems);
    app.sidebar = 'problems';
    toast(`Not deployed: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}.`, 'error');
    render();
    return;
  }
  if (result.status === 409) {
    render();
    const theirs = 'revision' in result ? result.revision : null;
    const choice = await openConflictDialog(overlays, theirs, app.state.revision);
    if (choice === 'overwrite') await deploy(true);
    else if (choice === 'reload') await reload();
    return;
  }
  toast(`Deploy failed: ${result.error}`, 'error');
  render();
}

async function reload() {
  const flows = await api.loadFlows();
  app.problems = [];
  app.problemMap = new Map();
  app.selectedWire = null;
  setState(S.loadDoc(app.state, flows.document, flows.revision));
  toast(`Reloaded revision ${flows.revision}.`);
}

// -- live status and debug messages --------------------------------------------------------------

/** @type {any[]} */
let pendingDebug = [];
let debugFrame = 0;
let statusFrame = 0;
/** @type {Map<string, any>} */
const pendingStatus = new Map();

/** @param {any} event */
function onEvent(event) {
  if (event.type === 'debug') {
    pendingDebug.push(event);
    if (!debugFrame) debugFrame = requestAnimationFrame(flushDebug);
  } else if (event.type === 'status') {
    pendingStatus.set(event.node, { ...(pendingStatus.get(event.node) || {}), status: event.status });
    scheduleStatus();
  } else if (event.type === 'error') {
    pendingStatus.set(event.node, { ...(pendingStatus.get(event.node) || {}), last_error: event.error });
    const node = S.findNode(app.state.doc, event.node);
    pendingDebug.push({ type: 'debug', node: event.node, name: node?.name || event.node, flow: event.flow, time: event.time, property: 'error', value: event.error });
    if (!debugFrame) debugFrame = requestAnimationFrame(flushDebug);
    scheduleStatus();
  }
}

function flushDebug() {
  debugFrame = 0;
  const batch = pendingDebug;
  pendingDebug = [];
  app.debug = DebugLog.append(app.debug, batch);
  renderSidebar();
}

/** Status changes wait for the next frame, so a burst of them costs one copy and one render. */
function scheduleStatus() {
  if (!statusFrame) {
    statusFrame = requestAnimationFrame(() => {
      statusFrame = 0;
      if (pendingStatus.size) {
        const next = { ...app.status };
        for (const [id, change] of pendingStatus) next[id] = { ...(next[id] || {}), ...change };
        pendingStatus.clear();
        app.status = next;
      }
      render();
    });
  }
}

async function refreshStatus() {
  let snapshot;
  try {
    snapshot = await api.loadStatus();
  } catch {
    return; // offline: the connection indicator says so
  }
  let changed = false;
  const next = { ...app.status };
  for (const [id, entry] of Object.entries(snapshot)) {
    if (JSON.stringify(next[id]) !== JSON.stringify(entry)) {
      next[id] = entry;
      changed = true;
    }
  }
  if (changed) {
    app.status = next;
    scheduleStatus();
  }
}

// -- keyboard -------------------------------------------------------------------------------------

window.addEventListener('keydown', (event) => {
  if (isTyping(event) || document.querySelector('dialog[open]') || document.querySelector('.quick-add')) return;
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  /** @type {(() => void)|null} */
  let action = null;
  const move = (/** @type {number} */ dx, /** @type {number} */ dy) => () => setState(S.moveNodes(app.state, app.state.selection, dx, dy));
  const step = event.shiftKey ? S.GRID * 5 : S.GRID;
  if (ctrl && key === 'z' && !event.shiftKey) action = () => setState(S.undo(app.state));
  else if (ctrl && (key === 'y' || (key === 'z' && event.shiftKey))) action = () => setState(S.redo(app.state));
  else if (ctrl && key === 'c') action = () => setState(S.copySelection(app.state));
  else if (ctrl && key === 'x') action = () => setState(S.cutSelection(app.state));
  else if (ctrl && key === 'v') action = () => setState(S.paste(app.state));
  else if (ctrl && key === 'a') action = () => setState(S.selectAll(app.state));
  else if (ctrl && key === 'd') action = () => deploy(false);
  else if (ctrl && key === 'i') action = () => document.dispatchEvent(new CustomEvent('import'));
  else if (ctrl && key === 'e') action = () => document.dispatchEvent(new CustomEvent('export'));
  else if (ctrl && (key === '=' || key === '+')) action = () => canvas.zoom(1.25);
  else if (ctrl && key === '-') action = () => canvas.zoom(0.8);
  else if (ctrl && key === '0') action = () => canvas.resetZoom();
  else if (event.altKey && event.code === 'KeyL') action = () => document.dispatchEvent(new CustomEvent('auto-layout'));
  else if (event.altKey && event.code === 'KeyF') action = () => canvas.fit();
  else if (ctrl || event.altKey) return;
  else if (key === 'delete' || key === 'backspace') {
    action = () => {
      if (app.selectedWire) {
        const [source, port, target] = app.selectedWire.split(':');
        app.selectedWire = null;
        setState(S.deleteWires(app.state, [{ source, port: Number(port), target }]));
        render();
      } else {
        setState(S.deleteNodes(app.state, app.state.selection));
      }
    };
  } else if (key === 'escape') {
    action = () => {
      app.selectedWire = null;
      setState(S.select(app.state, []));
      render();
    };
  } else if (key === 'enter' && app.state.selection.length === 1) action = () => editNode(app.state.selection[0]);
  else if (key === 'arrowleft') action = move(-step, 0);
  else if (key === 'arrowright') action = move(step, 0);
  else if (key === 'arrowup') action = move(0, -step);
  else if (key === 'arrowdown') action = move(0, step);
  else if (event.key === '?') action = () => openShortcutsDialog(overlays, SHORTCUTS);
  else if (/^[a-z]$/i.test(event.key) && (document.activeElement === canvas.svg || document.activeElement === document.body)) {
    action = () => {
      const p = canvas.lastPointer();
      const rect = canvas.svg.getBoundingClientRect();
      const inside = p.x >= rect.left && p.x <= rect.right && p.y >= rect.top && p.y <= rect.bottom;
      quickAdd(inside ? p.x : rect.left + rect.width / 3, inside ? p.y : rect.top + rect.height / 3, event.key);
    };
  }
  if (!action) return;
  event.preventDefault();
  action();
});

// -- start --------------------------------------------------------------------------------------

async function start() {
  const [types, flows, me] = await Promise.all([api.loadNodeTypes(), api.loadFlows(), api.loadMe()]);
  app.me = me;
  app.state = S.createState(flows.document, { types, revision: flows.revision });
  give($('#palette'), 'palette', { types });
  render();
  if (visible().length) canvas.fit();
  refreshStatus();
  api.listen(onEvent, (connected) => {
    app.connected = connected;
    if (connected) refreshStatus();
    render();
  });
  setInterval(() => {
    if (!document.hidden) refreshStatus();
  }, 3000);
  document.body.dataset.ready = 'true';
  performance.mark('editor-ready');
  requestAnimationFrame(() => setTimeout(() => performance.mark('editor-painted'), 0));
}

start().catch((error) => {
  console.error(error);
  toast(`Could not load the editor: ${error.message}`, 'error');
});

// For tests and the benchmark: read-only access to the editor's state.
/** @type {any} */ (window).flowengine = { get state() { return app.state; }, get debug() { return app.debug; }, canvas };
