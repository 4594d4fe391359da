"""The HTTP API under ``/api``: flows, node types, status, inject, revisions and live events.

| method | path | what |
|---|---|---|
| GET | /api/flows | ``{"revision", "document"}``, secrets as ``*****`` |
| POST | /api/flows | deploy ``{"revision", "document", "force"}``: 200, 400 (every problem), 409 (stale revision) |
| GET | /api/revisions | stored revisions, newest first |
| POST | /api/revisions/{revision}/restore | roll back to a stored revision (a new revision) |
| GET | /api/nodes | node types with their JSON Schemas |
| GET | /api/dead-letters | messages sinks gave up on, with the answers (``?node=`` for one sink) |
| GET | /api/status | per node: state, status, counters, queue, last error |
| POST | /api/nodes/{id}/inject | trigger an inject node; optional body ``{"payload": ...}`` |
| WS | /api/events | debug messages, status changes, errors, alarms and fail-overs as JSON text frames |

Connectors, connections and alarms are :mod:`flowengine.connections`; ``/api/me`` and the login
page :mod:`flowengine.auth`; ``/api/openapi.json`` :mod:`flowengine.openapi`. No answer carries a
secret: problems, statuses and errors are redacted (``*****``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from flowengine import outbox
from flowengine.connections import redact_problems
from flowengine.deployer import Conflict, Deployer
from flowengine.node import Node
from flowengine.store import StoreError, split_secrets
from flowengine.validation import InvalidDocument


def node_type_info(node_type: type[Node]) -> dict[str, Any]:
    """How ``/api/nodes`` and ``flowengine nodes --json`` describe a node type."""
    return {
        "type": node_type.type,
        "category": node_type.category,
        "label": node_type.label or node_type.type,
        "color": node_type.color,
        "inputs": node_type.inputs,
        "outputs": node_type.outputs,
        "injectable": node_type.injectable,
        "description": node_type.describe(),
        "schema": node_type.schema,
    }


def error(status: int, text: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": text, **extra}, status_code=status)


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if not body:
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body: line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def routes(deployer: Deployer) -> list[BaseRoute]:
    runtime = deployer.runtime

    async def get_flows(request: Request) -> Response:
        revision, document = deployer.current()
        if revision is None:
            document, _ = split_secrets(document, runtime.registry)
        return JSONResponse({"revision": revision, "document": document})

    async def post_flows(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except ValueError as exc:
            return error(400, str(exc))
        if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
            return error(400, 'expected {"revision": <number or null>, "document": {...}}')
        nodes = body["document"].get("nodes", [])
        if not isinstance(nodes, list) or not all(isinstance(n, dict) and isinstance(n.get("id"), str) for n in nodes):
            # report a malformed node list before the deployer tries to merge secrets into it
            return error(400, "invalid document", problems=[p.to_json() for p in runtime.check(body["document"])])
        try:
            revision, changes = await deployer.deploy(body["document"], body.get("revision"), force=bool(body.get("force")))
        except Conflict as exc:
            return error(409, "conflict", revision=exc.current, detail=str(exc))
        except InvalidDocument as exc:
            problems = redact_problems(exc.problems, body["document"], runtime.registry)  # no secret in an error
            return error(400, "invalid document", problems=[p.to_json() for p in problems])
        return JSONResponse({"revision": revision, "changes": changes})

    async def get_revisions(request: Request) -> Response:
        return JSONResponse(deployer.store.revisions())

    async def restore_revision(request: Request) -> Response:
        try:
            number = int(request.path_params["revision"])
            if number >= 2**63:  # beyond SQLite's integers: no such revision
                raise StoreError(f"no revision {number}")
            revision = await deployer.restore(number)
        except StoreError as exc:
            return error(404, str(exc))
        except InvalidDocument as exc:
            return error(400, "stored revision is no longer valid", problems=[p.to_json() for p in exc.problems])
        return JSONResponse({"revision": revision})

    async def get_nodes(request: Request) -> Response:
        return JSONResponse([node_type_info(t) for t in runtime.registry])

    async def get_dead_letters(request: Request) -> Response:
        return JSONResponse(outbox.dead_letters(deployer.store.db, request.query_params.get("node") or None))

    async def get_status(request: Request) -> Response:
        return JSONResponse(runtime.snapshot())

    async def inject(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except ValueError as exc:
            return error(400, str(exc))
        payload = body.get("payload") if isinstance(body, dict) else None
        try:
            await runtime.inject(request.path_params["node_id"], payload)
        except LookupError as exc:
            return error(404, str(exc))
        except TypeError as exc:
            return error(400, str(exc))
        return JSONResponse({"injected": request.path_params["node_id"]})

    async def events(websocket: WebSocket) -> None:
        await websocket.accept()
        async with runtime.events.subscribe() as subscription:
            async def forward() -> None:
                for node_id, entry in runtime.snapshot().items():
                    await websocket.send_json({"type": "status", "node": node_id, "flow": entry["flow"], "status": entry["status"]})
                while True:
                    event = await subscription.get()
                    await websocket.send_text(json.dumps(event, default=str))

            async def until_closed() -> None:
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass  # clients have nothing to say on this stream

            tasks = [asyncio.create_task(forward()), asyncio.create_task(until_closed())]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    return [
        Route("/api/flows", get_flows, methods=["GET"]),
        Route("/api/flows", post_flows, methods=["POST"]),
        Route("/api/revisions", get_revisions, methods=["GET"]),
        Route("/api/revisions/{revision:int}/restore", restore_revision, methods=["POST"]),
        Route("/api/nodes", get_nodes, methods=["GET"]),
        Route("/api/status", get_status, methods=["GET"]),
        Route("/api/dead-letters", get_dead_letters, methods=["GET"]),
        Route("/api/nodes/{node_id}/inject", inject, methods=["POST"]),
        WebSocketRoute("/api/events", events),
    ]
