import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as V from '../static/js/view.js';

test('zoomAt keeps the point under the cursor still', () => {
  const v = V.zoomAt({ x: 10, y: 20, k: 1 }, 2, 100, 100);
  assert.equal(v.k, 2);
  const before = V.toWorld({ x: 10, y: 20, k: 1 }, 100, 100);
  const after = V.toWorld(v, 100, 100);
  assert.deepEqual(before, after);
  assert.equal(V.zoomAt(v, 1000, 0, 0).k, V.MAX_ZOOM);
  assert.equal(V.zoomAt(v, 0.0001, 0, 0).k, V.MIN_ZOOM);
});

test('pan moves the viewport', () => {
  assert.deepEqual(V.pan({ x: 1, y: 2, k: 3 }, 10, -5), { x: 11, y: -3, k: 3 });
});

test('fit shows every box and never zooms past 1', () => {
  const boxes = [{ x: 0, y: 0, w: 100, h: 30 }, { x: 1900, y: 900, w: 100, h: 30 }];
  const v = V.fit(boxes, 1000, 500);
  assert.ok(v.k < 1);
  for (const b of boxes) {
    const left = b.x * v.k + v.x;
    const right = (b.x + b.w) * v.k + v.x;
    const top = b.y * v.k + v.y;
    const bottom = (b.y + b.h) * v.k + v.y;
    assert.ok(left >= 0 && right <= 1000 && top >= 0 && bottom <= 500);
  }
  assert.equal(V.fit([{ x: 0, y: 0, w: 10, h: 10 }], 1000, 500).k, 1);
  assert.deepEqual(V.fit([], 10, 10), V.identity());
});

test('node size grows with the label and ports; ports are centred', () => {
  assert.deepEqual(V.nodeSize('inject', 1), { w: 100, h: 30 });
  assert.ok(V.nodeSize('a much longer label for this node', 1).w > 100);
  assert.equal(V.nodeSize('switch', 4).h, 90);
  assert.equal(V.outputPortY(30, 1, 0), 15);
  assert.deepEqual([0, 1, 2].map((i) => V.outputPortY(70, 3, i)), [15, 35, 55]);
  assert.equal(V.nodeLabel({ name: '', type: 'debug' }, { label: 'Debug' }), 'Debug');
  assert.equal(V.nodeLabel({ name: 'mine', type: 'debug' }, undefined), 'mine');
});

test('boxes and wires', () => {
  assert.deepEqual(V.boxOf({ x: 10, y: 0 }, { x: 0, y: 10 }), { x: 0, y: 0, w: 10, h: 10 });
  assert.ok(V.intersects({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 5, w: 10, h: 10 }));
  assert.ok(!V.intersects({ x: 0, y: 0, w: 10, h: 10 }, { x: 11, y: 0, w: 10, h: 10 }));
  assert.equal(V.wirePath(0, 0, 100, 50), 'M0 0C50 0 50 50 100 50');
});
