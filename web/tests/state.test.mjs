import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../static/js/state.js';

/** @type {import('../static/js/state.js').NodeType[]} */
const TYPES = [
  { type: 'inject', category: 'source', label: 'inject', color: '#a6bbcf', inputs: 0, outputs: 1, injectable: true, description: '',
    schema: { type: 'object', properties: { payload: { default: null }, topic: { type: 'string', default: '' } } } },
  { type: 'debug', category: 'sink', label: 'debug', color: '#87a980', inputs: 1, outputs: 0, injectable: false, description: '',
    schema: { type: 'object', properties: { property: { type: 'string', default: 'payload' } } } },
  { type: 'switch', category: 'filter', label: 'switch', color: '#e2d96e', inputs: 1, outputs: 1, injectable: false, description: '',
    schema: { type: 'object', properties: { rules: { type: 'array', items: { type: 'object', properties: { op: { enum: ['=='] } } } } } } },
  { type: 'mqtt-broker', category: 'config', label: 'broker', color: '#ccc', inputs: 0, outputs: 0, injectable: false, description: '',
    schema: { type: 'object', properties: { host: { type: 'string', default: 'localhost' }, password: { type: 'string', writeOnly: true, default: '' },
      tls: { type: 'object', properties: { key: { type: 'string', writeOnly: true } } } } } },
  { type: 'mqtt-out', category: 'sink', label: 'mqtt out', color: '#ccc', inputs: 1, outputs: 0, injectable: false, description: '',
    schema: { type: 'object', properties: { broker: { type: 'string', 'x-node-type': 'mqtt-broker' }, token: { type: 'string', writeOnly: true, default: '' } } } },
];

function doc() {
  return {
    version: 1,
    flows: [{ id: 'f1', label: 'One', disabled: false }, { id: 'f2', label: 'Two', disabled: false }],
    nodes: [
      { id: 'a', type: 'inject', flow: 'f1', name: '', disabled: false, x: 100, y: 100, wires: [['b']], config: { payload: 1, topic: '' } },
      { id: 'b', type: 'switch', flow: 'f1', name: '', disabled: false, x: 300, y: 100, wires: [['c'], []], config: { rules: [{ op: '==' }] } },
      { id: 'c', type: 'debug', flow: 'f1', name: '', disabled: false, x: 500, y: 100, wires: [], config: { property: 'payload' } },
      { id: 'k', type: 'mqtt-broker', flow: null, name: 'local', disabled: false, x: 0, y: 0, wires: [], config: { host: 'h', password: '*****' } },
      { id: 'm', type: 'mqtt-out', flow: 'f2', name: '', disabled: false, x: 100, y: 100, wires: [], config: { broker: 'k', token: 'secret' } },
    ],
  };
}

const fresh = () => S.createState(doc(), { types: TYPES, revision: 3 });

test('createState normalises and picks the first flow', () => {
  const s = S.createState({ flows: [{ id: 'x' }], nodes: [{ id: 1, type: 'debug', flow: 'x' }] }, { types: TYPES });
  assert.equal(s.activeFlow, 'x');
  assert.equal(s.doc.flows[0].label, 'x');
  assert.deepEqual(s.doc.nodes[0], { id: '1', type: 'debug', flow: 'x', name: '', disabled: false, x: 0, y: 0, wires: [], config: {} });
  assert.equal(S.isDirty(s), false);
});

test('addNode fills defaults, snaps, sizes wires, selects, and is undoable', () => {
  let s = fresh();
  s = S.addNode(s, 'inject', 107, 93, { id: 'new' });
  const n = S.findNode(s.doc, 'new');
  assert.deepEqual(n, { id: 'new', type: 'inject', flow: 'f1', name: '', disabled: false, x: 100, y: 100, wires: [[]], config: { payload: null, topic: '' } });
  assert.deepEqual(s.selection, ['new']);
  assert.ok(S.changedNodes(s.doc, s.deployed).has('new'));
  assert.ok(S.isDirty(s));
  s = S.undo(s);
  assert.equal(S.findNode(s.doc, 'new'), undefined);
  assert.deepEqual(s.selection, []);
  s = S.redo(s);
  assert.ok(S.findNode(s.doc, 'new'));
  assert.throws(() => S.addNode(s, 'nope', 0, 0), /unknown node type nope/);
});

