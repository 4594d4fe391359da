"""The HTTP server: editor page, ``/api``, ``/healthz``, ``/metrics`` and the nodes' own routes.

``serve`` mounts everything; ``run`` (headless) mounts only health, metrics, status and the
routes that nodes add (``http-in``, ``websocket-server``). Paths the API does not own fall
through to the :class:`~flowengine.routes.RouteTable`.

Access: when an API token is configured (``FLOWENGINE_API_TOKEN``), every request but
``/healthz`` must carry ``Authorization: Bearer <token>`` (or ``?token=`` for WebSockets and
the editor page). Without one, the CLI refuses to listen on anything but loopback.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from flowengine import api, metrics
from flowengine.deployer import Deployer

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

FALLBACK_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flowengine</title></head>
<body><h1>flowengine</h1><p>The editor is not installed. The API:</p><ul>
<li><a href="/api/flows">/api/flows</a></li><li><a href="/api/nodes">/api/nodes</a></li>
<li><a href="/api/status">/api/status</a></li><li><a href="/metrics">/metrics</a></li>
<li><a href="/healthz">/healthz</a></li></ul></body></html>"""


class TokenAuth:
    """Requires the API token on every request except ``/healthz``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        offered = connection.query_params.get("token", "")
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            offered = header[7:]
        if hmac.compare_digest(offered.encode(), self.token.encode()):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocket(scope, receive, send).close(code=4401)
        else:
            await PlainTextResponse("authentication required", status_code=401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)


def create_app(deployer: Deployer, *, editor: bool = True, token: str | None = None) -> Starlette:
    """The ASGI app for a deployer's runtime; ``editor=False`` for headless ``run``."""
    runtime = deployer.runtime

    async def healthz(request: Request) -> Response:
        states = [entry["state"] for entry in runtime.snapshot().values()]
        failing = states.count("failed")
        return JSONResponse({"status": "ok" if not failing else "degraded", "nodes": len(states), "failing": failing})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(runtime), media_type="text/plain; version=0.0.4")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_endpoint),
    ]
    if editor:
        routes += api.routes(deployer)
        routes += _editor_routes()
    else:
        routes += [route for route in api.routes(deployer) if getattr(route, "path", "") == "/api/status"]
    app = Starlette(routes=routes)
    app.router.default = runtime.routes  # paths no API route owns go to the nodes' routes
    if token:
        app.add_middleware(TokenAuth, token=token)
    return app


def _editor_routes() -> list[BaseRoute]:
    page = WEB_DIR / "index.html"
    if not page.exists():
        async def fallback(request: Request) -> Response:
            return HTMLResponse(FALLBACK_PAGE)
        return [Route("/", fallback)]
    templates = Environment(loader=FileSystemLoader(WEB_DIR), autoescape=select_autoescape(["html"]))

    async def index(request: Request) -> Response:
        return HTMLResponse(templates.get_template("index.html").render(title="flowengine", static="/static"))

    routes: list[BaseRoute] = [Route("/", index)]
    if (WEB_DIR / "static").is_dir():
        routes.append(Mount("/static", app=StaticFiles(directory=WEB_DIR / "static"), name="static"))
    return routes
