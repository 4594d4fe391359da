import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as D from '../static/js/debug-log.js';
import { preview } from '../static/js/json-tree.js';

const ev = (node, value) => ({ type: 'debug', node, flow: node === 'x' ? 'f1' : 'f2', value });

test('keeps the newest entries up to the limit', () => {
  let log = D.emptyLog(3);
  log = D.append(log, [ev('x', 1), ev('y', 2)]);
  log = D.append(log, [ev('x', 3), ev('x', 4)]);
  assert.deepEqual(log.entries.map((e) => e.value), [2, 3, 4]);
  assert.deepEqual(log.entries.map((e) => e.seq), [2, 3, 4]);
  assert.equal(log.dropped, 1);
  assert.equal(D.append(log, []), log);
  assert.equal(D.emptyLog().limit, 1000);
});

test('pause holds new entries; resume shows them', () => {
  let log = D.append(D.emptyLog(3), [ev('x', 1)]);
  log = D.setPaused(log, true);
  log = D.append(log, [ev('x', 2), ev('x', 3), ev('x', 4), ev('x', 5)]);
  assert.deepEqual(log.entries.map((e) => e.value), [1]);
  assert.deepEqual(log.held.map((e) => e.value), [3, 4, 5]);
  assert.equal(D.setPaused(log, true), log);
  log = D.setPaused(log, false);
  assert.deepEqual(log.entries.map((e) => e.value), [3, 4, 5]);
  assert.deepEqual(log.held, []);
  assert.deepEqual(D.clear(log).entries, []);
});

test('filters by node and by flow', () => {
  const log = D.append(D.emptyLog(), [ev('x', 1), ev('y', 2), ev('x', 3)]);
  assert.equal(D.visible(log.entries, { scope: 'all' }).length, 3);
  assert.deepEqual(D.visible(log.entries, { scope: 'node', node: 'x' }).map((e) => e.value), [1, 3]);
  assert.deepEqual(D.visible(log.entries, { scope: 'flow', flow: 'f2' }).map((e) => e.value), [2]);
});

test('clock time and previews', () => {
  assert.match(D.clockTime('2024-01-02T03:04:05.006Z'), /^\d\d:\d\d:05\.006$/);
  assert.equal(D.clockTime(undefined), '');
  assert.equal(D.clockTime('nonsense'), 'nonsense');
  assert.equal(preview({ a: 1, b: [1, 2], c: { d: 1 }, s: 'x' }), '{a: 1, b: array[2], c: {…}, s: "x"}');
  assert.equal(preview([1, 'two', null]), 'array[3] [1, "two", null]');
  assert.ok(preview({ long: 'x'.repeat(100), more: 1 }).endsWith('…}'));
  assert.equal(preview(null), 'null');
});
