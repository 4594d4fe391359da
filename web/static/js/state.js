// The editor's pure state: functions from (state, input) to a new state. No DOM, no network.
// Unit-tested with `node --test web/tests/` (see web/tests/state.test.mjs).
//
// The flow document (DESIGN.md) stays plain data. An edit never mutates: it returns a new state
// whose unchanged nodes are the very same objects, so components can skip them by identity and
// undo keeps whole documents cheaply.

import { nodeLabel, nodeSize } from './view.js';

/**
 * @typedef {{id: string, label: string, disabled: boolean, info?: string}} Flow
 * @typedef {{id: string, type: string, flow: string|null, name: string, disabled: boolean,
 *            x: number, y: number, wires: string[][], config: Record<string, any>}} FlowNode
 * @typedef {{version: number, flows: Flow[], nodes: FlowNode[]}} Doc
 * @typedef {{type: string, category: string, label: string, color: string, inputs: number,
 *            outputs: number, schema: any, description: string, injectable: boolean}} NodeType
 * @typedef {{nodes: FlowNode[]}} Clip
 * @typedef {{doc: Doc, past: Doc[], future: Doc[], selection: string[], activeFlow: string|null,
 *            clipboard: Clip|null, gesture: Doc|null, deployed: Doc|null, revision: number|null,
 *            types: Record<string, NodeType>}} EditorState
 */

export const MASK = '*****';
export const GRID = 20;
export const HISTORY_LIMIT = 200;

/** @returns {Doc} */
export function emptyDoc() {
  return { version: 1, flows: [], nodes: [] };
}

/**
 * A fresh editor state for a document from the server.
 * @param {Doc} doc
 * @param {{types?: NodeType[]|Record<string, NodeType>, revision?: number|null}} [options]
 * @returns {EditorState}
 */
export function createState(doc, options = {}) {
  const normal = normaliseDoc(doc);
  let types = options.types || {};
  if (Array.isArray(types)) types = Object.fromEntries(types.map((t) => [t.type, t]));
  return {
    doc: normal,
    past: [],
    future: [],
    selection: [],
    activeFlow: normal.flows.length ? normal.flows[0].id : null,
    clipboard: null,
    gesture: null,
    deployed: normal,
    revision: options.revision ?? null,
    types,
  };
}

/**
 * Fill optional fields so the rest of the editor can rely on them.
 * @param {any} doc
 * @returns {Doc}
 */
export function normaliseDoc(doc) {
  const source = doc || {};
  return {
    version: source.version ?? 1,
    flows: (source.flows || []).map((f) => ({ ...f, id: String(f.id), label: f.label ?? String(f.id), disabled: !!f.disabled })),
    nodes: (source.nodes || []).map(normaliseNode),
  };
}

