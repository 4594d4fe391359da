// The flow canvas (SVG): nodes, ports, wires, status, selection, rubber band, pan and zoom.
//
// Data down: the noun event 'flow-view' (FlowView below) calls update(). Actions up (verbs):
// select-nodes, select-wire, drag-nodes, add-wire, edit-node, inject-node, quick-add, reveal-node.
// Nothing here edits the document; the app turns the verbs into state.js edits.

import { ask, attr, s, text } from './dom.js';
import { keyedList } from './keyed.js';
import { GRID } from './state.js';
import * as V from './view.js';

/**
 * @typedef {import('./state.js').FlowNode} FlowNode
 * @typedef {import('./state.js').NodeType} NodeType
 * @typedef {{
 *   flow: string|null, flowDisabled: boolean, nodes: FlowNode[], types: Record<string, NodeType>,
 *   selection: Set<string>, changed: Set<string>, problems: Map<string, {text: string}[]>,
 *   status: Record<string, any>, selectedWire: string|null,
 * }} FlowView
 * @typedef {{node: FlowNode, type: NodeType|undefined, label: string, w: number, h: number,
 *   outputs: number, inputs: number, selected: boolean, changed: boolean, problems: {text: string}[]|undefined,
 *   status: any}} NodeVM
 * @typedef {{key: string, source: NodeVM, target: NodeVM, port: number, selected: boolean}} WireVM
 */

const STATUS_COLORS = new Set(['green', 'yellow', 'red', 'blue', 'grey']);

/**
 * Mount the canvas into `root` (an element that will hold the SVG).
 * @param {HTMLElement} root
 */
