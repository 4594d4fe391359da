// The client side of flowengine's HTTP API and its event WebSocket (see flowengine/api.py).

/**
 * @typedef {{node: string|null, where: string, pointer: string, reason: string, text: string}} Problem
 * @typedef {{ok: true, revision: number, changes: {started: string[], stopped: string[], rewired: string[]}}
 *   | {ok: false, status: 400, error: string, problems: Problem[]}
 *   | {ok: false, status: 409, error: string, revision: number|null}
 *   | {ok: false, status: number, error: string}} DeployResult
 */

const token = new URLSearchParams(location.search).get('token');

/** @param {RequestInit} [init] @returns {RequestInit} */
function withAuth(init = {}) {
  if (!token) return init;
  return { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } };
}

/** @param {string} path @param {RequestInit} [init] */
async function getJSON(path, init) {
  // The page preloads /api/nodes and /api/flows without credentials other than the cookie; with
  // a token from the address, ask at a different URL so the browser does not hand us that answer.
  const url = token ? `${path}${path.includes('?') ? '&' : '?'}auth=bearer` : path;
  const response = await fetch(url, withAuth(init));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** @returns {Promise<{revision: number|null, document: import('./state.js').Doc}>} */
export function loadFlows() {
  return getJSON('/api/flows');
}

/** @returns {Promise<import('./state.js').NodeType[]>} */
export function loadNodeTypes() {
  return getJSON('/api/nodes');
}

/** Who is signed in: {username, role, via}; via "open" when access is not controlled. */
export async function loadMe() {
  try {
    return await getJSON('/api/me');
  } catch {
    return null; // an older server without /api/me: nothing to show
  }
}

/** @returns {Promise<Record<string, any>>} */
export function loadStatus() {
  return getJSON('/api/status');
}

/**
 * Deploy a document based on `revision`.
 * @param {import('./state.js').Doc} document @param {number|null} revision @param {boolean} force
 * @returns {Promise<DeployResult>}
 */
export async function deploy(document, revision, force = false) {
  const response = await fetch('/api/flows', withAuth({
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ revision, document, force }),
  }));
  let body;
  try {
    body = await response.json();
  } catch {
    body = { error: `HTTP ${response.status}` };
  }
  if (response.ok) return { ok: true, ...body };
  return { ok: false, status: response.status, problems: [], ...body };
}

/** @param {string} id @param {any} [payload] @returns {Promise<{ok: boolean, error?: string}>} */
export async function inject(id, payload) {
  const response = await fetch(`/api/nodes/${encodeURIComponent(id)}/inject`, withAuth({
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: payload === undefined ? '' : JSON.stringify({ payload }),
  }));
  if (response.ok) return { ok: true };
  let reason = `HTTP ${response.status}`;
  try {
    reason = (await response.json()).error || reason;
  } catch { /* not JSON: keep the status */ }
  return { ok: false, error: reason };
}

/**
 * Listen to /api/events; reconnects with back-off. Returns a function that closes it.
 * @param {(event: any) => void} onEvent @param {(connected: boolean) => void} onConnection
 */
export function listen(onEvent, onConnection) {
  let socket = /** @type {WebSocket|null} */ (null);
  let delay = 500;
  let closed = false;
  let timer = 0;
  const open = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    socket = new WebSocket(`${scheme}://${location.host}/api/events${query}`);
    socket.onopen = () => {
      delay = 500;
      onConnection(true);
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        console.error('event stream: not JSON', error);
        return;
      }
      onEvent(event);
    };
    socket.onclose = () => {
      onConnection(false);
      if (closed) return;
      timer = window.setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();
  return () => {
    closed = true;
    window.clearTimeout(timer);
    socket?.close();
  };
}