/** @param {any} n @returns {FlowNode} */
function normaliseNode(n) {
  return {
    ...n,
    id: String(n.id),
    type: n.type,
    flow: n.flow ?? null,
    name: n.name ?? '',
    disabled: !!n.disabled,
    x: Number(n.x) || 0,
    y: Number(n.y) || 0,
    wires: (n.wires || []).map((port) => [...port]),
    config: n.config || {},
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** @param {number} v */
export function snap(v) {
  return Math.round(v / GRID) * GRID;
}

/** @param {Set<string>|string[]} taken @param {string} prefix */
export function newId(taken, prefix = 'n') {
  const used = taken instanceof Set ? taken : new Set(taken);
  for (;;) {
    const id = prefix + Math.random().toString(16).slice(2, 10);
    if (!used.has(id)) return id;
  }
}

/** @param {Doc} doc */
export function allIds(doc) {
  return new Set([...doc.nodes.map((n) => n.id), ...doc.flows.map((f) => f.id)]);
}

/** @param {Doc} doc @param {string} id */
export function findNode(doc, id) {
  return doc.nodes.find((n) => n.id === id);
}

/** @param {EditorState} state @param {string} type */
export function isConfigType(state, type) {
  return state.types[type]?.category === 'config';
}

/**
 * The nodes drawn on the canvas of a flow (config nodes are not drawn).
 * @param {EditorState} state @param {string|null} [flow]
 */
export function visibleNodes(state, flow = state.activeFlow) {
  return state.doc.nodes.filter((n) => n.flow === flow && !isConfigType(state, n.type));
}

/**
 * A copy of a value with each object-schema default filled in (like flowengine.schema.apply_defaults).
 * @param {any} schema @param {any} value
 */
export function applyDefaults(schema, value) {
  if (!schema || typeof schema !== 'object') return value;
  if (Array.isArray(value) && schema.items && typeof schema.items === 'object') {
    return value.map((item) => applyDefaults(schema.items, item));
  }
  if (schema.type !== 'object' || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const result = { ...value };
  for (const [name, sub] of Object.entries(schema.properties || {})) {
    if (!(name in result) && sub && 'default' in sub) result[name] = structuredClone(sub.default);
    if (name in result) result[name] = applyDefaults(sub, result[name]);
  }
  return result;
}

/**
 * How many output ports a node has: switch has one per rule plus "otherwise"; others as their type.
 * @param {NodeType|undefined} type @param {Record<string, any>} config
 */
export function outputCount(type, config) {
  if (!type) return 0;
  if (type.type === 'switch') return (Array.isArray(config?.rules) ? config.rules.length : 0) + 1;
  return type.outputs ?? 0;
}

/** @param {string[][]} wires @param {number} count */
function resizeWires(wires, count) {
  const result = wires.slice(0, count).map((port) => [...port]);
  while (result.length < count) result.push([]);
  return result;
}

/**
 * Paths (arrays of property names) of every writeOnly property in nested object schemas.
 * @param {any} schema @param {string[]} [prefix] @returns {string[][]}
 */
export function secretPaths(schema, prefix = []) {
  const found = [];
  for (const [name, sub] of Object.entries(schema?.properties || {})) {
    if (sub?.writeOnly) found.push([...prefix, name]);
    else if (sub?.type === 'object') found.push(...secretPaths(sub, [...prefix, name]));
  }
  return found;
}

/** Top-level config properties that name another node: property -> node type. @param {any} schema */
export function nodeRefs(schema) {
  /** @type {Record<string, string>} */
  const refs = {};
  for (const [name, sub] of Object.entries(schema?.properties || {})) {
    if (sub && sub['x-node-type']) refs[name] = sub['x-node-type'];
  }
  return refs;
}

/**
 * A config without its secrets (for exports and the clipboard); a masked value is a secret too.
 * @param {any} schema @param {Record<string, any>} config
 */
export function stripSecrets(schema, config) {
  const copy = structuredClone(config || {});
  for (const path of secretPaths(schema)) {
    let parent = copy;
    for (const name of path.slice(0, -1)) parent = parent && typeof parent === 'object' ? parent[name] : undefined;
    if (parent && typeof parent === 'object') delete parent[path[path.length - 1]];
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// History: every edit goes through `commit`.

/**
 * Replace the document, recording the old one for undo (unless a gesture is in progress).
 * @param {EditorState} state @param {Doc} doc @param {Partial<EditorState>} [extra]
 * @returns {EditorState}
 */
function commit(state, doc, extra = {}) {
  if (doc === state.doc) return { ...state, ...extra };
  if (state.gesture) return { ...state, ...extra, doc };
  const past = [...state.past, state.doc];
  if (past.length > HISTORY_LIMIT) past.shift();
  return { ...state, ...extra, doc, past, future: [] };
}

/** Start a gesture (a drag): edits until `endGesture` make one undo step. @param {EditorState} state */
export function beginGesture(state) {
  return state.gesture ? state : { ...state, gesture: state.doc };
}

/** @param {EditorState} state */
export function endGesture(state) {
  if (!state.gesture) return state;
  const before = state.gesture;
  const ended = { ...state, gesture: null };
  if (before === state.doc) return ended;
  const past = [...state.past, before];
  if (past.length > HISTORY_LIMIT) past.shift();
  return { ...ended, past, future: [] };
}

/** @param {EditorState} state */
export function undo(state) {
  if (state.gesture) state = endGesture(state);
  if (!state.past.length) return state;
  const doc = state.past[state.past.length - 1];
  return fixUp({ ...state, doc, past: state.past.slice(0, -1), future: [state.doc, ...state.future] });
}

/** @param {EditorState} state */
export function redo(state) {
  if (!state.future.length) return state;
  const [doc, ...future] = state.future;
  return fixUp({ ...state, doc, past: [...state.past, state.doc], future });
}

/** Keep the selection and active flow pointing at things that exist. @param {EditorState} state */
function fixUp(state) {
  const ids = new Set(state.doc.nodes.map((n) => n.id));
  const selection = state.selection.filter((id) => ids.has(id));
  const flows = state.doc.flows.map((f) => f.id);
  const activeFlow = flows.includes(/** @type {string} */ (state.activeFlow)) ? state.activeFlow : flows[0] ?? null;
  return { ...state, selection, activeFlow };
}

/** @param {EditorState} state */
export function canUndo(state) {
  return state.past.length > 0;
}

/** @param {EditorState} state */
export function canRedo(state) {
  return state.future.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Nodes

/**
 * Add a node of `type` at (x, y) on the active flow, with the schema's defaults; selects it.
 * @param {EditorState} state @param {string} type @param {number} x @param {number} y
 * @param {{id?: string, flow?: string|null, config?: Record<string, any>}} [options]
 */
export function addNode(state, type, x, y, options = {}) {
  const nodeType = state.types[type];
  if (!nodeType) throw new Error(`unknown node type ${type}`);
  let s = state;
  if (!s.activeFlow && nodeType.category !== 'config') s = addFlow(s, 'Flow 1');
  const id = options.id || newId(allIds(s.doc));
  const config = applyDefaults(nodeType.schema, options.config || {});
  const isConfig = nodeType.category === 'config';
  /** @type {FlowNode} */
  const node = {
    id,
    type,
    flow: options.flow !== undefined ? options.flow : isConfig ? null : s.activeFlow,
    name: '',
    disabled: false,
    x: snap(x),
    y: snap(y),
    wires: resizeWires([], outputCount(nodeType, config)),
    config,
  };
  const doc = { ...s.doc, nodes: [...s.doc.nodes, node] };
  return commit(s, doc, isConfig ? {} : { selection: [id] });
}

/**
 * Move nodes by (dx, dy). With `snapTo` the result is snapped to the grid.
 * @param {EditorState} state @param {string[]} ids @param {number} dx @param {number} dy
 * @param {{snapTo?: boolean}} [options]
 */
export function moveNodes(state, ids, dx, dy, options = {}) {
  const moving = new Set(ids);
  let changed = false;
  const nodes = state.doc.nodes.map((n) => {
    if (!moving.has(n.id)) return n;
    let x = n.x + dx;
    let y = n.y + dy;
    if (options.snapTo) {
      x = snap(x);
      y = snap(y);
    }
    if (x === n.x && y === n.y) return n;
    changed = true;
    return { ...n, x, y };
  });
  return changed ? commit(state, { ...state.doc, nodes }) : state;
}

/**
 * Set absolute positions: id -> {x, y}.
 * @param {EditorState} state @param {Record<string, {x: number, y: number}>} positions
 */
export function placeNodes(state, positions) {
  let changed = false;
  const nodes = state.doc.nodes.map((n) => {
    const p = positions[n.id];
    if (!p || (p.x === n.x && p.y === n.y)) return n;
    changed = true;
    return { ...n, x: p.x, y: p.y };
  });
  return changed ? commit(state, { ...state.doc, nodes }) : state;
}

/**
 * Delete nodes and every wire into them.
 * @param {EditorState} state @param {string[]} ids
 */
export function deleteNodes(state, ids) {
  const gone = new Set(ids);
  if (!state.doc.nodes.some((n) => gone.has(n.id))) return state;
  const nodes = state.doc.nodes
    .filter((n) => !gone.has(n.id))
    .map((n) => (n.wires.some((port) => port.some((t) => gone.has(t)))
      ? { ...n, wires: n.wires.map((port) => port.filter((t) => !gone.has(t))) }
      : n));
  return commit(state, { ...state.doc, nodes }, { selection: state.selection.filter((id) => !gone.has(id)) });
}

/**
 * Change a node's name, disabled flag or config (the edit dialog). Output ports follow the config.
 * @param {EditorState} state @param {string} id
 * @param {{name?: string, disabled?: boolean, config?: Record<string, any>}} changes
 */
export function updateNode(state, id, changes) {
  const nodes = state.doc.nodes.map((n) => {
    if (n.id !== id) return n;
    const next = { ...n, ...changes };
    const count = outputCount(state.types[n.type], next.config);
    if (state.types[n.type] && count !== n.wires.length) next.wires = resizeWires(n.wires, count);
    return next;
  });
  const before = findNode(state.doc, id);
  const after = findNode({ ...state.doc, nodes }, id);
  if (!before || JSON.stringify(before) === JSON.stringify(after)) return state;
  return commit(state, { ...state.doc, nodes });
}

/** Whether a wire from `source` port to `target` is allowed. @param {EditorState} state */
export function canWire(state, sourceId, port, targetId) {
  const source = findNode(state.doc, sourceId);
  const target = findNode(state.doc, targetId);
  if (!source || !target || source.id === target.id) return false;
  if (source.flow !== target.flow) return false;
  if (port < 0 || port >= source.wires.length) return false;
  const inputs = state.types[target.type]?.inputs ?? 1;
  if (inputs < 1) return false;
  return !source.wires[port].includes(targetId);
}

/**
 * Wire output `port` of `sourceId` to the input of `targetId`.
 * @param {EditorState} state @param {string} sourceId @param {number} port @param {string} targetId
 */
export function addWire(state, sourceId, port, targetId) {
  if (!canWire(state, sourceId, port, targetId)) return state;
  const nodes = state.doc.nodes.map((n) => (n.id === sourceId
    ? { ...n, wires: n.wires.map((targets, i) => (i === port ? [...targets, targetId] : targets)) }
    : n));
  return commit(state, { ...state.doc, nodes });
}

/**
 * @typedef {{source: string, port: number, target: string}} Wire
 * @param {EditorState} state @param {Wire[]} wires
 */
export function deleteWires(state, wires) {
  const key = (/** @type {Wire} */ w) => `${w.source}\u0000${w.port}\u0000${w.target}`;
  const gone = new Set(wires.map(key));
  let changed = false;
  const nodes = state.doc.nodes.map((n) => {
    if (!wires.some((w) => w.source === n.id)) return n;
    const next = n.wires.map((targets, port) => targets.filter((t) => !gone.has(key({ source: n.id, port, target: t }))));
    changed = true;
    return { ...n, wires: next };
  });
  return changed ? commit(state, { ...state.doc, nodes }) : state;
}

/** Every wire of a set of nodes (or the whole document). @param {FlowNode[]} nodes @returns {Wire[]} */
export function wiresOf(nodes) {
  const out = [];
  for (const n of nodes) {
    n.wires.forEach((targets, port) => {
      for (const target of targets) out.push({ source: n.id, port, target });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Selection

/** @param {EditorState} state @param {string[]} ids @param {{add?: boolean, toggle?: boolean}} [mode] */
export function select(state, ids, mode = {}) {
  let selection;
  if (mode.toggle) {
    const set = new Set(state.selection);
    for (const id of ids) {
      if (set.has(id)) set.delete(id);
      else set.add(id);
    }
    selection = [...set];
  } else if (mode.add) {
    selection = [...new Set([...state.selection, ...ids])];
  } else {
    selection = [...new Set(ids)];
  }
  return { ...state, selection };
}

/** @param {EditorState} state */
export function selectAll(state) {
  return { ...state, selection: visibleNodes(state).map((n) => n.id) };
}

// ---------------------------------------------------------------------------------------------
// Flows (tabs)

/** @param {EditorState} state @param {string} [label] @param {{id?: string}} [options] */
export function addFlow(state, label, options = {}) {
  const id = options.id || newId(allIds(state.doc), 'f');
  const name = label || `Flow ${state.doc.flows.length + 1}`;
  const doc = { ...state.doc, flows: [...state.doc.flows, { id, label: name, disabled: false }] };
  return commit(state, doc, { activeFlow: id, selection: [] });
}

/** @param {EditorState} state @param {string} id @param {Partial<Flow>} changes */
export function updateFlow(state, id, changes) {
  const flows = state.doc.flows.map((f) => (f.id === id ? { ...f, ...changes } : f));
  return commit(state, { ...state.doc, flows });
}

/** Delete a flow and its nodes. @param {EditorState} state @param {string} id */
export function deleteFlow(state, id) {
  if (!state.doc.flows.some((f) => f.id === id)) return state;
  const gone = new Set(state.doc.nodes.filter((n) => n.flow === id).map((n) => n.id));
  const flows = state.doc.flows.filter((f) => f.id !== id);
  const nodes = state.doc.nodes
    .filter((n) => !gone.has(n.id))
    .map((n) => (n.wires.some((p) => p.some((t) => gone.has(t))) ? { ...n, wires: n.wires.map((p) => p.filter((t) => !gone.has(t))) } : n));
  const index = state.doc.flows.findIndex((f) => f.id === id);
  const next = flows[Math.min(index, flows.length - 1)];
  return commit(state, { ...state.doc, flows, nodes }, {
    activeFlow: state.activeFlow === id ? next?.id ?? null : state.activeFlow,
    selection: state.selection.filter((s) => !gone.has(s)),
  });
}

/** @param {EditorState} state @param {string} id */
export function setActiveFlow(state, id) {
  return state.activeFlow === id ? state : { ...state, activeFlow: id, selection: [] };
}

// ---------------------------------------------------------------------------------------------
// Clipboard, import and export

/**
 * Copy the selected nodes (wires between them kept, secrets left out).
 * @param {EditorState} state
 */
export function copySelection(state) {
  const chosen = new Set(state.selection);
  const nodes = state.doc.nodes.filter((n) => chosen.has(n.id));
  if (!nodes.length) return state;
  return { ...state, clipboard: { nodes: nodes.map((n) => clipNode(state, n, chosen)) } };
}

/** @param {EditorState} state @param {FlowNode} n @param {Set<string>} keep */
function clipNode(state, n, keep) {
  return {
    ...n,
    wires: n.wires.map((port) => port.filter((t) => keep.has(t))),
    config: stripSecrets(state.types[n.type]?.schema, n.config),
  };
}

/** @param {EditorState} state */
export function cutSelection(state) {
  const copied = copySelection(state);
  return deleteNodes(copied, state.selection);
}

/**
 * Paste the clipboard onto the active flow, offset so it does not cover the originals (or with its
 * top-left corner at `at`). The pasted nodes get new ids and become the selection.
 * @param {EditorState} state @param {{x: number, y: number}} [at]
 */
export function paste(state, at) {
  if (!state.clipboard || !state.clipboard.nodes.length) return state;
  return insertNodes(state, state.clipboard.nodes, { flow: state.activeFlow, at, offset: at ? undefined : GRID * 2, renameAll: true });
}

/**
 * Insert foreign nodes: ids that clash (or all, with renameAll) get new ids; wires and node
 * references in config follow the renaming; wires to nodes that are not inserted are dropped.
 * @param {EditorState} state @param {FlowNode[]} incoming
 * @param {{flow?: string|null, at?: {x: number, y: number}, offset?: number, renameAll?: boolean,
 *          flowMap?: Record<string, string>}} options
 */
function insertNodes(state, incoming, options) {
  let s = state;
  if (!s.activeFlow && options.flow === undefined) s = addFlow(s, 'Flow 1');
  const taken = allIds(s.doc);
  /** @type {Record<string, string>} */
  const rename = {};
  for (const n of incoming) {
    const id = String(n.id ?? '');
    if (options.renameAll || !id || taken.has(id) || id in rename) {
      rename[id] = newId(taken);
    } else {
      rename[id] = id;
    }
    taken.add(rename[id]);
  }
  const drawn = incoming.filter((n) => !isConfigType(s, n.type));
  let dx = options.offset || 0;
  let dy = options.offset || 0;
  if (options.at && drawn.length) {
    dx = options.at.x - Math.min(...drawn.map((n) => Number(n.x) || 0));
    dy = options.at.y - Math.min(...drawn.map((n) => Number(n.y) || 0));
  }
  const added = incoming.map((raw) => {
    const n = normaliseNode(raw);
    const type = s.types[n.type];
    const isConfig = type?.category === 'config';
    const config = { ...n.config };
    for (const [prop] of Object.entries(nodeRefs(type?.schema))) {
      if (typeof config[prop] === 'string' && config[prop] in rename) config[prop] = rename[config[prop]];
    }
    let flow = n.flow;
    if (!isConfig) {
      if (options.flowMap && n.flow && n.flow in options.flowMap) flow = options.flowMap[n.flow];
      else if (options.flow !== undefined) flow = options.flow;
      else flow = s.activeFlow;
    }
    return {
      ...n,
      id: rename[String(raw.id ?? '')],
      flow,
      x: isConfig ? n.x : snap(n.x + dx),
      y: isConfig ? n.y : snap(n.y + dy),
      wires: n.wires.map((port) => port.filter((t) => t in rename).map((t) => rename[t])),
      config,
    };
  });
  const doc = { ...s.doc, nodes: [...s.doc.nodes, ...added] };
  return commit(s, doc, { selection: added.filter((n) => !isConfigType(s, n.type)).map((n) => n.id) });
}

/**
 * Parse import text: a whole document, `{nodes: [...]}`, or a bare array of nodes.
 * @param {string} text @returns {{flows: Flow[], nodes: FlowNode[]}}
 */
export function parseImport(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON: ${/** @type {Error} */ (error).message}`);
  }
  const nodes = Array.isArray(data) ? data : data && Array.isArray(data.nodes) ? data.nodes : null;
  if (!nodes) throw new Error('expected a flow document, {"nodes": [...]} or an array of nodes');
  nodes.forEach((n, i) => {
    if (!n || typeof n !== 'object' || typeof n.type !== 'string') throw new Error(`node ${i}: needs a "type"`);
  });
  const flows = !Array.isArray(data) && Array.isArray(data.flows) ? data.flows : [];
  return { flows, nodes };
}

/**
 * Import nodes (text or parsed) into the current flow, or into new flows (one per imported flow,
 * or one new flow when the import has none). Clashing ids get new ids.
 * @param {EditorState} state @param {string|{flows: Flow[], nodes: FlowNode[]}} input
 * @param {{target?: 'current'|'new', label?: string}} [options]
 */
export function importNodes(state, input, options = {}) {
  const data = typeof input === 'string' ? parseImport(input) : input;
  const target = options.target || 'current';
  if (target === 'current') {
    let s = state;
    if (!s.activeFlow) s = addFlow(s, options.label);
    return insertNodes(s, data.nodes, { flow: s.activeFlow });
  }
  // New flows: one per imported flow that has nodes; nodes without a known flow go to the first.
  let s = beginGesture(state);
  const wasGesture = !!state.gesture;
  /** @type {Record<string, string>} */
  const flowMap = {};
  const usedFlows = new Set(data.nodes.map((n) => n.flow).filter((f) => f));
  const known = data.flows.filter((f) => usedFlows.has(f.id));
  if (!known.length) {
    s = addFlow(s, options.label || 'Imported');
  }
  for (const flow of known) {
    s = addFlow(s, options.label && known.length === 1 ? options.label : flow.label || 'Imported');
    flowMap[flow.id] = /** @type {string} */ (s.activeFlow);
  }
  const firstNew = known.length ? flowMap[known[0].id] : s.activeFlow;
  s = insertNodes(s, data.nodes, { flow: firstNew, flowMap });
  s = { ...s, activeFlow: firstNew };
  return wasGesture ? s : endGesture(s);
}

/**
 * A document to export: the selection, one flow or everything; never secrets. Config nodes that
 * exported nodes refer to come along.
 * @param {EditorState} state @param {'selection'|'flow'|'all'} scope
 * @returns {Doc}
 */
export function exportDoc(state, scope) {
  const { doc } = state;
  let nodes;
  let flows;
  if (scope === 'all') {
    nodes = doc.nodes;
    flows = doc.flows;
  } else if (scope === 'flow') {
    nodes = doc.nodes.filter((n) => n.flow === state.activeFlow);
    flows = doc.flows.filter((f) => f.id === state.activeFlow);
  } else {
    const chosen = new Set(state.selection);
    nodes = doc.nodes.filter((n) => chosen.has(n.id));
    const used = new Set(nodes.map((n) => n.flow));
    flows = doc.flows.filter((f) => used.has(f.id));
  }
  // Referenced config nodes.
  const ids = new Set(nodes.map((n) => n.id));
  const extra = [];
  for (const n of nodes) {
    for (const prop of Object.keys(nodeRefs(state.types[n.type]?.schema))) {
      const ref = n.config[prop];
      if (typeof ref === 'string' && !ids.has(ref)) {
        const found = findNode(doc, ref);
        if (found) {
          ids.add(ref);
          extra.push(found);
        }
      }
    }
  }
  const keep = new Set([...nodes, ...extra].map((n) => n.id));
  return {
    version: doc.version,
    flows: flows.map((f) => ({ ...f })),
    nodes: [...nodes, ...extra].map((n) => clipNode(state, n, keep)),
  };
}

// ---------------------------------------------------------------------------------------------
// Deploy bookkeeping

/**
 * Ids of nodes added or changed since the last deploy (flow changes don't count).
 * @param {Doc} doc @param {Doc|null} deployed @returns {Set<string>}
 */
export function changedNodes(doc, deployed) {
  const before = new Map((deployed?.nodes || []).map((n) => [n.id, n]));
  const changed = new Set();
  for (const n of doc.nodes) {
    const old = before.get(n.id);
    if (old === n) continue;
    if (!old || nodeKey(old) !== nodeKey(n)) changed.add(n.id);
  }
  return changed;
}

/** @param {FlowNode} n */
function nodeKey(n) {
  return JSON.stringify([n.type, n.flow, n.name, n.disabled, n.x, n.y, n.wires, sortKeys(n.config)]);
}

/** @param {any} value @returns {any} */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  return value;
}

/** Whether anything (nodes or flows) differs from what was deployed. @param {EditorState} state */
export function isDirty(state) {
  if (state.doc === state.deployed) return false;
  if (changedNodes(state.doc, state.deployed).size) return true;
  const ids = (/** @type {Doc|null} */ d) => JSON.stringify([(d?.nodes || []).map((n) => n.id).sort(), d?.flows || []]);
  return ids(state.doc) !== ids(state.deployed);
}

/**
 * After a successful deploy: the current document is what runs now.
 * @param {EditorState} state @param {number} revision
 */
export function markDeployed(state, revision) {
  return { ...state, deployed: state.doc, revision };
}

/**
 * Load a document from the server (reload after a conflict): history is cleared.
 * @param {EditorState} state @param {Doc} doc @param {number|null} revision
 */
export function loadDoc(state, doc, revision) {
  const fresh = createState(doc, { types: state.types, revision });
  const keep = fresh.doc.flows.some((f) => f.id === state.activeFlow);
  return { ...fresh, clipboard: state.clipboard, activeFlow: keep ? state.activeFlow : fresh.activeFlow };
}

// ---------------------------------------------------------------------------------------------
// Auto-layout: layered, left to right (longest path from the sources, barycentre ordering).

export const LAYOUT = { x0: 100, y0: 60, dx: 200, dy: 60 };

/**
 * Positions for the drawn nodes of a flow, as id -> {x, y}. Layers are `dx` apart, or more when
 * `widthOf` says a layer has wider nodes (long labels).
 * @param {FlowNode[]} nodes @param {{x0?: number, y0?: number, dx?: number, dy?: number}} [spacing]
 * @param {(node: FlowNode) => number} [widthOf]
 * @returns {Record<string, {x: number, y: number}>}
 */
export function layoutPositions(nodes, spacing = {}, widthOf = () => 100) {
  const { x0, y0, dx, dy } = { ...LAYOUT, ...spacing };
  const ids = nodes.map((n) => n.id);
  const present = new Set(ids);
  /** @type {Map<string, string[]>} */
  const out = new Map(ids.map((id) => [id, []]));
  /** @type {Map<string, string[]>} */
  const inc = new Map(ids.map((id) => [id, []]));
  for (const n of nodes) {
    for (const port of n.wires) {
      for (const t of port) {
        if (present.has(t) && t !== n.id && !out.get(n.id)?.includes(t)) {
          out.get(n.id)?.push(t);
          inc.get(t)?.push(n.id);
        }
      }
    }
  }
  // Break cycles: drop edges that close a cycle in a depth-first walk (documents are DAGs anyway).
  const stateOf = new Map();
  const back = new Set();
  const order = [...ids].sort((a, b) => (inc.get(a)?.length || 0) - (inc.get(b)?.length || 0));
  for (const start of order) {
    if (stateOf.has(start)) continue;
    /** @type {[string, number][]} */
    const stack = [[start, 0]];
    stateOf.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const targets = out.get(top[0]) || [];
      if (top[1] < targets.length) {
        const t = targets[top[1]++];
        if (stateOf.get(t) === 1) back.add(`${top[0]}>${t}`);
        else if (!stateOf.has(t)) {
          stateOf.set(t, 1);
          stack.push([t, 0]);
        }
      } else {
        stateOf.set(top[0], 2);
        stack.pop();
      }
    }
  }
  const edges = (/** @type {string} */ id) => (out.get(id) || []).filter((t) => !back.has(`${id}>${t}`));
  const preds = (/** @type {string} */ id) => (inc.get(id) || []).filter((s) => !back.has(`${s}>${id}`));
  // Longest-path layering (Kahn's order).
  /** @type {Map<string, number>} */
  const layer = new Map();
  const indegree = new Map(ids.map((id) => [id, preds(id).length]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (const id of queue) layer.set(id, 0);
  while (queue.length) {
    const id = /** @type {string} */ (queue.shift());
    for (const t of edges(id)) {
      layer.set(t, Math.max(layer.get(t) || 0, (layer.get(id) || 0) + 1));
      indegree.set(t, (indegree.get(t) || 0) - 1);
      if (indegree.get(t) === 0) queue.push(t);
    }
  }
  // Components (undirected), kept apart vertically, in the order of their topmost node.
  const component = new Map();
  const byPos = [...nodes].sort((a, b) => a.y - b.y || a.x - b.x);
  let count = 0;
  for (const n of byPos) {
    if (component.has(n.id)) continue;
    const stack = [n.id];
    component.set(n.id, count);
    while (stack.length) {
      const id = /** @type {string} */ (stack.pop());
      for (const other of [...(out.get(id) || []), ...(inc.get(id) || [])]) {
        if (!component.has(other)) {
          component.set(other, count);
          stack.push(other);
        }
      }
    }
    count++;
  }
  const original = new Map(nodes.map((n) => [n.id, n]));
  const byY = (/** @type {string} */ a, /** @type {string} */ b) => (original.get(a)?.y || 0) - (original.get(b)?.y || 0);
  /** @type {{layers: string[][], lefts: number[], w: number, h: number}[]} */
  const blocks = [];
  for (let c = 0; c < count; c++) {
    const members = ids.filter((id) => component.get(id) === c);
    const depth = Math.max(...members.map((id) => layer.get(id) || 0));
    /** @type {string[][]} */
    const layers = Array.from({ length: depth + 1 }, () => []);
    for (const id of members) layers[layer.get(id) || 0].push(id);
    layers[0].sort(byY);
    // Barycentre sweeps: down then up, twice.
    const rank = new Map();
    const setRanks = () => layers.forEach((l) => l.forEach((id, i) => rank.set(id, i)));
    setRanks();
    const bary = (/** @type {string[]} */ neighbours, /** @type {string} */ id) => (neighbours.length
      ? neighbours.reduce((sum, n) => sum + (rank.get(n) ?? 0), 0) / neighbours.length
      : rank.get(id) ?? 0);
    for (let sweep = 0; sweep < 2; sweep++) {
      for (let i = 1; i < layers.length; i++) {
        layers[i].sort((a, b) => bary(preds(a), a) - bary(preds(b), b) || byY(a, b));
        setRanks();
      }
      for (let i = layers.length - 2; i >= 0; i--) {
        layers[i].sort((a, b) => bary(edges(a), a) - bary(edges(b), b) || byY(a, b));
        setRanks();
      }
    }
    const tallest = Math.max(...layers.map((l) => l.length));
    // Each layer starts where the widest node of the previous one ends, plus a gap.
    const lefts = [0];
    for (let i = 1; i < layers.length; i++) {
      const widest = Math.max(...layers[i - 1].map((id) => widthOf(/** @type {FlowNode} */ (original.get(id)))));
      lefts.push(lefts[i - 1] + Math.max(dx, snap(widest + dx - 100)));
    }
    blocks.push({ layers, lefts, w: lefts[lefts.length - 1] + dx, h: tallest * dy });
  }
  // Stack the components top to bottom, wrapping into columns so that many small flows make a
  // wide page rather than one endless column.
  const area = blocks.reduce((sum, b) => sum + (b.w + dx) * (b.h + dy), 0);
  const columnHeight = Math.max(...blocks.map((b) => b.h), Math.sqrt(area) * 0.6);
  /** @type {Record<string, {x: number, y: number}>} */
  const positions = {};
  let left = x0;
  let top = y0;
  let columnWidth = 0;
  for (const block of blocks) {
    if (top > y0 && top - y0 + block.h > columnHeight) {
      left += columnWidth + dx;
      top = y0;
      columnWidth = 0;
    }
    const tallest = block.h / dy;
    block.layers.forEach((ids_, i) => {
      const offset = ((tallest - ids_.length) * dy) / 2;
      ids_.forEach((id, j) => {
        positions[id] = { x: snap(left + block.lefts[i]), y: snap(top + offset + j * dy) };
      });
    });
    columnWidth = Math.max(columnWidth, block.w);
    top += block.h + dy;
  }
  return positions;
}

/** Lay out the active flow (one undo step). @param {EditorState} state */
export function autoLayout(state) {
  const widthOf = (/** @type {FlowNode} */ n) => nodeSize(nodeLabel(n, state.types[n.type]), n.wires.length).w;
  return placeNodes(state, layoutPositions(visibleNodes(state), {}, widthOf));
}