export function mountCanvas(root) {
  const svg = /** @type {SVGSVGElement} */ (s('svg', {
    class: 'canvas-svg', role: 'application', 'aria-label': 'Flow canvas', tabindex: '0',
    'aria-roledescription': 'flow canvas',
  }));
  const viewportEl = s('g', { class: 'viewport' });
  const wiresEl = s('g', { class: 'wires' });
  const nodesEl = s('g', { class: 'nodes' });
  const dragWire = s('path', { class: 'drag-wire', d: '' });
  const band = s('rect', { class: 'rubber-band', width: 0, height: 0, visibility: 'hidden' });
  viewportEl.append(wiresEl, nodesEl, dragWire, band);
  svg.append(viewportEl);
  // While nodes are dragged they (and their wires) move to an overlay SVG of their own, so each
  // frame repaints a few elements instead of the whole flow.
  const overlay = s('svg', { class: 'canvas-overlay', 'aria-hidden': 'true' });
  const overlayViewport = s('g', { class: 'viewport' });
  const overlayWires = s('g', { class: 'wires' });
  const overlayNodes = s('g', { class: 'nodes' });
  overlayViewport.append(overlayWires, overlayNodes);
  overlay.append(overlayViewport);
  const empty = document.createElement('p');
  empty.className = 'canvas-empty';
  empty.textContent = 'Drag a node from the palette, or click here and start typing a node type.';
  root.append(svg, overlay, empty);

  /** @type {FlowView|null} */
  let view = null;
  /** @type {Map<string, NodeVM>} */
  let nodeVMs = new Map();
  /** @type {Map<string, WireVM>} */
  let wireVMs = new Map();
  /** @type {Map<string|null, V.Viewport>} */
  const viewports = new Map();
  let viewport = V.identity();
  /** Last pointer position in screen (client) coordinates, for quick-add and paste. */
  let lastPointer = { x: 0, y: 0 };

  function applyViewport() {
    attr(viewportEl, 'transform', `translate(${viewport.x} ${viewport.y}) scale(${viewport.k})`);
    attr(overlayViewport, 'transform', `translate(${viewport.x} ${viewport.y}) scale(${viewport.k})`);
    const size = GRID * viewport.k * (viewport.k < 0.4 ? 5 : 1);
    svg.style.backgroundSize = `${size}px ${size}px`;
    svg.style.backgroundPosition = `${viewport.x}px ${viewport.y}px`;
    root.dataset.zoom = viewport.k.toFixed(2);
    // Far out, text would be a few pixels high: leave it out (cheaper to draw, easier to read).
    root.classList.toggle('far', viewport.k < 0.4);
    if (view) viewports.set(view.flow, viewport);
  }

  /** @param {V.Viewport} next */
  function setViewport(next) {
    viewport = next;
    applyViewport();
  }

  /** The SVG's place on screen; cached during a gesture so pointer moves never force a layout. */
  let gestureRect = /** @type {DOMRect|null} */ (null);
  const svgRect = () => gestureRect || svg.getBoundingClientRect();

  /** Client point -> world point. @param {number} clientX @param {number} clientY */
  function toWorld(clientX, clientY) {
    const rect = svgRect();
    return V.toWorld(viewport, clientX - rect.left, clientY - rect.top);
  }

  // -- rendering --------------------------------------------------------------------------

  /** @param {FlowNode} node @param {FlowView} v @returns {NodeVM} */
  function nodeVM(node, v) {
    const type = v.types[node.type];
    const selected = v.selection.has(node.id);
    const changed = v.changed.has(node.id);
    const problems = v.problems.get(node.id);
    const status = v.status[node.id];
    const old = nodeVMs.get(node.id);
    if (old && old.node === node && old.type === type && old.selected === selected && old.changed === changed
      && old.problems === problems && old.status === status) return old;
    const label = V.nodeLabel(node, type);
    const outputs = node.wires.length;
    const { w, h } = V.nodeSize(label, outputs);
    return { node, type, label, w, h, outputs, inputs: type ? type.inputs : 1, selected, changed, problems, status };
  }

  // Nodes are cloned from two prototypes (with and without an inject button): one cloneNode per
  // node instead of a dozen createElementNS calls; 1,000 nodes draw in a few tens of ms.
  const prototypes = new Map();
  /** @param {boolean} injectable */
  function prototype(injectable) {
    let proto = prototypes.get(injectable);
    if (proto) return proto;
    proto = s('g', { class: 'node', role: 'button' },
      s('title'),
      s('rect', { class: 'node-body', rx: 5, ry: 5 }),
      s('rect', { class: 'node-icon', x: 0, y: 0, width: 24, rx: 5, ry: 5 }),
      s('text', { class: 'node-label', x: 32 }),
      s('g', { class: 'ports' }),
      s('g', { class: 'node-status hidden' }, s('circle', { r: 4, cx: 5, cy: 5 }), s('text', { x: 14, y: 9 })),
      s('circle', { class: 'changed-mark', r: 4 }),
      s('g', { class: 'problem-mark' }, s('circle', { r: 7, cx: 0, cy: 0 }), s('text', { x: 0, y: 4 }, '!')));
    if (injectable) {
      proto.append(s('g', { class: 'node-button', role: 'button' },
        s('rect', { x: -22, width: 18, height: 20, rx: 4, ry: 4 }), s('path', { d: 'M-16 0l6 5l-6 5z' })));
    }
    prototypes.set(injectable, proto);
    return proto;
  }

  /** @param {NodeVM} vm */
  function createNode(vm) {
    const g = /** @type {SVGElement} */ (prototype(!!vm.type?.injectable).cloneNode(true));
    g.setAttribute('data-id', vm.node.id);
    return g;
  }

  /** @param {Element} g @param {NodeVM} vm @param {NodeVM|undefined} prev */
  function updateNode(g, vm, prev) {
    const { node, w, h } = vm;
    if (!prev || prev.node.x !== node.x || prev.node.y !== node.y) attr(g, 'transform', `translate(${node.x} ${node.y})`);
    g.classList.toggle('selected', vm.selected);
    g.classList.toggle('changed', vm.changed);
    g.classList.toggle('disabled', node.disabled);
    g.classList.toggle('has-problems', !!vm.problems);
    attr(g, 'aria-label', `${vm.label} (${node.type})`);
    attr(g, 'aria-pressed', vm.selected ? 'true' : 'false');
    const [title, body, icon, label, ports, status, changed, problem, button] = /** @type {SVGElement[]} */ (/** @type {unknown} */ (g.children));
    if (!prev || prev.w !== w || prev.h !== h || prev.type !== vm.type) {
      attr(body, 'width', String(w));
      attr(body, 'height', String(h));
      attr(body, 'fill', vm.type?.color || '#ddd');
      attr(icon, 'height', String(h));
      attr(label, 'y', String(h / 2 + 4));
      attr(changed, 'cx', String(w - 6));
      attr(changed, 'cy', '-6');
      attr(status, 'transform', `translate(0 ${h + 4})`);
      if (button) attr(button, 'transform', `translate(0 ${h / 2 - 10})`);
    }
    if (!prev || prev.label !== vm.label) {
      text(label, vm.label);
      if (button) attr(button, 'aria-label', `Inject ${vm.label}`);
    }
    if (!prev || prev.outputs !== vm.outputs || prev.inputs !== vm.inputs || prev.h !== h || prev.w !== w) {
      ports.replaceChildren();
      if (vm.inputs > 0) ports.append(s('rect', { class: 'port port-in', x: -5, y: h / 2 - 5, width: 10, height: 10, rx: 2 }));
      for (let i = 0; i < vm.outputs; i++) {
        ports.append(s('rect', {
          class: 'port port-out', 'data-port': i, x: w - 5, y: V.outputPortY(h, vm.outputs, i) - 5, width: 10, height: 10, rx: 2,
        }));
      }
    }
    // Status under the node: a coloured dot and text.
    const st = vm.status?.status;
    const stText = st?.text || '';
    status.classList.toggle('hidden', !stText);
    const color = STATUS_COLORS.has(st?.color) ? st.color : 'grey';
    attr(status, 'data-color', color);
    text(status.lastChild || status, stText);
    // Hover text: type, id, counters, last error, problems.
    const lines = [`${vm.label} — ${node.type} ${node.id}`];
    const c = vm.status?.counters;
    if (c) lines.push(`received ${c.received ?? 0} · sent ${c.sent ?? 0} · errors ${c.errors ?? 0} · dropped ${c.dropped ?? 0}`);
    if (vm.status?.queue !== undefined && vm.status?.queue !== null) lines.push(`queue ${typeof vm.status.queue === 'object' ? JSON.stringify(vm.status.queue) : vm.status.queue}`);
    if (vm.status?.state) lines.push(`state: ${vm.status.state}`);
    if (vm.status?.last_error) lines.push(`last error: ${vm.status.last_error}`);
    if (vm.problems) for (const p of vm.problems) lines.push(`⚠ ${p.text}`);
    text(title, lines.join('\n'));
  }

  /** @param {WireVM} vm */
  function wireEnds(vm) {
    const { source, target, port } = vm;
    const x1 = source.node.x + source.w;
    const y1 = source.node.y + V.outputPortY(source.h, source.outputs, port);
    const x2 = target.node.x;
    const y2 = target.node.y + target.h / 2;
    return V.wirePath(x1, y1, x2, y2);
  }

  /** @param {WireVM} vm */
  function createWire(vm) {
    return s('g', { class: 'wire', 'data-key': vm.key, 'data-source': vm.source.node.id, 'data-port': vm.port, 'data-target': vm.target.node.id },
      s('path', { class: 'wire-hit' }), s('path', { class: 'wire-line' }));
  }

  /** @param {Element} g @param {WireVM} vm @param {WireVM|undefined} prev */
  function updateWire(g, vm, prev) {
    if (!prev || prev.source !== vm.source || prev.target !== vm.target) {
      const d = wireEnds(vm);
      for (const path of g.children) attr(path, 'd', d);
    }
    g.classList.toggle('selected', vm.selected);
  }

  /** @param {FlowView} next */
  function update(next) {
    const flowChanged = !view || view.flow !== next.flow;
    if (flowChanged) {
      viewport = viewports.get(next.flow) || V.identity();
    }
    view = next;
    root.classList.toggle('flow-disabled', next.flowDisabled);
    empty.hidden = next.nodes.length > 0;
    /** @type {Map<string, NodeVM>} */
    const vms = new Map();
    for (const node of next.nodes) vms.set(node.id, nodeVM(node, next));
    nodeVMs = vms;
    keyedList(/** @type {any} */ (nodesEl), [...vms.values()], { key: (vm) => vm.node.id, create: createNode, update: updateNode });
    /** @type {Map<string, WireVM>} */
    const wires = new Map();
    for (const source of vms.values()) {
      source.node.wires.forEach((targets, port) => {
        for (const id of targets) {
          const target = vms.get(id);
          if (!target) continue;
          const key = `${source.node.id}:${port}:${id}`;
          const selected = next.selectedWire === key;
          const old = wireVMs.get(key);
          wires.set(key, old && old.source === source && old.target === target && old.selected === selected
            ? old : { key, source, target, port, selected });
        }
      });
    }
    wireVMs = wires;
    keyedList(/** @type {any} */ (wiresEl), [...wires.values()], { key: (vm) => vm.key, create: createWire, update: updateWire });
    if (flowChanged) applyViewport();
  }

  root.addEventListener('flow-view', (event) => update(/** @type {CustomEvent} */ (event).detail));

  // -- interaction ------------------------------------------------------------------------

  /** @type {null | {kind: 'nodes', ids: string[], start: {x: number, y: number}, last: {x: number, y: number}, moved: boolean, id: string, wasSelected: boolean, pending: {dx: number, dy: number}, frame: number}
   *  | {kind: 'wire', source: string, port: number, from: {x: number, y: number}}
   *  | {kind: 'band', start: {x: number, y: number}, moved: boolean, add: boolean}
   *  | {kind: 'pan', last: {x: number, y: number}}} */
  let gesture = null;
  let spaceDown = false;

  svg.addEventListener('pointerdown', (event) => {
    if (gesture) return;
    lastPointer = { x: event.clientX, y: event.clientY };
    const target = /** @type {Element} */ (event.target);
    gestureRect = null;
    const world = toWorld(event.clientX, event.clientY);
    svg.focus({ preventScroll: true });
    if (event.button === 1 || (event.button === 0 && (event.altKey || spaceDown))) {
      gesture = { kind: 'pan', last: { x: event.clientX, y: event.clientY } };
      svg.setPointerCapture(event.pointerId);
      root.classList.add('panning');
      event.preventDefault();
      return;
    }
    if (event.button !== 0) return;
    if (target.closest('.node-button')) return; // a click, handled below
    const port = target.closest('.port-out');
    const nodeEl = target.closest('.node');
    if (target.closest('.port-in') && nodeEl) {
      // Backwards, from an input to an output port (or any node: its first output).
      const vm = nodeVMs.get(/** @type {string} */ (nodeEl.getAttribute('data-id')));
      if (!vm) return;
      const from = { x: vm.node.x, y: vm.node.y + vm.h / 2 };
      gesture = { kind: 'wire', source: vm.node.id, port: -1, from };
      attr(dragWire, 'd', V.wirePath(world.x, world.y, from.x, from.y));
      svg.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (port && nodeEl) {
      const vm = nodeVMs.get(/** @type {string} */ (nodeEl.getAttribute('data-id')));
      if (!vm) return;
      const index = Number(port.getAttribute('data-port'));
      const from = { x: vm.node.x + vm.w, y: vm.node.y + V.outputPortY(vm.h, vm.outputs, index) };
      gesture = { kind: 'wire', source: vm.node.id, port: index, from };
      attr(dragWire, 'd', V.wirePath(from.x, from.y, world.x, world.y));
      svg.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (nodeEl) {
      const id = /** @type {string} */ (nodeEl.getAttribute('data-id'));
      const wasSelected = !!view?.selection.has(id);
      if (event.shiftKey || event.ctrlKey || event.metaKey) {
        ask(root, 'select-nodes', { ids: [id], toggle: true });
        if (wasSelected) return;
      } else if (!wasSelected) {
        ask(root, 'select-nodes', { ids: [id] });
      }
      const ids = [...(view?.selection || [])];
      gesture = { kind: 'nodes', ids, id, wasSelected, start: world, last: world, moved: false, pending: { dx: 0, dy: 0 }, frame: 0 };
      svg.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    const wire = target.closest('.wire');
    if (wire) {
      ask(root, 'select-wire', { key: wire.getAttribute('data-key') });
      return;
    }
    if (event.ctrlKey || event.metaKey) {
      ask(root, 'quick-add', { clientX: event.clientX, clientY: event.clientY });
      event.preventDefault();
      return;
    }
    gesture = { kind: 'band', start: world, moved: false, add: event.shiftKey };
    svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  svg.addEventListener('pointermove', (event) => {
    lastPointer = { x: event.clientX, y: event.clientY };
    if (!gesture) return;
    gestureRect = gestureRect || svg.getBoundingClientRect();
    const world = toWorld(event.clientX, event.clientY);
    if (gesture.kind === 'pan') {
      setViewport(V.pan(viewport, event.clientX - gesture.last.x, event.clientY - gesture.last.y));
      gesture.last = { x: event.clientX, y: event.clientY };
    } else if (gesture.kind === 'wire') {
      attr(dragWire, 'd', gesture.port < 0
        ? V.wirePath(world.x, world.y, gesture.from.x, gesture.from.y)
        : V.wirePath(gesture.from.x, gesture.from.y, world.x, world.y));
    } else if (gesture.kind === 'band') {
      const box = V.boxOf(gesture.start, world);
      gesture.moved = gesture.moved || box.w > 3 || box.h > 3;
      attr(band, 'x', String(box.x));
      attr(band, 'y', String(box.y));
      attr(band, 'width', String(box.w));
      attr(band, 'height', String(box.h));
      attr(band, 'visibility', gesture.moved ? 'visible' : 'hidden');
    } else if (gesture.kind === 'nodes') {
      const g = gesture;
      if (!g.moved) {
        if (Math.abs(world.x - g.start.x) * viewport.k < 3 && Math.abs(world.y - g.start.y) * viewport.k < 3) return;
        g.moved = true;
        setDragging(g.ids, true);
        ask(root, 'drag-nodes', { phase: 'start', ids: g.ids });
      }
      g.pending.dx += world.x - g.last.x;
      g.pending.dy += world.y - g.last.y;
      g.last = world;
      // One state change and render per animation frame, however many pointer events arrive.
      if (!g.frame) {
        g.frame = requestAnimationFrame(() => {
          g.frame = 0;
          flushDrag(g);
        });
      }
    }
  });

  /**
   * Move the dragged nodes and their wires to the overlay (on) or back (off).
   * @param {string[]} ids @param {boolean} on
   */
  function setDragging(ids, on) {
    const moving = new Set(ids);
    const [nodesTo, wiresTo] = on ? [overlayNodes, overlayWires] : [nodesEl, wiresEl];
    const [nodesFrom, wiresFrom] = on ? [nodesEl, wiresEl] : [overlayNodes, overlayWires];
    const keyed = (/** @type {any} */ el) => /** @type {Map<string, {el: Element}>} */ (el._keyed || new Map());
    for (const id of ids) {
      const el = keyed(nodesEl).get(id)?.el;
      if (el && el.parentNode === nodesFrom) nodesTo.append(el);
    }
    for (const [key, { el }] of keyed(wiresEl)) {
      const [source, , target] = key.split(':');
      if ((moving.has(source) || moving.has(target)) && el.parentNode === wiresFrom) wiresTo.append(el);
    }
    // Anything left behind in the overlay (a node deleted meanwhile) goes.
    if (!on) {
      overlayNodes.replaceChildren();
      overlayWires.replaceChildren();
    }
  }

  /** @param {any} g */
  function flushDrag(g) {
    const { dx, dy } = g.pending;
    if (!dx && !dy) return;
    g.pending = { dx: 0, dy: 0 };
    ask(root, 'drag-nodes', { phase: 'move', ids: g.ids, dx, dy });
  }

  /** @param {PointerEvent} event */
  function finish(event) {
    if (!gesture) return;
    const g = gesture;
    gesture = null;
    gestureRect = null;
    if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
    if (g.kind === 'pan') {
      root.classList.remove('panning');
    } else if (g.kind === 'wire') {
      attr(dragWire, 'd', '');
      const under = document.elementFromPoint(event.clientX, event.clientY);
      const nodeEl = under && under.closest('.node');
      if (nodeEl && event.type === 'pointerup') {
        const other = nodeEl.getAttribute('data-id');
        if (g.port >= 0) ask(root, 'add-wire', { source: g.source, port: g.port, target: other });
        else ask(root, 'add-wire', { source: other, port: Number(under?.closest('.port-out')?.getAttribute('data-port') ?? 0), target: g.source });
      }
    } else if (g.kind === 'band') {
      attr(band, 'visibility', 'hidden');
      if (!g.moved) {
        ask(root, 'select-nodes', { ids: [] });
        ask(root, 'select-wire', { key: null });
        return;
      }
      const box = V.boxOf(g.start, toWorld(event.clientX, event.clientY));
      const ids = [...nodeVMs.values()]
        .filter((vm) => V.intersects(box, { x: vm.node.x, y: vm.node.y, w: vm.w, h: vm.h }))
        .map((vm) => vm.node.id);
      ask(root, 'select-nodes', { ids, add: g.add });
    } else if (g.kind === 'nodes') {
      if (g.frame) cancelAnimationFrame(g.frame);
      if (g.moved) {
        flushDrag(g);
        ask(root, 'drag-nodes', { phase: 'end', ids: g.ids });
        setDragging(g.ids, false);
      } else if (g.wasSelected && (view?.selection.size || 0) > 1 && !event.shiftKey) {
        ask(root, 'select-nodes', { ids: [g.id] });
      }
    }
  }
  svg.addEventListener('pointerup', finish);
  svg.addEventListener('pointercancel', finish);

  svg.addEventListener('click', (event) => {
    const button = /** @type {Element} */ (event.target).closest('.node-button');
    if (!button) return;
    const nodeEl = button.closest('.node');
    if (nodeEl) ask(root, 'inject-node', { id: nodeEl.getAttribute('data-id') });
  });

  svg.addEventListener('dblclick', (event) => {
    // With pointer capture the event's target is the SVG itself: look at what is under the pointer.
    const target = document.elementFromPoint(event.clientX, event.clientY);
    if (!target) return;
    if (target.closest('.node-button')) return;
    const nodeEl = target.closest('.node');
    if (nodeEl) ask(root, 'edit-node', { id: nodeEl.getAttribute('data-id') });
  });

  svg.addEventListener('wheel', (event) => {
    event.preventDefault();
    const rect = svg.getBoundingClientRect();
    if (event.ctrlKey || event.metaKey) {
      setViewport(V.zoomAt(viewport, Math.exp(-event.deltaY / 300), event.clientX - rect.left, event.clientY - rect.top));
    } else {
      setViewport(V.pan(viewport, -event.deltaX, -event.deltaY));
    }
  }, { passive: false });

  window.addEventListener('keydown', (event) => {
    if (event.code === 'Space' && document.activeElement === svg) spaceDown = true;
  });
  window.addEventListener('keyup', (event) => {
    if (event.code === 'Space') spaceDown = false;
  });

  /** The boxes of the drawn nodes (for fit). */
  function boxes() {
    return [...nodeVMs.values()].map((vm) => ({ x: vm.node.x, y: vm.node.y, w: vm.w, h: vm.h + 16 }));
  }

  return {
    svg,
    toWorld,
    /** Where the pointer was last seen over the canvas, in world coordinates. */
    pointerWorld() {
      const rect = svg.getBoundingClientRect();
      const inside = lastPointer.x >= rect.left && lastPointer.x <= rect.right && lastPointer.y >= rect.top && lastPointer.y <= rect.bottom;
      if (inside) return toWorld(lastPointer.x, lastPointer.y);
      return toWorld(rect.left + rect.width / 3, rect.top + rect.height / 3);
    },
    lastPointer: () => lastPointer,
    fit() {
      const rect = svg.getBoundingClientRect();
      setViewport(V.fit(boxes(), rect.width, rect.height));
    },
    /** @param {number} factor */
    zoom(factor) {
      const rect = svg.getBoundingClientRect();
      setViewport(V.zoomAt(viewport, factor, rect.width / 2, rect.height / 2));
    },
    resetZoom() {
      const rect = svg.getBoundingClientRect();
      setViewport(V.zoomAt(viewport, 1 / viewport.k, rect.width / 2, rect.height / 2));
    },
    /** Centre the view on a node. @param {string} id */
    reveal(id) {
      const vm = nodeVMs.get(id);
      if (!vm) return;
      const rect = svg.getBoundingClientRect();
      setViewport({ k: viewport.k, x: rect.width / 2 - (vm.node.x + vm.w / 2) * viewport.k, y: rect.height / 2 - (vm.node.y + vm.h / 2) * viewport.k });
      const el = nodesEl.querySelector(`[data-id="${CSS.escape(id)}"]`);
      el?.classList.add('flash');
      setTimeout(() => el?.classList.remove('flash'), 1200);
    },
    viewport: () => viewport,
  };
}
