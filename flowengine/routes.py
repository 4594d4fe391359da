"""HTTP and WebSocket routes that nodes add to the server (``http-in``, ``websocket-server``).

The table is itself an ASGI app, the server router's fallback for paths the API does not own: it dispatches on the exact path
and answers 404 for a path no running node owns. Nodes add their route in ``start()`` and remove it
in ``stop()``; a second node claiming the same path is refused.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket


class RouteConflict(Exception):
    """Two running nodes want the same path."""


class RouteTable:
    """Path -> ASGI app, separately for HTTP and WebSocket."""

    def __init__(self) -> None:
        self._http: dict[str, tuple[str, ASGIApp]] = {}
        self._websocket: dict[str, tuple[str, ASGIApp]] = {}

    def add(self, path: str, app: ASGIApp, owner: str, websocket: bool = False) -> None:
        table = self._websocket if websocket else self._http
        current = table.get(path)
        if current is not None and current[0] != owner:
            raise RouteConflict(f"path {path} is already served by node {current[0]}")
        table[path] = (owner, app)

    def remove(self, path: str, owner: str, websocket: bool = False) -> None:
        table = self._websocket if websocket else self._http
        if table.get(path, (None,))[0] == owner:
            del table[path]

    def paths(self) -> dict[str, str]:
        return {path: owner for path, (owner, _) in {**self._http, **self._websocket}.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if scope["type"] == "websocket":
            entry = self._websocket.get(path)
            if entry is None:
                await WebSocket(scope, receive, send).close(code=4404)
                return
        elif scope["type"] == "http":
            entry = self._http.get(path)
            if entry is None:
                await PlainTextResponse(f"no node serves {path}", status_code=404)(scope, receive, send)
                return
        else:
            return
        await entry[1](scope, receive, send)