test('addNode on an empty document creates a flow; config nodes have no flow', () => {
  let s = S.createState(S.emptyDoc(), { types: TYPES });
  s = S.addNode(s, 'debug', 0, 0);
  assert.equal(s.doc.flows.length, 1);
  assert.equal(s.doc.nodes[0].flow, s.activeFlow);
  s = S.addNode(s, 'mqtt-broker', 0, 0, { id: 'cfg' });
  assert.equal(S.findNode(s.doc, 'cfg')?.flow, null);
  assert.equal(S.visibleNodes(s).length, 1);
});

test('moveNodes keeps unchanged nodes identical; a gesture is one undo step', () => {
  const s0 = fresh();
  let s = S.beginGesture(s0);
  for (let i = 0; i < 10; i++) s = S.moveNodes(s, ['a', 'b'], 3, 1);
  assert.equal(s.past.length, 0);
  assert.equal(s.doc.nodes[2], s0.doc.nodes[2], 'untouched nodes are the same objects');
  s = S.moveNodes(s, ['a', 'b'], 0, 0, { snapTo: true });
  s = S.endGesture(s);
  assert.equal(s.past.length, 1);
  assert.deepEqual([S.findNode(s.doc, 'a')?.x, S.findNode(s.doc, 'a')?.y], [140, 120]);
  assert.deepEqual(S.changedNodes(s.doc, s.deployed), new Set(['a', 'b']));
  s = S.undo(s);
  assert.equal(s.doc, s0.doc);
  // A gesture that changed nothing records nothing.
  assert.equal(S.endGesture(S.beginGesture(s0)).past.length, 0);
});

test('deleteNodes removes wires into them', () => {
  let s = S.select(fresh(), ['b']);
  s = S.deleteNodes(s, s.selection);
  assert.deepEqual(S.findNode(s.doc, 'a')?.wires, [[]]);
  assert.deepEqual(s.selection, []);
  assert.equal(S.deleteNodes(s, ['zzz']), s);
});

test('wires: add, refuse bad ones, delete', () => {
  let s = fresh();
  assert.equal(S.canWire(s, 'a', 0, 'a'), false, 'no self wire');
  assert.equal(S.canWire(s, 'c', 0, 'a'), false, 'debug has no outputs');
  assert.equal(S.canWire(s, 'b', 0, 'a'), false, 'inject has no input');
  assert.equal(S.canWire(s, 'a', 0, 'm'), false, 'other flow');
  assert.equal(S.canWire(s, 'a', 0, 'b'), false, 'already wired');
  s = S.addWire(s, 'b', 1, 'c');
  assert.deepEqual(S.findNode(s.doc, 'b')?.wires, [['c'], ['c']]);
  assert.equal(S.addWire(s, 'b', 1, 'c'), s);
  s = S.deleteWires(s, [{ source: 'b', port: 0, target: 'c' }]);
  assert.deepEqual(S.findNode(s.doc, 'b')?.wires, [[], ['c']]);
  assert.deepEqual(S.wiresOf(s.doc.nodes), [{ source: 'a', port: 0, target: 'b' }, { source: 'b', port: 1, target: 'c' }]);
});

test('updateNode resizes switch outputs and ignores no-op edits', () => {
  let s = fresh();
  s = S.updateNode(s, 'b', { config: { rules: [{ op: '==' }, { op: '==' }] } });
  assert.deepEqual(S.findNode(s.doc, 'b')?.wires, [['c'], [], []]);
  s = S.updateNode(s, 'b', { config: { rules: [] } });
  assert.deepEqual(S.findNode(s.doc, 'b')?.wires, [['c']]);
  const same = S.updateNode(s, 'b', { config: { rules: [] } });
  assert.equal(same, s);
  s = S.updateNode(s, 'a', { name: 'tick', disabled: true });
  assert.equal(S.findNode(s.doc, 'a')?.name, 'tick');
  assert.equal(S.outputCount(undefined, {}), 0);
});

