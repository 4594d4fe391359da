// Pure helpers behind the node edit form (schema-form.js builds the DOM): which widget a JSON
// Schema property gets, how a typed text becomes a value, and where server problems belong.

/**
 * @typedef {'string'|'password'|'code'|'number'|'integer'|'boolean'|'enum'|'array'|'object'|'any'|'node-ref'} Widget
 * @typedef {'string'|'number'|'boolean'|'json'|'null'} ValueKind
 */

/**
 * The widget for one property schema.
 * @param {any} schema @returns {Widget}
 */
export function widgetFor(schema) {
  if (!schema || typeof schema !== 'object') return 'any';
  if (schema['x-node-type']) return 'node-ref';
  if (Array.isArray(schema.enum)) return 'enum';
  if (schema.writeOnly || schema.format === 'password') return 'password';
  const type = Array.isArray(schema.type) ? schema.type.find((/** @type {string} */ t) => t !== 'null') : schema.type;
  if (type === 'string') return schema.format === 'code' || schema.format === 'template' ? 'code' : 'string';
  if (type === 'number') return 'number';
  if (type === 'integer') return 'integer';
  if (type === 'boolean') return 'boolean';
  if (type === 'array') return 'array';
  if (type === 'object') return schema.properties ? 'object' : 'any';
  return 'any';
}

/** The kind of a JSON value, for the typed input of untyped fields. @param {any} value @returns {ValueKind} */
export function kindOf(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

/** The text shown for a value of a kind. @param {any} value @param {ValueKind} kind */
export function textOf(value, kind) {
  if (kind === 'null') return '';
  if (kind === 'json') return JSON.stringify(value, null, 2);
  return String(value);
}

/**
 * The value typed as `text` with `kind`; throws an Error with a reason when it is not one.
 * @param {ValueKind} kind @param {string} text @returns {any}
 */
export function parseTyped(kind, text) {
  if (kind === 'string') return text;
  if (kind === 'null') return null;
  if (kind === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new Error('expected true or false');
  }
  if (kind === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`${JSON.stringify(text)} is not a number`);
    return n;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON: ${/** @type {Error} */ (error).message}`);
  }
}

/**
 * A number field's value: '' means absent (undefined), otherwise a finite number (an integer
 * when `integer`). Throws with a reason otherwise.
 * @param {string} text @param {boolean} integer
 */
export function parseNumber(text, integer) {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${JSON.stringify(text)} is not a number`);
  if (integer && !Number.isInteger(n)) throw new Error(`${n} is not an integer`);
  return n;
}

/** A human title for a property. @param {string} name @param {any} schema */
export function titleOf(name, schema) {
  if (schema && schema.title) return schema.title;
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The config pointer of a problem (server pointers are into the node: "/config/rules/0/op"),
 * or null when it is about the node itself.
 * @param {string} pointer
 */
export function configPointer(pointer) {
  if (pointer === '/config') return '';
  if (pointer.startsWith('/config/')) return pointer.slice('/config'.length);
  return null;
}

/**
 * Group deploy problems by node id; problems without a node go under ''.
 * @param {{node: string|null, pointer: string, reason: string, text: string}[]} problems
 * @returns {Map<string, {node: string|null, pointer: string, reason: string, text: string}[]>}
 */
export function problemsByNode(problems) {
  const map = new Map();
  for (const p of problems || []) {
    const key = p.node || '';
    if (!map.has(key)) map.set(key, []);
    map.get(key).push(p);
  }
  return map;
}

/**
 * Where a config pointer's error is shown: the closest field pointer that exists in the form.
 * "/rules/0/value" with fields ["/rules", "/rules/0", "/rules/0/op"] -> "/rules/0".
 * A "required property" problem at "/rules/0" names the property in its reason; it stays there.
 * @param {string} pointer @param {Iterable<string>} fields
 */
export function fieldFor(pointer, fields) {
  const known = new Set(fields);
  let at = pointer;
  for (;;) {
    if (known.has(at)) return at;
    if (!at) return '';
    at = at.slice(0, at.lastIndexOf('/'));
  }
}

/** JSON pointer escaping of one segment. @param {string|number} segment */
export function escapePointer(segment) {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}
