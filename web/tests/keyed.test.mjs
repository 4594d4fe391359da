import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyedList } from '../static/js/keyed.js';

// A tiny stand-in for DOM nodes: just what keyedList uses.
class FakeNode {
  constructor(name) {
    this.name = name;
    this.children = [];
    this.parentNode = null;
  }
  get firstChild() { return this.children[0] || null; }
  get nextSibling() {
    if (!this.parentNode) return null;
    const list = this.parentNode.children;
    return list[list.indexOf(this) + 1] || null;
  }
  appendChild(child) { return this.insertBefore(child, null); }
  insertBefore(child, ref) {
    if (child.parentNode) child.parentNode.removeChild(child);
    const at = ref ? this.children.indexOf(ref) : this.children.length;
    this.children.splice(at, 0, child);
    child.parentNode = this;
    return child;
  }
  removeChild(child) {
    this.children.splice(this.children.indexOf(child), 1);
    child.parentNode = null;
    return child;
  }
}

function render(container, items, log) {
  return keyedList(container, items, {
    key: (i) => i.id,
    create: (i) => { log.push(`create ${i.id}`); return new FakeNode(i.id); },
    update: (el, i) => { log.push(`update ${i.id}`); el.text = i.text; },
    remove: (el) => log.push(`remove ${el.name}`),
    ordered: true,
  });
}

test('creates, updates changed items only, removes and reorders', () => {
  const container = new FakeNode('root');
  const header = new FakeNode('header');
  container.appendChild(header);
  const a = { id: 'a', text: 'A' };
  const b = { id: 'b', text: 'B' };
  const c = { id: 'c', text: 'C' };
  let log = [];
  render(container, [a, b, c], log);
  assert.deepEqual(log, ['create a', 'update a', 'create b', 'update b', 'create c', 'update c']);
  assert.deepEqual(container.children.map((n) => n.name), ['header', 'a', 'b', 'c']);
  log = [];
  const b2 = { id: 'b', text: 'B2' };
  const elements = render(container, [c, b2], log);
  assert.deepEqual(log, ['update b', 'remove a'], 'c is the same object: not touched');
  assert.deepEqual(container.children.map((n) => n.name), ['header', 'c', 'b']);
  assert.equal(elements.get('b').text, 'B2');
  log = [];
  render(container, [c, b2], log);
  assert.deepEqual(log, [], 'idempotent');
});

test('duplicate keys are an error', () => {
  assert.throws(() => render(new FakeNode('r'), [{ id: 'x' }, { id: 'x' }], []), /duplicate key x/);
});
