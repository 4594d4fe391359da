"""Connectors and connections (seed 004) as views over the deployed flow document.

- A **connector** is a node type that talks to the outside: category ``config`` (a broker), ``source``
  or ``sink``. ``GET /api/connectors`` lists them in the seed's shape; ``configurationSchema`` is the
  node type's JSON Schema, the one validation and the editor use. Only ``config`` connectors
  (``connectable: true``) can be instantiated as connections: sources and sinks live in flows and
  refer to a connection.
- A **connection** is a config node of the deployed document (``flow: null``): its id, type
  (``connectorId``), name, ``active`` (= not ``disabled``) and ``configuration`` (= ``config``).
  Creating, changing or deleting one edits the current document and deploys it through the
  :class:`~flowengine.deployer.Deployer`, as a new revision: validation, secret masking (``*****``;
  a ``*****`` sent back keeps the stored secret), encryption at rest and rollback all apply
  unchanged. Setting ``active`` false stops the node (the runtime closes its connection); true
  starts it again.
- ``PUT`` takes any subset of ``name``, ``active``, ``configuration``, ``alarms`` and
  ``chainedWithConnectionIds``; what it leaves out is kept. A ``configuration`` replaces the whole
  configuration (with ``*****`` keeping a secret).
- ``state`` is derived from the node's runtime state and status: ``OPENED`` (running; for a node
  that reports a connection state, connected), ``CONNECTING`` (starting, or reconnecting),
  ``ERROR`` (start failing, or disconnected / red status), ``CLOSED`` (inactive or stopped).
  ``startupTime`` is the time of the status that reported it open (``null`` when not open or
  when the node type reports no status).
- ``alarms`` and ``chainedWithConnectionIds`` are not part of a node's config (its schema is
  closed), so they are kept in the store table ``connection_settings`` by connection id; they are
  not versioned with the document revisions. See :mod:`flowengine.alarms`.
- ``chainedWithConnectionIds``: the connections (of the same connector) this one fails over to,
  in order. They must exist, be of the same connector and not be the connection itself; a chained
  connection cannot be deleted. **Fail-over**: when an active connection has not been ``OPENED``
  for ``failover_after`` seconds (30 by default; checked on every monitor tick, 15 s), every node
  that uses it is re-pointed to the first chained connection that is ``OPENED``, by deploying the
  edited document as a new revision (note ``fail-over: ...``), and a ``{"type": "failover",
  "event": "failed-over", ...}`` event is published. The connection keeps running (and
  reconnecting); once it is ``OPENED`` again the moved nodes that still point to the fail-over
  connection are put back (``"event": "restored"``). The view's ``failover`` is
  ``{"to", "nodes", "since"}`` while failed over, else ``null``; the record is kept in the store
  table ``connection_failover``, so it survives a restart. An inactive connection does not fail
  over (deactivating is deliberate). Since the document changes, an editor open meanwhile gets a
  revision conflict on its next deploy and reloads.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowengine import __version__
from flowengine.alarms import AlarmMonitor, AlarmRule
from flowengine.deployer import Conflict, Deployer
from flowengine.node import Node
from flowengine.registry import Registry
from flowengine.schema import mask, node_refs, redact
from flowengine.store import merge_secrets, split_secrets
from flowengine.types import Document, JSONObject
from flowengine.validation import InvalidDocument, Problem

CONNECTOR_CATEGORIES = ("config", "source", "sink")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
FIELDS = ("id", "connectorId", "name", "active", "configuration", "alarms", "chainedWithConnectionIds")


class Refused(Exception):
    """A request the connections API refuses: ``status`` is the HTTP status to answer."""

    status = 400

    def __init__(self, text: str, **extra: Any) -> None:
        super().__init__(text)
        self.text = text
        self.extra = extra


class NotFound(Refused):
    status = 404


class InUse(Refused):
    status = 409


class Invalid(Refused):
    status = 400

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("invalid connection", problems=problems)


def connector_info(node_type: type[Node]) -> dict[str, Any]:
    """One connector in the shape of seed 004's ``GET /connectors``."""
    return {
        "id": node_type.type,
        "producerId": "flowengine",
        "moduleId": node_type.type,
        "version": __version__,
        "description": node_type.describe().split("\n\n")[0],
        "logo": None,
        "beta": None,
        "urlDoc": None,
        "category": node_type.category,
        "connectable": node_type.category == "config",
        "connection": {"configurationSchema": node_type.schema},
    }


