// A form generated from a node type's JSON Schema: strings, numbers, integers, booleans, enums,
// arrays, nested objects, secrets (password inputs showing *****), code and template fields
// (monospace text areas), untyped values (a typed input: string, number, boolean, JSON, null), and
// references to config nodes (a select with "add new" and "edit"). The schema is the only source
// of truth: no validation rules of its own beyond "is this a number / JSON"; the server's problems
// are shown inline under the field their pointer names.

import { h } from './dom.js';
import * as F from './form-logic.js';

/**
 * @typedef {{pointer: string, reason: string}} FieldProblem
 * @typedef {{
 *   configNodes: (type: string) => {id: string, label: string}[],
 *   editConfig: (type: string, id: string|null) => Promise<string|null>,
 * }} FormContext
 * @typedef {{el: HTMLElement, read: (errors: FieldProblem[]) => any}} Field
 */

let counter = 0;
const uid = () => `f${++counter}`;

/**
 * Build the form for an object schema and a value.
 * @param {any} schema @param {Record<string, any>} value @param {FormContext} context
 */
export function buildForm(schema, value, context) {
  /** @type {Map<string, HTMLElement>} */
  const fields = new Map();
  const root = objectFields(schema, value || {}, '', context, fields);
  const el = h('div', { class: 'schema-form' }, ...root.children);
  fields.set('', el);

  /** @returns {{value: Record<string, any>, errors: FieldProblem[]}} */
  function read() {
    /** @type {FieldProblem[]} */
    const errors = [];
    const result = root.read(errors);
    return { value: result, errors };
  }

  /** Show problems (pointers into config) under their fields; clears earlier ones. @param {FieldProblem[]} problems */
  function showProblems(problems) {
    for (const field of el.querySelectorAll('.field-error')) {
      field.textContent = '';
      field.closest('.field')?.classList.remove('invalid');
    }
    for (const input of el.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    /** @type {Map<string, string[]>} */
    const byField = new Map();
    for (const p of problems) {
      const at = F.fieldFor(p.pointer, fields.keys());
      const list = byField.get(at) || [];
      const where = p.pointer && p.pointer !== at ? `${p.pointer}: ` : '';
      list.push(`${where}${p.reason}`);
      byField.set(at, list);
    }
    for (const [at, reasons] of byField) {
      const field = /** @type {HTMLElement} */ (fields.get(at));
      const box = at === '' ? el.querySelector(':scope > .form-errors') || el.insertBefore(h('p', { class: 'form-errors field-error', role: 'alert' }), el.firstChild) : field.querySelector(':scope > .field-error');
      if (box) box.textContent = reasons.join('; ');
      field.classList.add('invalid');
      field.querySelector(':scope > .field-control input, :scope > .field-control textarea, :scope > .field-control select, :scope > input, :scope > textarea, :scope > select')
        ?.setAttribute('aria-invalid', 'true');
    }
  }

  return { el, read, showProblems, fields };
}

/**
 * @param {any} schema @param {Record<string, any>} value @param {string} pointer
 * @param {FormContext} context @param {Map<string, HTMLElement>} fields
 * @returns {{children: HTMLElement[], read: (errors: FieldProblem[]) => Record<string, any>}}
 */
function objectFields(schema, value, pointer, context, fields) {
  const required = new Set(schema.required || []);
  /** @type {[string, Field][]} */
  const built = [];
  for (const [name, sub] of Object.entries(schema.properties || {})) {
    built.push([name, field(name, sub, value[name], `${pointer}/${F.escapePointer(name)}`, required.has(name), context, fields)]);
  }
  // Keep values of properties the schema does not list (never lose data on save).
  const unknown = Object.keys(value).filter((k) => !(k in (schema.properties || {})));
  return {
    children: built.map(([, f]) => f.el),
    read(errors) {
      /** @type {Record<string, any>} */
      const result = {};
      for (const k of unknown) result[k] = value[k];
      for (const [name, f] of built) {
        const v = f.read(errors);
        if (v !== undefined) result[name] = v;
      }
      return result;
    },
  };
}

/**
 * One labelled field.
 * @param {string} name @param {any} schema @param {any} value @param {string} pointer
 * @param {boolean} required @param {FormContext} context @param {Map<string, HTMLElement>} fields
 * @returns {Field}
 */
function field(name, schema, value, pointer, required, context, fields) {
  const widget = F.widgetFor(schema);
  const id = uid();
  const title = F.titleOf(String(name), schema);
  const help = schema?.description ? h('p', { class: 'field-help', id: `${id}-help` }, schema.description) : null;
  const error = h('p', { class: 'field-error', role: 'alert', id: `${id}-error` });
  const omit = (/** @type {any} */ v) => v === '' && value === undefined && !required && !(schema && 'default' in schema);
  const describedBy = `${help ? `${id}-help ` : ''}${id}-error`;
  const wrap = (/** @type {HTMLElement} */ control, /** @type {string} */ kind) => {
    const el = h('div', { class: `field field-${kind}`, 'data-pointer': pointer, 'data-name': name },
      h('label', { for: id }, title, required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null),
      control, help, error);
    fields.set(pointer, el);
    return el;
  };

  if (widget === 'string' || widget === 'password') {
    const input = /** @type {HTMLInputElement} */ (h('input', {
      id, name, type: widget === 'password' ? 'password' : 'text', value: value ?? '',
      autocomplete: widget === 'password' ? 'new-password' : 'off', 'aria-describedby': describedBy,
      spellcheck: 'false',
    }));
    return { el: wrap(input, widget), read: () => (omit(input.value) ? undefined : input.value) };
  }
  if (widget === 'code') {
    const area = /** @type {HTMLTextAreaElement} */ (h('textarea', {
      id, name, class: 'code', rows: 8, spellcheck: 'false', 'aria-describedby': describedBy, wrap: 'off',
    }));
    area.value = value ?? '';
    area.addEventListener('keydown', (event) => {
      if (event.key === 'Tab' && !event.shiftKey) {
        event.preventDefault();
        area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
      }
    });
    return { el: wrap(area, 'code'), read: () => (omit(area.value) ? undefined : area.value) };
  }
  if (widget === 'number' || widget === 'integer') {
    const input = /** @type {HTMLInputElement} */ (h('input', {
      id, name, type: 'number', step: widget === 'integer' ? '1' : 'any', value: value ?? '',
      min: schema.minimum, max: schema.maximum, 'aria-describedby': describedBy,
    }));
    return {
      el: wrap(input, widget),
      read: (errors) => {
        try {
          if (input.validity.badInput) throw new Error('not a number');
          return F.parseNumber(input.value, widget === 'integer');
        } catch (e) {
          errors.push({ pointer, reason: /** @type {Error} */ (e).message });
          return value;
        }
      },
    };
  }
  if (widget === 'boolean') {
    const input = /** @type {HTMLInputElement} */ (h('input', { id, name, type: 'checkbox', checked: !!value, 'aria-describedby': describedBy }));
    return { el: wrap(input, 'boolean'), read: () => (value === undefined && !input.checked && !required && !('default' in schema) ? undefined : input.checked) };
  }
  if (widget === 'enum') {
    const options = /** @type {any[]} */ (schema.enum);
    const select = /** @type {HTMLSelectElement} */ (h('select', { id, name, 'aria-describedby': describedBy }));
    const absent = value === undefined || !options.some((o) => JSON.stringify(o) === JSON.stringify(value));
    if (absent) select.append(h('option', { value: '' }, value === undefined ? '—' : `${JSON.stringify(value)} (not allowed)`));
    options.forEach((o, i) => select.append(h('option', { value: String(i) }, typeof o === 'string' ? o : JSON.stringify(o))));
    const index = options.findIndex((o) => JSON.stringify(o) === JSON.stringify(value));
    select.value = index >= 0 ? String(index) : '';
    return { el: wrap(select, 'enum'), read: () => (select.value === '' ? value : options[Number(select.value)]) };
  }
  if (widget === 'node-ref') return nodeRefField(name, schema, value, pointer, required, context, { id, wrap, describedBy });
  if (widget === 'array') return arrayField(schema, value, pointer, context, fields, { id, title, help, error, name });
  if (widget === 'object') {
    const inner = objectFields(schema, value && typeof value === 'object' ? value : {}, pointer, context, fields);
    const fieldset = h('fieldset', { class: 'field field-object', 'data-pointer': pointer, 'data-name': name },
      h('legend', {}, title), help, error, ...inner.children);
    fields.set(pointer, fieldset);
    return {
      el: fieldset,
      read: (errors) => {
        const v = inner.read(errors);
        return value === undefined && !required && !Object.keys(v).length ? undefined : v;
      },
    };
  }
  return typedField(schema, value, pointer, required, { id, wrap, describedBy });
}

/**
 * A value of any JSON type: a kind selector and a text box.
 * @param {any} schema @param {any} value @param {string} pointer @param {boolean} required
 * @param {{id: string, wrap: (c: HTMLElement, k: string) => HTMLElement, describedBy: string}} parts
 * @returns {Field}
 */
function typedField(schema, value, pointer, required, parts) {
  const optional = !required && !(schema && 'default' in schema);
  const initialKind = value === undefined && optional ? 'unset' : F.kindOf(value);
  const kinds = [['string', 'string'], ['number', 'number'], ['boolean', 'boolean'], ['json', 'JSON'], ['null', 'null']];
  if (optional) kinds.unshift(['unset', '— not set —']);
  const kind = /** @type {HTMLSelectElement} */ (h('select', { class: 'typed-kind', 'aria-label': 'Value type' },
    ...kinds.map(([v, label]) => h('option', { value: v }, label))));
  kind.value = initialKind;
  const input = /** @type {HTMLTextAreaElement} */ (h('textarea', {
    id: parts.id, class: 'typed-text', rows: 1, spellcheck: 'false', 'aria-describedby': parts.describedBy,
  }));
  input.value = initialKind === 'unset' ? '' : F.textOf(value, /** @type {any} */ (initialKind));
  const sync = () => {
    input.hidden = kind.value === 'null' || kind.value === 'unset';
    input.rows = kind.value === 'json' ? 4 : 1;
    input.classList.toggle('code', kind.value === 'json');
  };
  kind.addEventListener('change', sync);
  sync();
  const control = h('div', { class: 'field-control typed' }, kind, input);
  return {
    el: parts.wrap(control, 'any'),
    read: (errors) => {
      if (kind.value === 'unset') return undefined;
      try {
        return F.parseTyped(/** @type {F.ValueKind} */ (kind.value), input.value);
      } catch (e) {
        errors.push({ pointer, reason: /** @type {Error} */ (e).message });
        return value;
      }
    },
  };
}

/**
 * A reference to a config node: pick an existing one, add a new one, or edit the chosen one.
 * @param {string} name @param {any} schema @param {any} value @param {string} pointer @param {boolean} required
 * @param {FormContext} context
 * @param {{id: string, wrap: (c: HTMLElement, k: string) => HTMLElement, describedBy: string}} parts
 * @returns {Field}
 */
function nodeRefField(name, schema, value, pointer, required, context, parts) {
  const type = schema['x-node-type'];
  const select = /** @type {HTMLSelectElement} */ (h('select', { id: parts.id, name, 'aria-describedby': parts.describedBy }));
  const edit = h('button', { type: 'button', class: 'config-edit', 'aria-label': `Edit ${type}`, title: `Edit the selected ${type}` }, '✎');
  const fill = (/** @type {string} */ chosen) => {
    const options = [h('option', { value: '' }, '— none —')];
    for (const n of context.configNodes(type)) options.push(h('option', { value: n.id }, n.label));
    if (chosen && !context.configNodes(type).some((n) => n.id === chosen)) options.push(h('option', { value: chosen }, `${chosen} (missing)`));
    options.push(h('option', { value: '__new__' }, `Add new ${type}…`));
    select.replaceChildren(...options);
    select.value = chosen || '';
    edit.toggleAttribute('disabled', !select.value);
  };
  fill(value || '');
  let previous = select.value;
  const open = async (/** @type {string|null} */ id) => {
    const result = await context.editConfig(type, id);
    fill(result || (id ? '' : previous));
    previous = select.value;
  };
  select.addEventListener('change', () => {
    if (select.value === '__new__') open(null);
    else {
      previous = select.value;
      edit.toggleAttribute('disabled', !select.value);
    }
  });
  edit.addEventListener('click', () => select.value && open(select.value));
  const control = h('div', { class: 'field-control node-ref' }, select, edit);
  return {
    el: parts.wrap(control, 'node-ref'),
    read: () => (select.value === '' || select.value === '__new__' ? (required ? '' : undefined) : select.value),
  };
}

/**
 * A list of items, each a field of the item schema, with add and remove buttons.
 * @param {any} schema @param {any} value @param {string} pointer @param {FormContext} context
 * @param {Map<string, HTMLElement>} fields
 * @param {{id: string, title: string, help: HTMLElement|null, error: HTMLElement, name: string}} parts
 * @returns {Field}
 */
function arrayField(schema, value, pointer, context, fields, parts) {
  const itemSchema = schema.items && typeof schema.items === 'object' ? schema.items : {};
  const list = h('ol', { class: 'array-items' });
  /** @type {{li: HTMLElement, field: Field}[]} */
  const items = [];
  // "Rules" -> "Rule 1", "Rule 2", ... unless the item schema has its own title.
  const singular = itemSchema.title || (/s$/.test(parts.title) && parts.title.length > 2 ? parts.title.slice(0, -1) : 'Item');
  const addItem = (/** @type {any} */ item, /** @type {number} */ index) => {
    const f = field(`${singular} ${index + 1}`, { ...itemSchema, title: `${singular} ${index + 1}` }, item, `${pointer}/${index}`, true, context, fields);
    const remove = h('button', { type: 'button', class: 'array-remove', 'aria-label': `Remove item ${index + 1}`, title: 'Remove' }, '×');
    const li = h('li', { class: 'array-item' }, f.el, remove);
    const entry = { li, field: f };
    remove.addEventListener('click', () => {
      items.splice(items.indexOf(entry), 1);
      li.remove();
    });
    items.push(entry);
    list.append(li);
  };
  (Array.isArray(value) ? value : []).forEach(addItem);
  const add = h('button', { type: 'button', class: 'array-add', 'aria-label': `Add to ${parts.title}` }, '+ add');
  add.addEventListener('click', () => {
    const blank = itemSchema.type === 'object' ? {} : itemSchema.default !== undefined ? structuredClone(itemSchema.default) : itemSchema.type === 'string' ? '' : undefined;
    addItem(blank, items.length);
    const first = /** @type {HTMLElement|null} */ (list.lastElementChild?.querySelector('input, select, textarea'));
    first?.focus();
  });
  const fieldset = h('fieldset', { class: 'field field-array', 'data-pointer': pointer, 'data-name': parts.name },
    h('legend', {}, parts.title), parts.help, parts.error, list, add);
  fields.set(pointer, fieldset);
  return {
    el: fieldset,
    read: (errors) => {
      if (value === undefined && !items.length && !('default' in schema)) return undefined;
      return items.map((entry) => entry.field.read(errors));
    },
  };
}
