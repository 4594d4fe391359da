// The one keyed-list helper: reconcile a container's children with a list of items by key.
//
// vanilla-todo's README warns that keyed reconciliation written by hand in every component is
// "verbose, brittle and repetitive"; every list in the editor (palette entries, nodes, wires, tabs,
// debug messages) goes through this function instead.

/**
 * @template T
 * @typedef {{
 *   key: (item: T) => string,
 *   create: (item: T) => Element,
 *   update?: (el: Element, item: T, previous: T|undefined) => void,
 *   remove?: (el: Element) => void,
 *   ordered?: boolean,
 * }} KeyedOptions
 */

/**
 * Make `container`'s keyed children match `items`: create missing ones, update existing ones
 * (update is skipped when the item is the identical object as last time), remove the rest and,
 * if `ordered`, put them in the items' order. Works on any object with the few DOM methods used
 * (appendChild, insertBefore, removeChild, firstChild/nextSibling), so it is testable in node.
 * @template T
 * @param {Element & {_keyed?: Map<string, {el: Element, item: T}>}} container
 * @param {T[]} items
 * @param {KeyedOptions<T>} options
 * @returns {Map<string, Element>} key -> element
 */
export function keyedList(container, items, options) {
  /** @type {Map<string, {el: Element, item: T}>} */
  const previous = container._keyed || new Map();
  /** @type {Map<string, {el: Element, item: T}>} */
  const next = new Map();
  /** @type {Map<string, Element>} */
  const elements = new Map();
  for (const item of items) {
    const key = options.key(item);
    if (next.has(key)) throw new Error(`keyedList: duplicate key ${key}`);
    const known = previous.get(key);
    let el;
    if (known) {
      el = known.el;
      if (known.item !== item && options.update) options.update(el, item, known.item);
    } else {
      el = options.create(item);
      if (options.update) options.update(el, item, undefined);
      container.appendChild(el);
    }
    next.set(key, { el, item });
    elements.set(key, el);
  }
  for (const [key, { el }] of previous) {
    if (!next.has(key)) {
      if (options.remove) options.remove(el);
      el.parentNode?.removeChild(el);
    }
  }
  if (options.ordered) {
    const members = new Set(elements.values());
    let cursor = /** @type {any} */ (container.firstChild);
    for (const el of elements.values()) {
      while (cursor && !members.has(cursor)) cursor = cursor.nextSibling;
      if (cursor === el) cursor = el.nextSibling;
      else container.insertBefore(el, cursor);
    }
  }
  container._keyed = next;
  return elements;
}
