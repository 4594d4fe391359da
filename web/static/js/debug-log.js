// The debug sidebar's message buffer, as pure functions (tested in web/tests/debug-log.test.mjs).

/**
 * @typedef {{type: 'debug', node: string, name?: string, flow?: string, time?: string, topic?: string,
 *            property?: string, value?: any, meta?: any}} DebugEvent
 * @typedef {DebugEvent & {seq: number}} DebugEntry
 * @typedef {{entries: DebugEntry[], held: DebugEntry[], paused: boolean, seq: number, limit: number, dropped: number}} DebugLog
 * @typedef {{scope: 'all'|'flow'|'node', flow?: string|null, node?: string|null}} DebugFilter
 */

export const DEBUG_LIMIT = 1000;

/** @param {number} [limit] @returns {DebugLog} */
export function emptyLog(limit = DEBUG_LIMIT) {
  return { entries: [], held: [], paused: false, seq: 0, limit, dropped: 0 };
}

/**
 * Add events; the oldest entries beyond the limit go. While paused, new events wait in `held`
 * (also bounded) and are shown on resume.
 * @param {DebugLog} log @param {DebugEvent[]} events @returns {DebugLog}
 */
export function append(log, events) {
  if (!events.length) return log;
  let seq = log.seq;
  const added = events.map((e) => ({ ...e, seq: ++seq }));
  if (log.paused) {
    const held = [...log.held, ...added];
    const over = Math.max(0, held.length - log.limit);
    return { ...log, seq, held: over ? held.slice(over) : held, dropped: log.dropped + over };
  }
  const entries = [...log.entries, ...added];
  const over = Math.max(0, entries.length - log.limit);
  return { ...log, seq, entries: over ? entries.slice(over) : entries, dropped: log.dropped + over };
}

/** @param {DebugLog} log @param {boolean} paused @returns {DebugLog} */
export function setPaused(log, paused) {
  if (paused === log.paused) return log;
  if (paused) return { ...log, paused: true };
  const resumed = { ...log, paused: false, held: [] };
  const entries = [...log.entries, ...log.held];
  const over = Math.max(0, entries.length - log.limit);
  return { ...resumed, entries: over ? entries.slice(over) : entries, dropped: log.dropped + over };
}

/** @param {DebugLog} log @returns {DebugLog} */
export function clear(log) {
  return { ...log, entries: [], held: [], dropped: 0 };
}

/**
 * The entries a filter shows.
 * @param {DebugEntry[]} entries @param {DebugFilter} filter @returns {DebugEntry[]}
 */
export function visible(entries, filter) {
  if (filter.scope === 'node') return entries.filter((e) => e.node === filter.node);
  if (filter.scope === 'flow') return entries.filter((e) => e.flow === filter.flow);
  return entries;
}

/** "HH:MM:SS.mmm" of an ISO time, in the browser's time zone. @param {string|undefined} iso */
export function clockTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