def connectors(registry: Registry) -> list[dict[str, Any]]:
    return [connector_info(t) for t in registry if t.category in CONNECTOR_CATEGORIES]


def redact_problems(problems: list[Problem], document: Document, registry: Registry) -> list[Problem]:
    """Problems whose reasons no longer carry any secret of ``document``."""
    nodes = {n.get("id"): n for n in document.get("nodes", []) if isinstance(n, dict)}
    redacted = []
    for problem in problems:
        node = nodes.get(problem.node_id, {})
        node_type = registry.get(node.get("type"))  # type: ignore[arg-type]
        reason = problem.reason if node_type is None else redact(problem.reason, node_type.schema, node.get("config"))
        redacted.append(Problem(problem.where, problem.pointer, reason, problem.node_id))
    return redacted


def connection_state(entry: JSONObject | None) -> str:
    """OPENED / CONNECTING / ERROR / CLOSED from a runtime snapshot entry."""
    if entry is None:
        return "CLOSED"
    state = entry.get("state")
    status = entry.get("status") or {}
    if state in ("disabled", "stopped", "stopping"):
        return "CLOSED"
    if state == "failed":
        return "ERROR"
    if state in ("created", "starting"):
        return "CONNECTING"
    reported = status.get("state")
    if reported in ("connected", "open", "opened"):
        return "OPENED"
    if reported == "connecting":
        return "CONNECTING"
    if reported in ("disconnected", "error"):
        return "ERROR"
    if reported == "closed":
        return "CLOSED"
    return "ERROR" if status.get("color") == "red" else "OPENED"