test('selection: replace, add, toggle, all', () => {
  let s = fresh();
  s = S.select(s, ['a']);
  s = S.select(s, ['b'], { add: true });
  assert.deepEqual(s.selection, ['a', 'b']);
  s = S.select(s, ['a'], { toggle: true });
  assert.deepEqual(s.selection, ['b']);
  s = S.selectAll(s);
  assert.deepEqual(s.selection, ['a', 'b', 'c']);
});

test('copy and paste: new ids, internal wires kept, offset, secrets dropped', () => {
  let s = S.select(fresh(), ['a', 'b']);
  s = S.copySelection(s);
  s = S.paste(s);
  assert.equal(s.doc.nodes.length, 7);
  const [p1, p2] = s.selection.map((id) => S.findNode(s.doc, id));
  assert.ok(p1 && p2);
  assert.notEqual(p1.id, 'a');
  assert.equal(p1.type, 'inject');
  assert.deepEqual([p1.x, p1.y], [140, 140]);
  assert.deepEqual(p1.wires, [[p2.id]], 'wire between copied nodes follows the new ids');
  assert.deepEqual(p2.wires, [[], []], 'wire to a node outside the copy is dropped');
  s = S.paste(s, { x: 1000, y: 1000 });
  const q = S.findNode(s.doc, s.selection[0]);
  assert.deepEqual([q?.x, q?.y], [1000, 1000]);
  let t = S.select(S.setActiveFlow(fresh(), 'f2'), ['m']);
  t = S.copySelection(t);
  assert.deepEqual(t.clipboard?.nodes[0].config, { broker: 'k' }, 'no secret on the clipboard');
});

test('cut removes and keeps a clipboard; undo restores', () => {
  let s = S.select(fresh(), ['c']);
  s = S.cutSelection(s);
  assert.equal(S.findNode(s.doc, 'c'), undefined);
  assert.equal(s.clipboard?.nodes.length, 1);
  s = S.undo(s);
  assert.ok(S.findNode(s.doc, 'c'));
});

test('flows: add, rename, disable, delete with their nodes', () => {
  let s = fresh();
  s = S.addFlow(s, 'Three', { id: 'f3' });
  assert.equal(s.activeFlow, 'f3');
  s = S.updateFlow(s, 'f3', { label: 'Drei', disabled: true });
  assert.deepEqual(s.doc.flows[2], { id: 'f3', label: 'Drei', disabled: true });
  s = S.setActiveFlow(s, 'f1');
  s = S.deleteFlow(s, 'f1');
  assert.deepEqual(s.doc.flows.map((f) => f.id), ['f2', 'f3']);
  assert.deepEqual(s.doc.nodes.map((n) => n.id), ['k', 'm']);
  assert.equal(s.activeFlow, 'f2');
  s = S.undo(s);
  assert.equal(s.doc.nodes.length, 5);
});

test('import into the current flow renames clashing ids and follows them in wires and refs', () => {
  let s = fresh();
  const text = JSON.stringify({ version: 1, flows: [{ id: 'f9', label: 'X' }], nodes: [
    { id: 'a', type: 'inject', flow: 'f9', x: 0, y: 0, wires: [['z']], config: {} },
    { id: 'z', type: 'debug', flow: 'f9', x: 200, y: 0, wires: [], config: {} },
    { id: 'k', type: 'mqtt-broker', flow: null, wires: [], config: { host: 'other' } },
    { id: 'q', type: 'mqtt-out', flow: 'f9', x: 0, y: 100, wires: [], config: { broker: 'k' } },
  ] });
  s = S.importNodes(s, text);
  assert.equal(s.doc.nodes.length, 9);
  const imported = s.doc.nodes.slice(5);
  const [a, z, k, q] = imported;
  assert.notEqual(a.id, 'a');
  assert.equal(z.id, 'z', 'no clash, id kept');
  assert.notEqual(k.id, 'k');
  assert.deepEqual(a.wires, [['z']]);
  assert.equal(q.config.broker, k.id);
  assert.equal(a.flow, 'f1');
  assert.equal(k.flow, null);
  assert.deepEqual(s.selection, [a.id, z.id, q.id]);
  assert.equal(s.past.length, 1);
});

