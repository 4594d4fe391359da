import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../static/js/form-logic.js';

test('widgetFor picks a widget per schema', () => {
  assert.equal(F.widgetFor({ type: 'string' }), 'string');
  assert.equal(F.widgetFor({ type: 'string', writeOnly: true }), 'password');
  assert.equal(F.widgetFor({ type: 'string', format: 'password' }), 'password');
  assert.equal(F.widgetFor({ type: 'string', format: 'code' }), 'code');
  assert.equal(F.widgetFor({ type: 'string', format: 'template' }), 'code');
  assert.equal(F.widgetFor({ type: 'number' }), 'number');
  assert.equal(F.widgetFor({ type: 'integer' }), 'integer');
  assert.equal(F.widgetFor({ type: ['integer', 'null'] }), 'integer');
  assert.equal(F.widgetFor({ type: 'boolean' }), 'boolean');
  assert.equal(F.widgetFor({ enum: [0, 1, 2] }), 'enum');
  assert.equal(F.widgetFor({ type: 'array', items: {} }), 'array');
  assert.equal(F.widgetFor({ type: 'object', properties: {} }), 'object');
  assert.equal(F.widgetFor({ type: 'object' }), 'any');
  assert.equal(F.widgetFor({ description: 'anything' }), 'any');
  assert.equal(F.widgetFor({ type: 'string', 'x-node-type': 'mqtt-broker' }), 'node-ref');
});

test('typed values', () => {
  assert.equal(F.kindOf('x'), 'string');
  assert.equal(F.kindOf(1), 'number');
  assert.equal(F.kindOf(true), 'boolean');
  assert.equal(F.kindOf(null), 'null');
  assert.equal(F.kindOf({ a: 1 }), 'json');
  assert.equal(F.parseTyped('number', '2.5'), 2.5);
  assert.throws(() => F.parseTyped('number', 'abc'), /is not a number/);
  assert.throws(() => F.parseTyped('number', ''), /is not a number/);
  assert.equal(F.parseTyped('boolean', 'false'), false);
  assert.throws(() => F.parseTyped('boolean', 'yes'), /true or false/);
  assert.deepEqual(F.parseTyped('json', '{"a":[1]}'), { a: [1] });
  assert.throws(() => F.parseTyped('json', '{'), /not valid JSON/);
  assert.equal(F.parseTyped('null', 'whatever'), null);
  assert.equal(F.parseTyped('string', ' x '), ' x ');
  assert.equal(F.textOf({ a: 1 }, 'json'), '{\n  "a": 1\n}');
  assert.equal(F.textOf(null, 'null'), '');
  assert.equal(F.parseNumber('', false), undefined);
  assert.equal(F.parseNumber('3', true), 3);
  assert.throws(() => F.parseNumber('3.5', true), /not an integer/);
});

test('titles and pointers', () => {
  assert.equal(F.titleOf('onceDelay', {}), 'Once Delay');
  assert.equal(F.titleOf('x', { title: 'Given' }), 'Given');
  assert.equal(F.configPointer('/config/rules/0/op'), '/rules/0/op');
  assert.equal(F.configPointer('/config'), '');
  assert.equal(F.configPointer('/wires/0'), null);
  assert.equal(F.fieldFor('/rules/0/value', ['', '/rules', '/rules/0', '/rules/0/op']), '/rules/0');
  assert.equal(F.fieldFor('/nope', ['', '/rules']), '');
  assert.equal(F.escapePointer('a/b~c'), 'a~1b~0c');
  const grouped = F.problemsByNode([
    { node: 'n1', pointer: '/config/x', reason: 'r', text: 't' },
    { node: null, pointer: '/flows/0', reason: 'r', text: 't' },
    { node: 'n1', pointer: '/config/y', reason: 'r', text: 't' },
  ]);
  assert.equal(grouped.get('n1')?.length, 2);
  assert.equal(grouped.get('')?.length, 1);
});
