"""The HTTP server: editor page, ``/api``, ``/healthz``, ``/metrics`` and the nodes' own routes.

``serve`` mounts everything; ``run`` (headless) mounts only health, metrics, status and the
routes that nodes add (``http-in``, ``websocket-server``). Paths the API does not own fall
through to the :class:`~flowengine.routes.RouteTable`.

Access control is :mod:`flowengine.auth` (users, roles, tokens, the login page), applied to
every path but ``/healthz`` and the login page; ``token=`` adds one admin API token. The
connections API is :mod:`flowengine.connections`, the OpenAPI description :mod:`flowengine.openapi`.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flowengine import api, connections, metrics, openapi
from flowengine.auth import Auth, AuthMiddleware
from flowengine.auth import routes as auth_routes
from flowengine.connections import Connections
from flowengine.deployer import Deployer
from flowengine.runtime import Runtime

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

FALLBACK_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flowengine</title></head>
<body><h1>flowengine</h1><p>The editor is not installed. The API:</p><ul>
<li><a href="/api/flows">/api/flows</a></li><li><a href="/api/nodes">/api/nodes</a></li>
<li><a href="/api/status">/api/status</a></li><li><a href="/metrics">/metrics</a></li>
<li><a href="/healthz">/healthz</a></li></ul></body></html>"""


def create_app(
    deployer: Deployer,
    *,
    editor: bool = True,
    token: str | None = None,
    auth: Auth | None = None,
    connections_api: Connections | None = None,
) -> Starlette:
    """The ASGI app for a deployer's runtime; ``editor=False`` for headless ``run``.

    ``auth`` holds the users and tokens (none: open access); ``token`` adds an admin token.
    ``connections_api`` (whose alarm monitor the caller may run) is made when not given."""
    runtime = deployer.runtime
    auth = auth if auth is not None else Auth()
    if token:
        auth.add_token("api token", token, "admin")
    connections_api = connections_api or Connections(deployer, revisions=editor)

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
        routes += connections.routes(connections_api)
        routes += openapi.routes()
        routes += auth_routes(auth)
        routes += _editor_routes()
    else:
        routes += [route for route in api.routes(deployer) if getattr(route, "path", "") == "/api/status"]
    app = Starlette(routes=routes)
    app.router.default = runtime.routes  # paths no API route owns go to the nodes' routes
    app.add_middleware(AuthMiddleware, auth=auth, own_auth=lambda path, websocket: _node_checks_itself(runtime, path))
    app.state.auth = auth
    app.state.connections = connections_api
    return app


def _node_checks_itself(runtime: Runtime, path: str) -> bool:
    """Whether the node serving ``path`` has its own authentication (``http-in`` auth, a
    ``websocket-server`` token); such a route is left to the node."""
    owner = runtime.routes.paths().get(path)
    node = None if owner is None else runtime.node(owner)
    if node is None:
        return False
    return node.config.get("auth", "none") != "none" or bool(node.config.get("token"))


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