test('import into new flows keeps flows apart; one undo step', () => {
  let s = fresh();
  const text = JSON.stringify({ flows: [{ id: 'f1', label: 'One' }, { id: 'g', label: 'Gee' }], nodes: [
    { id: 'x1', type: 'debug', flow: 'f1' }, { id: 'x2', type: 'debug', flow: 'g' },
  ] });
  s = S.importNodes(s, text, { target: 'new' });
  assert.equal(s.doc.flows.length, 4);
  const [n1, n2] = s.doc.nodes.slice(5);
  assert.notEqual(n1.flow, n2.flow);
  assert.equal(s.doc.flows.find((f) => f.id === n2.flow)?.label, 'Gee');
  assert.equal(s.activeFlow, n1.flow);
  assert.equal(s.past.length, 1);
  s = S.undo(s);
  assert.equal(s.doc.flows.length, 2);
  // A bare array into a new flow.
  s = S.importNodes(s, '[{"id":"y","type":"debug"}]', { target: 'new', label: 'Mine' });
  assert.equal(s.doc.flows[2].label, 'Mine');
});

test('parseImport reports bad input', () => {
  assert.throws(() => S.parseImport('{'), /not valid JSON/);
  assert.throws(() => S.parseImport('{"a":1}'), /expected a flow document/);
  assert.throws(() => S.parseImport('[{"id":"x"}]'), /node 0: needs a "type"/);
});

test('export: selection, flow, all; never secrets; referenced config nodes included', () => {
  const s = fresh();
  const all = S.exportDoc(s, 'all');
  assert.equal(all.nodes.length, 5);
  assert.deepEqual(all.nodes.find((n) => n.id === 'k')?.config, { host: 'h' });
  assert.deepEqual(all.nodes.find((n) => n.id === 'm')?.config, { broker: 'k' });
  assert.ok(!JSON.stringify(all).includes('secret'));
  assert.ok(!JSON.stringify(all).includes('*****'));
  const flow = S.exportDoc(S.setActiveFlow(s, 'f2'), 'flow');
  assert.deepEqual(flow.nodes.map((n) => n.id), ['m', 'k']);
  assert.deepEqual(flow.flows, [{ id: 'f2', label: 'Two', disabled: false }]);
  const sel = S.exportDoc(S.select(s, ['b', 'c']), 'selection');
  assert.deepEqual(sel.nodes.map((n) => n.wires), [[['c'], []], []]);
  assert.deepEqual(sel.flows.map((f) => f.id), ['f1']);
  // Round trip: import what was exported into an empty editor gives the same nodes.
  let t = S.createState(S.emptyDoc(), { types: TYPES });
  t = S.importNodes(t, JSON.stringify(all), { target: 'new' });
  const again = S.exportDoc(t, 'all');
  assert.deepEqual(again.nodes.map((n) => [n.id, n.type, n.config]), all.nodes.map((n) => [n.id, n.type, n.config]));
});

test('stripSecrets handles nested secrets', () => {
  const schema = TYPES[3].schema;
  assert.deepEqual(S.stripSecrets(schema, { host: 'h', password: 'p', tls: { key: 'x' } }), { host: 'h', tls: {} });
});

test('markDeployed and loadDoc', () => {
  let s = S.addNode(fresh(), 'debug', 0, 0);
  assert.ok(S.isDirty(s));
  s = S.markDeployed(s, 4);
  assert.equal(S.isDirty(s), false);
  assert.equal(s.revision, 4);
  s = S.updateFlow(s, 'f1', { label: 'renamed' });
  assert.ok(S.isDirty(s), 'a renamed flow is a change to deploy');
  s = S.setActiveFlow(s, 'f2');
  s = S.loadDoc(s, doc(), 7);
  assert.equal(s.revision, 7);
  assert.equal(s.activeFlow, 'f2');
  assert.equal(s.past.length, 0);
});

test('undo history is bounded and redo is cleared by a new edit', () => {
  let s = fresh();
  for (let i = 0; i < S.HISTORY_LIMIT + 20; i++) s = S.moveNodes(s, ['a'], 20, 0);
  assert.equal(s.past.length, S.HISTORY_LIMIT);
  s = S.undo(s);
  assert.equal(s.future.length, 1);
  s = S.moveNodes(s, ['a'], 20, 0);
  assert.equal(s.future.length, 0);
  assert.equal(S.canRedo(s), false);
  assert.equal(S.canUndo(s), true);
});

