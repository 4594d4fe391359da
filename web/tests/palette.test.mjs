import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupTypes } from '../static/js/palette.js';

const t = (type, category, label = type) => ({ type, category, label, color: '#fff', inputs: 1, outputs: 1, schema: {}, description: '', injectable: false });
const TYPES = [t('debug', 'sink'), t('inject', 'source'), t('mqtt-in', 'source', 'MQTT in'), t('mqtt-out', 'sink', 'MQTT out'), t('mqtt-broker', 'config'), t('switch', 'filter')];

test('groups by category in palette order, without config types', () => {
  assert.deepEqual(groupTypes(TYPES, '').map((g) => [g.category, g.types.map((x) => x.type)]),
    [['source', ['inject', 'mqtt-in']], ['filter', ['switch']], ['sink', ['debug', 'mqtt-out']]]);
});

test('filter matches every word in type, label or category', () => {
  assert.deepEqual(groupTypes(TYPES, 'mqtt').flatMap((g) => g.types.map((x) => x.type)), ['mqtt-in', 'mqtt-out']);
  assert.deepEqual(groupTypes(TYPES, 'MQTT sink').flatMap((g) => g.types.map((x) => x.type)), ['mqtt-out']);
  assert.deepEqual(groupTypes(TYPES, 'nothing'), []);
});