class Connections:
    """The connections API's logic over one deployer; also owns the alarm monitor."""

    def __init__(self, deployer: Deployer, interval: float = 15.0, failover_after: float = 30.0, revisions: bool = True) -> None:
        self.deployer = deployer
        self.revisions = revisions
        """Edits deploy through the deployer as revisions (``serve``); else straight to the runtime
        (headless ``run``, whose document is a file and not a stored revision)."""
        self.failover_after = timedelta(seconds=failover_after)
        """How long a connection must have been down before its nodes move to a chained one."""
        self.runtime = deployer.runtime
        self.registry = deployer.runtime.registry
        self.table = deployer.store.db["connection_settings"]
        self.table.create({"id": str, "alarms": str, "chained": str}, pk="id", if_not_exists=True)  # type: ignore[union-attr]
        self._lock = asyncio.Lock()
        self._parsed: dict[str, tuple[str, list[AlarmRule]]] = {}
        self.failovers = deployer.store.db["connection_failover"]
        self.failovers.create({"id": str, "target": str, "nodes": str, "since": str}, pk="id", if_not_exists=True)  # type: ignore[union-attr]
        self._down_since: dict[str, datetime] = {}
        self.alarms = AlarmMonitor(self.runtime.clock, self.runtime.events, self._rules, self._uplinks, interval, tick=self.failover)

    # -- reading ----------------------------------------------------------------------------

    def _document(self) -> tuple[int | None, Document]:
        """The document to view and edit: the deployed revision (``serve``), or what runs (``run``)."""
        if not self.revisions:
            return None, json.loads(json.dumps(self.runtime.document))
        revision, document = self.deployer.current()
        return revision, json.loads(json.dumps(document))

    def _is_connection(self, node: JSONObject) -> bool:
        node_type = self.registry.get(node.get("type"))  # type: ignore[arg-type]
        return node_type is not None and node_type.category == "config"

    def _settings(self, connection_id: str) -> tuple[list[Any], list[str]]:
        row = next(self.table.rows_where("id = ?", [connection_id]), None)
        if row is None:
            return [], []
        return json.loads(row["alarms"]), json.loads(row["chained"])

    def users(self, document: Document, connection_id: str) -> list[JSONObject]:
        """The nodes whose config refers to ``connection_id``."""
        found = []
        for node in document.get("nodes", []):
            node_type = self.registry.get(node.get("type"))
            if node_type is None:
                continue
            config = node.get("config") or {}
            if any(config.get(prop) == connection_id for prop in node_refs(node_type.schema)):
                found.append({"id": node["id"], "type": node["type"], "name": node.get("name", ""), "flow": node.get("flow")})
        return found

    def _view(self, node: JSONObject, document: Document, snapshot: dict[str, JSONObject]) -> dict[str, Any]:
        node_type = self.registry[node["type"]]
        entry = snapshot.get(node["id"])
        state = connection_state(entry)
        status = (entry or {}).get("status") or {}
        alarms, chained = self._settings(node["id"])
        record = next(self.failovers.rows_where("id = ?", [node["id"]]), None)
        failover = None if record is None else {"to": record["target"], "nodes": json.loads(record["nodes"]), "since": record["since"]}
        return {
            "id": node["id"],
            "connectorId": node["type"],
            "name": node.get("name", ""),
            "active": not node.get("disabled", False),
            "configuration": mask(node_type.schema, node.get("config") or {}),
            "state": state,
            "startupTime": status.get("time") if state == "OPENED" else None,
            "status": {"text": status.get("text", ""), "color": status.get("color", "grey")},
            "lastError": (entry or {}).get("last_error"),
            "alarms": alarms,
            "alarmStatus": self.alarms.for_connection(node["id"]),
            "chainedWithConnectionIds": chained,
            "failover": failover,
            "usedBy": self.users(document, node["id"]),
        }

    def all(self) -> list[dict[str, Any]]:
        _, document = self._document()
        snapshot = self.runtime.snapshot()
        return [self._view(n, document, snapshot) for n in document.get("nodes", []) if self._is_connection(n)]

    def get(self, connection_id: str) -> dict[str, Any]:
        _, document = self._document()
        return self._view(self._find(document, connection_id), document, self.runtime.snapshot())

    def _find(self, document: Document, connection_id: str) -> JSONObject:
        for node in document.get("nodes", []):
            if node.get("id") == connection_id and self._is_connection(node):
                return node  # type: ignore[no-any-return]
        raise NotFound(f"no connection {connection_id}")

    # -- writing ----------------------------------------------------------------------------

    async def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid([{"path": "/", "reason": "expected a connection object"}])
        async with self._lock:
            _, document = self._document()
            problems = _unknown_fields(body)
            connection_id = body.get("id")
            if connection_id is None:
                connection_id = f"c-{uuid.uuid4().hex[:10]}"
            elif not isinstance(connection_id, str) or not ID_PATTERN.match(connection_id):
                problems.append({"path": "/id", "reason": "expected 1 to 64 letters, digits, '_', '.' or '-'"})
            elif any(n.get("id") == connection_id for n in document.get("nodes", [])):
                raise InUse(f"a node with id {connection_id} already exists")
            connector = body.get("connectorId")
            node_type = self.registry.get(connector) if isinstance(connector, str) else None
            if node_type is None:
                problems.append({"path": "/connectorId", "reason": f"unknown connector {connector!r}; see GET /api/connectors"})
            elif node_type.category != "config":
                configs = ", ".join(t.type for t in self.registry if t.category == "config")
                problems.append({"path": "/connectorId", "reason": f"{connector} is a {node_type.category} node type: place it in a flow; "
                                 f"a connection is made of a config connector ({configs})"})
            node: JSONObject = {"id": connection_id, "type": connector, "flow": None, "name": "", "disabled": False, "config": {}, "wires": []}
            alarms, chained = self._apply(node, body, document, problems, creating=True)
            if problems:
                raise Invalid(problems)
            document.setdefault("nodes", []).append(node)
            await self._deploy(document, node, f"connection {connection_id} created")
            self._save_settings(connection_id, alarms, chained)
        return self.get(connection_id)

    async def update(self, connection_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid([{"path": "/", "reason": "expected a connection object"}])
        async with self._lock:
            _, document = self._document()
            node = self._find(document, connection_id)
            problems = _unknown_fields(body)
            for key, actual in (("id", connection_id), ("connectorId", node["type"])):
                if key in body and body[key] != actual:
                    problems.append({"path": f"/{key}", "reason": f"cannot be changed (it is {actual!r})"})
            alarms, chained = self._apply(node, body, document, problems, creating=False)
            if problems:
                raise Invalid(problems)
            await self._deploy(document, node, f"connection {connection_id} changed")
            self._save_settings(connection_id, alarms, chained)
        return self.get(connection_id)

    async def delete(self, connection_id: str) -> None:
        async with self._lock:
            _, document = self._document()
            self._find(document, connection_id)
            users = self.users(document, connection_id)
            chaining = [n["id"] for n in document.get("nodes", []) if self._is_connection(n)
                        and connection_id in self._settings(n["id"])[1]]
            if users or chaining:
                names = ", ".join([f"{u['id']} ({u['type']})" for u in users] + [f"{c} (chains it)" for c in chaining])
                raise InUse(f"connection {connection_id} is used by {names}", usedBy=users, chainedBy=chaining)
            document["nodes"] = [n for n in document["nodes"] if n.get("id") != connection_id]
            await self._deploy(document, None, f"connection {connection_id} deleted")
            self.table.delete_where("id = ?", [connection_id])  # type: ignore[union-attr]
            self.failovers.delete_where("id = ?", [connection_id])  # type: ignore[union-attr]
            self.alarms.changed()

    def _apply(self, node: JSONObject, body: JSONObject, document: Document, problems: list[dict[str, str]],
               creating: bool) -> tuple[list[Any], list[str]]:
        """Copy the body's fields onto the node; returns the alarms and chain to store."""
        alarms, chained = ([], []) if creating else self._settings(node["id"])
        if "name" in body:
            if isinstance(body["name"], str) and len(body["name"]) <= 200:
                node["name"] = body["name"]
            else:
                problems.append({"path": "/name", "reason": "expected a string of at most 200 characters"})
        elif creating:
            node["name"] = str(body.get("connectorId", ""))
        if "active" in body:
            if isinstance(body["active"], bool):
                node["disabled"] = not body["active"]
            else:
                problems.append({"path": "/active", "reason": "expected true or false"})
        if "configuration" in body:
            if isinstance(body["configuration"], dict):
                node["config"] = body["configuration"]
            else:
                problems.append({"path": "/configuration", "reason": "expected an object"})
        if "alarms" in body:
            if not isinstance(body["alarms"], list):
                problems.append({"path": "/alarms", "reason": "expected a list of alarms"})
            else:
                for index, alarm in enumerate(body["alarms"]):
                    problems.extend({"path": p, "reason": r} for p, r in AlarmRule.parse(alarm, f"/alarms/{index}")[1])
                alarms = body["alarms"]
        if "chainedWithConnectionIds" in body:
            chained = self._check_chain(node, body["chainedWithConnectionIds"], document, problems)
        return alarms, chained

    def _check_chain(self, node: JSONObject, value: Any, document: Document, problems: list[dict[str, str]]) -> list[str]:
        if not isinstance(value, list):
            problems.append({"path": "/chainedWithConnectionIds", "reason": "expected a list of connection ids"})
            return []
        chained: list[str] = []
        known = {n["id"]: n for n in document.get("nodes", []) if self._is_connection(n)}
        for index, item in enumerate(value):
            at = f"/chainedWithConnectionIds/{index}"
            other = str(item) if isinstance(item, str | int) and not isinstance(item, bool) else None
            if other is None or other not in known:
                problems.append({"path": at, "reason": f"no connection {item!r}"})
            elif other == node["id"]:
                problems.append({"path": at, "reason": "a connection cannot be chained with itself"})
            elif known[other]["type"] != node["type"]:
                problems.append({"path": at, "reason": f"connection {other} is a {known[other]['type']}, not a {node['type']}"})
            elif other in chained:
                problems.append({"path": at, "reason": f"connection {other} is listed twice"})
            else:
                chained.append(other)
        return chained

    async def _deploy(self, document: Document, node: JSONObject | None, note: str) -> None:
        if not self.revisions:  # headless run: no revisions; ***** keeps what runs
            merge_secrets(document, split_secrets(self.runtime.document, self.registry)[1])
            try:
                await self.runtime.deploy(document)
            except InvalidDocument as exc:
                raise Invalid(self._problems(exc.problems, document, node)) from None
            return
        revision = self.deployer.store.latest_revision()
        for _ in range(2):
            try:
                await self.deployer.deploy(document, revision, note=note)
                return
            except Conflict as exc:  # someone deployed meanwhile; our edit is on the document we read
                revision = exc.current
            except InvalidDocument as exc:
                raise Invalid(self._problems(exc.problems, document, node)) from None
        raise Refused("the document keeps changing; try again")  # pragma: no cover

    def _problems(self, problems: list[Problem], document: Document, node: JSONObject | None) -> list[dict[str, str]]:
        result = []
        for problem in redact_problems(problems, document, self.registry):
            if node is not None and problem.node_id == node["id"]:
                pointer = problem.pointer
                for prefix, replacement in (("/config", "/configuration"), ("/disabled", "/active")):
                    if pointer == prefix or pointer.startswith(prefix + "/"):
                        pointer = replacement + pointer[len(prefix):]
                result.append({"path": pointer, "reason": problem.reason})
            else:
                result.append({"path": f"{problem.where}: {problem.pointer}", "reason": problem.reason})
        return result

    def _save_settings(self, connection_id: str, alarms: list[Any], chained: list[str]) -> None:
        self.table.upsert({"id": connection_id, "alarms": json.dumps(alarms), "chained": json.dumps(chained)}, pk="id")  # type: ignore[union-attr]
        self.alarms.changed()

    # -- fail-over ---------------------------------------------------------------------------

    async def failover(self, now: datetime | None = None) -> None:
        """Move the nodes of a connection down for ``failover_after`` to its first open chained
        connection (a new revision); move them back once it is open again. Called on every tick
        of the monitor."""
        now = self.runtime.clock.now() if now is None else now
        document = self.runtime.document
        snapshot = self.runtime.snapshot()
        connections = {n["id"]: n for n in document.get("nodes", []) if self._is_connection(n)}
        state = {cid: connection_state(snapshot.get(cid)) for cid in connections}
        for cid, node in connections.items():
            if state[cid] == "OPENED" or node.get("disabled"):
                self._down_since.pop(cid, None)
            else:
                self._down_since.setdefault(cid, now)
        chains = {row["id"]: json.loads(row["chained"]) for row in self.table.rows}
        records = {row["id"]: row for row in self.failovers.rows}
        moves: dict[str, tuple[str, str]] = {}
        updates: list[dict[str, str]] = []
        cleared: list[str] = []
        events: list[dict[str, Any]] = []
        for cid, chained in chains.items():
            if cid not in connections:
                continue
            record = records.get(cid)
            current = record["target"] if record else cid
            nodes = json.loads(record["nodes"]) if record else [u["id"] for u in self.users(document, cid)]
            if record is not None and state[cid] == "OPENED":
                moves.update({node_id: (current, cid) for node_id in nodes})
                cleared.append(cid)
                events.append({"event": "restored", "connection": cid, "from": current, "to": cid, "nodes": nodes})
                continue
            down = self._down_since.get(cid)
            if down is None or now - down < self.failover_after or not nodes:
                continue
            if record is not None and state.get(current) == "OPENED":
                continue  # still carried by the connection it failed over to
            target = next((c for c in chained if c in connections and state[c] == "OPENED"), None)
            if target is None or target == current:
                continue
            moves.update({node_id: (current, target) for node_id in nodes})
            updates.append({"id": cid, "target": target, "nodes": json.dumps(nodes),
                            "since": record["since"] if record else now.isoformat()})
            events.append({"event": "failed-over", "connection": cid, "from": current, "to": target, "nodes": nodes})
        if not moves:
            return
        async with self._lock:
            _, edited = self._document()
            for node in edited.get("nodes", []):
                move = moves.get(node.get("id"))
                node_type = self.registry.get(node.get("type"))
                if move is None or node_type is None or not isinstance(node.get("config"), dict):
                    continue
                for prop in node_refs(node_type.schema):
                    if node["config"].get(prop) == move[0]:
                        node["config"][prop] = move[1]
            note = "; ".join(f"fail-over: {e['connection']} {e['event']}, {', '.join(e['nodes'])} now on {e['to']}" for e in events)
            await self._deploy(edited, None, note)
        for update in updates:
            self.failovers.upsert(update, pk="id")  # type: ignore[union-attr]
        for cid in cleared:
            self.failovers.delete_where("id = ?", [cid])  # type: ignore[union-attr]
        for event in events:
            self.runtime.events.publish({"type": "failover", **event, "time": now.isoformat()})

    # -- for the alarm monitor --------------------------------------------------------------

    def _rules(self) -> dict[str, list[AlarmRule]]:
        document = self.runtime.document
        active = {n["id"] for n in document.get("nodes", []) if self._is_connection(n) and not n.get("disabled")}
        rules: dict[str, list[AlarmRule]] = {}
        for row in self.table.rows:
            if row["id"] not in active:
                continue
            cached = self._parsed.get(row["id"])
            if cached is None or cached[0] != row["alarms"]:
                parsed = [AlarmRule.parse(a)[0] for a in json.loads(row["alarms"])]
                cached = self._parsed[row["id"]] = (row["alarms"], [r for r in parsed if r is not None])
            if cached[1]:
                rules[row["id"]] = cached[1]
        return rules

    def _uplinks(self, connection_id: str) -> dict[str, int]:
        """Messages sent so far by each source node that uses the connection."""
        snapshot = self.runtime.snapshot()
        counts = {}
        for user in self.users(self.runtime.document, connection_id):
            node_type = self.registry.get(user["type"])
            entry = snapshot.get(user["id"], {})
            if node_type is not None and node_type.category == "source" and "counters" in entry:
                counts[user["id"]] = int(entry["counters"]["sent"])
        return counts


def _unknown_fields(body: JSONObject) -> list[dict[str, str]]:
    ignored = {"state", "startupTime", "status", "lastError", "alarmStatus", "failover", "usedBy"}  # read-only, echoed back by clients
    unknown = sorted(set(body) - set(FIELDS) - ignored)
    return [{"path": f"/{name}", "reason": "unknown field"} for name in unknown]


# -- HTTP -------------------------------------------------------------------------------------

def routes(connections: Connections) -> list[BaseRoute]:
    """``/api/connectors``, ``/api/connections[/{id}]`` and ``/api/alarms``."""

    def refused(exc: Refused) -> Response:
        return JSONResponse({"error": exc.text, **exc.extra}, status_code=exc.status)

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Invalid([{"path": "/", "reason": "the request body is not JSON"}]) from None

    async def get_connectors(request: Request) -> Response:
        return JSONResponse(connectors(connections.registry))

    async def list_connections(request: Request) -> Response:
        return JSONResponse(connections.all())

    async def create_connection(request: Request) -> Response:
        try:
            return JSONResponse(await connections.create(await body_of(request)), status_code=201)
        except Refused as exc:
            return refused(exc)

    async def get_connection(request: Request) -> Response:
        try:
            return JSONResponse(connections.get(request.path_params["id"]))
        except Refused as exc:
            return refused(exc)

    async def put_connection(request: Request) -> Response:
        try:
            return JSONResponse(await connections.update(request.path_params["id"], await body_of(request)))
        except Refused as exc:
            return refused(exc)

    async def delete_connection(request: Request) -> Response:
        try:
            await connections.delete(request.path_params["id"])
        except Refused as exc:
            return refused(exc)
        return Response(status_code=204)

    async def get_alarms(request: Request) -> Response:
        monitor = connections.alarms
        if not monitor.running:
            monitor.evaluate()  # no background monitor (tests, embedding): judge now
        return JSONResponse({"alarms": monitor.to_json(), "events": list(monitor.history)})

    return [
        Route("/api/connectors", get_connectors, methods=["GET"]),
        Route("/api/connections", list_connections, methods=["GET"]),
        Route("/api/connections", create_connection, methods=["POST"]),
        Route("/api/connections/{id}", get_connection, methods=["GET"]),
        Route("/api/connections/{id}", put_connection, methods=["PUT"]),
        Route("/api/connections/{id}", delete_connection, methods=["DELETE"]),
        Route("/api/alarms", get_alarms, methods=["GET"]),
    ]