test('auto-layout: layers left to right, siblings stacked, components apart', () => {
  const nodes = [
    { id: 's', wires: [['t1', 't2']], x: 500, y: 0 },
    { id: 't1', wires: [['e']], x: 0, y: 0 },
    { id: 't2', wires: [['e']], x: 0, y: 300 },
    { id: 'e', wires: [], x: 40, y: 40 },
    { id: 'lone', wires: [], x: 0, y: 900 },
  ].map((n) => ({ type: 'x', flow: 'f', name: '', disabled: false, config: {}, ...n }));
  const p = S.layoutPositions(nodes);
  assert.ok(p.s.x < p.t1.x && p.t1.x === p.t2.x && p.t2.x < p.e.x);
  assert.notEqual(p.t1.y, p.t2.y);
  assert.ok(p.t1.y < p.t2.y, 'order follows the previous vertical order');
  assert.ok(p.lone.y > Math.max(p.t1.y, p.t2.y, p.e.y), 'separate component below');
  for (const { x, y } of Object.values(p)) assert.equal(x % S.GRID + y % S.GRID, 0);
  // A long chain goes straight right; a cycle does not hang.
  const cyc = [{ id: 'a', wires: [['b']] }, { id: 'b', wires: [['a']] }].map((n) => ({ ...nodes[0], ...n }));
  const q = S.layoutPositions(cyc);
  assert.notEqual(q.a.x, q.b.x);
});

test('autoLayout moves only the active flow, as one undo step', () => {
  let s = S.autoLayout(fresh());
  assert.equal(S.findNode(s.doc, 'm')?.x, 100);
  assert.ok((S.findNode(s.doc, 'a')?.x ?? 0) < (S.findNode(s.doc, 'b')?.x ?? 0));
  assert.equal(s.past.length, 1);
});

test('layout of 1000 nodes is quick', () => {
  const nodes = [];
  for (let i = 0; i < 1000; i++) {
    nodes.push({ id: `n${i}`, type: 'x', flow: 'f', name: '', disabled: false, config: {}, x: 0, y: i,
      wires: i % 10 === 9 ? [] : [[`n${i + 1}`]] });
  }
  const started = performance.now();
  const p = S.layoutPositions(nodes);
  assert.equal(Object.keys(p).length, 1000);
  assert.ok(performance.now() - started < 1000);
});

test('auto-layout wraps many small flows into columns', () => {
  const nodes = [];
  for (let c = 0; c < 100; c++) {
    for (let i = 0; i < 10; i++) {
      nodes.push({ id: `c${c}n${i}`, type: 'x', flow: 'f', name: '', disabled: false, config: {}, x: 0, y: c * 10 + i,
        wires: i === 9 ? [] : [[`c${c}n${i + 1}`]] });
    }
  }
  const p = Object.values(S.layoutPositions(nodes));
  const width = Math.max(...p.map((q) => q.x)) - Math.min(...p.map((q) => q.x));
  const height = Math.max(...p.map((q) => q.y)) - Math.min(...p.map((q) => q.y));
  assert.ok(width > height / 3 && height > width / 3, `roughly square: ${width} x ${height}`);
  const seen = new Set(p.map((q) => `${q.x},${q.y}`));
  assert.equal(seen.size, 1000, 'no two nodes on the same spot');
});

test('auto-layout leaves room for wide nodes', () => {
  const nodes = [
    { id: 'a', wires: [['b']], x: 0, y: 0 }, { id: 'b', wires: [['c']], x: 0, y: 0 }, { id: 'c', wires: [], x: 0, y: 0 },
  ].map((n) => ({ type: 'x', flow: 'f', name: '', disabled: false, config: {}, ...n }));
  const p = S.layoutPositions(nodes, {}, (n) => (n.id === 'b' ? 400 : 100));
  assert.equal(p.b.x - p.a.x, 200);
  assert.equal(p.c.x - p.b.x, 500);
});
