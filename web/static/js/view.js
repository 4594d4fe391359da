// Pure geometry of the canvas: the viewport (pan and zoom), node sizes and port positions, hit
// tests for the rubber band. No DOM; unit-tested in web/tests/view.test.mjs.

/**
 * @typedef {{x: number, y: number, k: number}} Viewport  screen = world * k + (x, y)
 * @typedef {{x: number, y: number, w: number, h: number}} Box
 * @typedef {import('./state.js').FlowNode} FlowNode
 */

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 4;
export const NODE_HEIGHT = 30;
export const PORT_GAP = 20;
export const CHAR_WIDTH = 7;

/** @param {number} k */
export function clampZoom(k) {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k));
}

/** @returns {Viewport} */
export function identity() {
  return { x: 0, y: 0, k: 1 };
}

/** Screen point -> world point. @param {Viewport} v @param {number} sx @param {number} sy */
export function toWorld(v, sx, sy) {
  return { x: (sx - v.x) / v.k, y: (sy - v.y) / v.k };
}

/**
 * Zoom by `factor` keeping the screen point (sx, sy) fixed.
 * @param {Viewport} v @param {number} factor @param {number} sx @param {number} sy @returns {Viewport}
 */
export function zoomAt(v, factor, sx, sy) {
  const k = clampZoom(v.k * factor);
  const world = toWorld(v, sx, sy);
  return { k, x: sx - world.x * k, y: sy - world.y * k };
}

/** @param {Viewport} v @param {number} dx @param {number} dy @returns {Viewport} */
export function pan(v, dx, dy) {
  return { ...v, x: v.x + dx, y: v.y + dy };
}

/**
 * The viewport showing every box inside a screen of width x height, with a margin; never zooms in
 * past 1.
 * @param {Box[]} boxes @param {number} width @param {number} height @param {number} [margin]
 * @returns {Viewport}
 */
export function fit(boxes, width, height, margin = 40) {
  if (!boxes.length || width <= 0 || height <= 0) return identity();
  const left = Math.min(...boxes.map((b) => b.x));
  const top = Math.min(...boxes.map((b) => b.y));
  const right = Math.max(...boxes.map((b) => b.x + b.w));
  const bottom = Math.max(...boxes.map((b) => b.y + b.h));
  const k = clampZoom(Math.min(1, (width - 2 * margin) / Math.max(1, right - left), (height - 2 * margin) / Math.max(1, bottom - top)));
  return { k, x: (width - (right - left) * k) / 2 - left * k, y: (height - (bottom - top) * k) / 2 - top * k };
}

/** The label drawn on a node. @param {FlowNode} node @param {{label?: string}|undefined} type */
export function nodeLabel(node, type) {
  return node.name || type?.label || node.type;
}

/** @param {string} label @param {number} outputs */
export function nodeSize(label, outputs) {
  const w = Math.max(100, Math.ceil((label.length * CHAR_WIDTH + 50) / 20) * 20);
  const h = Math.max(NODE_HEIGHT, outputs * PORT_GAP + 10);
  return { w, h };
}

/** Where output port i sits, relative to the node's top-left corner. @param {number} h @param {number} count @param {number} i */
export function outputPortY(h, count, i) {
  return h / 2 + (i - (count - 1) / 2) * PORT_GAP;
}

/**
 * The SVG path of a wire from (x1, y1) to (x2, y2): a horizontal S curve like Node-RED's.
 * @param {number} x1 @param {number} y1 @param {number} x2 @param {number} y2
 */
export function wirePath(x1, y1, x2, y2) {
  const dx = Math.max(40, Math.abs(x2 - x1) / 2);
  return `M${x1} ${y1}C${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`;
}

/** @param {Box} a @param {Box} b */
export function intersects(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** A box from two corners. @param {{x: number, y: number}} p @param {{x: number, y: number}} q @returns {Box} */
export function boxOf(p, q) {
  return { x: Math.min(p.x, q.x), y: Math.min(p.y, q.y), w: Math.abs(p.x - q.x), h: Math.abs(p.y - q.y) };
}
