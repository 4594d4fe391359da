"""Access control: users, roles, API tokens, the login page's sessions, rate-limited logins.

**Who.** Users have an argon2 password hash and a role, ``admin`` or ``read-only``; API tokens
(for automation) have a role too. They come from a settings file (``--settings FILE``, JSON or
YAML) and from the environment::

    users:
      - {username: alice, password: "$argon2id$v=19$...", role: admin}
      - {username: bob, password: "$argon2id$v=19$...", role: read-only}
    tokens:
      - {name: ci, sha256: "<hex sha-256 of the token>", role: admin}   # or token: "<the token>"
    login: {maxFailures: 5, window: 300, lockout: 300}
    session: {ttl: 43200}

``FLOWENGINE_API_TOKEN`` adds an admin token; ``FLOWENGINE_USERS`` adds users as whitespace
separated ``name:role:hash`` entries. ``flowengine hash-password`` prints a hash for a password.
When nothing is configured, access is open, and the CLI then refuses to listen on anything but
loopback.

**How a request proves it.** ``Authorization: Bearer <token>`` (or ``?token=`` where a header
cannot be set: WebSockets, the editor's first page load), ``Authorization: Basic`` with a user's
name and password, or the session cookie that ``POST /login`` sets (``HttpOnly``,
``SameSite=Strict``; sessions live in memory, so a restart logs everyone out).

**What is checked.** Every HTTP and WebSocket path except ``/healthz``, ``/login``, ``/logout``,
``/static/...`` and ``/api/openapi.json``: the API, the events WebSocket, the editor page and the
routes of ``http-in`` and ``websocket-server`` nodes. A node route whose node has its own
authentication configured (``auth`` other than ``none``, or a ``token``) is left to that node, so a
network server can post to it with the node's credentials. Unauthenticated: ``401`` (API and node
routes), a redirect to ``/login`` (a browser asking for a page), or a WebSocket refused before
the handshake (HTTP 403). Role ``read-only`` may only ``GET``/``HEAD`` and open the events
WebSocket; anything else answers ``403``. A cookie-authenticated request that changes something,
or opens a WebSocket, must come from the same origin (``Origin`` checked against ``Host``).

**Guessing.** After ``maxFailures`` failed logins (form or Basic) from one client address, or
for one user name, within ``window`` seconds, further attempts answer ``429`` with
``Retry-After`` for ``lockout`` seconds, even with the right password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

ROLES = ("admin", "read-only")
TOKEN_ENV = "FLOWENGINE_API_TOKEN"
USERS_ENV = "FLOWENGINE_USERS"
COOKIE = "flowengine_session"
PUBLIC_PATHS = ("/healthz", "/login", "/logout", "/api/openapi.json")
READ_METHODS = ("GET", "HEAD", "OPTIONS")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for the settings file."""
    return _hasher.hash(password)


class SettingsError(Exception):
    """A settings file or variable that cannot be used; names the place."""


@dataclass(frozen=True)
class Principal:
    """Who made a request."""

    name: str
    role: str
    via: str
    """``session``, ``token``, ``basic`` or ``open`` (access control is off)."""

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass
class Session:
    principal: Principal
    expires: float


@dataclass
class Auth:
    """The configured users and tokens, the sessions and the login limiter of one server."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    """User name -> (argon2 hash, role)."""
    tokens: list[tuple[str, bytes, str]] = field(default_factory=list)
    """(name, sha-256 digest of the token, role)."""
    max_failures: int = 5
    window: float = 300.0
    lockout: float = 300.0
    session_ttl: float = 12 * 3600.0
    now: Callable[[], float] = time.monotonic
    sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _locked: dict[str, float] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.tokens)

    # -- configuration ----------------------------------------------------------------------

    def add_user(self, name: str, password_hash: str, role: str, where: str = "") -> None:
        if not name or not isinstance(name, str):
            raise SettingsError(f"{where}: a user needs a username")
        if role not in ROLES:
            raise SettingsError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(password_hash, str) or not password_hash.startswith("$argon2"):
            raise SettingsError(f"{where}: password must be an argon2 hash (run: flowengine hash-password)")
        self.users[name] = (password_hash, role)

    def add_token(self, name: str, token: str | None, role: str, digest: str | None = None, where: str = "") -> None:
        if role not in ROLES:
            raise SettingsError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
        if digest:
            try:
                value = bytes.fromhex(digest)
            except ValueError:
                raise SettingsError(f"{where}: sha256 must be 64 hex digits") from None
            if len(value) != 32:
                raise SettingsError(f"{where}: sha256 must be 64 hex digits")
        elif token and isinstance(token, str):
            value = hashlib.sha256(token.encode()).digest()
        else:
            raise SettingsError(f"{where}: a token needs 'token' or 'sha256'")
        self.tokens.append((name, value, role))

    @classmethod
    def from_settings(cls, path: Path | None = None, environ: Mapping[str, str] = os.environ, **options: Any) -> Auth:
        """Users and tokens from a settings file (JSON or YAML) and the environment."""
        auth = cls(**options)
        if path is not None:
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except OSError as exc:
                raise SettingsError(f"{path}: {exc.strerror}") from None
            except yaml.YAMLError as exc:
                raise SettingsError(f"{path}: not JSON or YAML: {exc}") from None
            if not isinstance(data, dict):
                raise SettingsError(f"{path}: expected a mapping at the top")
            auth._load(data, str(path))
        if environ.get(TOKEN_ENV):
            auth.add_token(TOKEN_ENV, environ[TOKEN_ENV], "admin", where=TOKEN_ENV)
        for index, entry in enumerate(environ.get(USERS_ENV, "").split()):
            name, _, rest = entry.partition(":")
            role, _, password_hash = rest.partition(":")
            auth.add_user(name, password_hash, role, f"{USERS_ENV} entry {index + 1}")
        return auth

    def _load(self, data: dict[str, Any], where: str) -> None:
        for index, user in enumerate(data.get("users") or []):
            at = f"{where}: users[{index}]"
            if not isinstance(user, dict):
                raise SettingsError(f"{at}: expected a mapping")
            self.add_user(user.get("username", ""), user.get("password", ""), user.get("role", "read-only"), at)
        for index, token in enumerate(data.get("tokens") or []):
            at = f"{where}: tokens[{index}]"
            if not isinstance(token, dict):
                raise SettingsError(f"{at}: expected a mapping")
            self.add_token(str(token.get("name", f"token {index + 1}")), token.get("token"), token.get("role", "read-only"),
                           token.get("sha256"), at)
        login = data.get("login") or {}
        session = data.get("session") or {}
        try:
            self.max_failures = int(login.get("maxFailures", self.max_failures))
            self.window = float(login.get("window", self.window))
            self.lockout = float(login.get("lockout", self.lockout))
            self.session_ttl = float(session.get("ttl", self.session_ttl))
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: login and session settings must be numbers") from None

    # -- checking credentials ---------------------------------------------------------------

    def check_token(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for name, expected, role in self.tokens:
            if hmac.compare_digest(digest, expected):
                found = Principal(name, role, "token")
        return found

    def retry_after(self, *keys: str) -> float:
        """Seconds until ``keys`` (client address, user name) may try again; 0 when they may now."""
        now = self.now()
        return max([self._locked.get(k, 0.0) - now for k in keys] + [0.0])

    async def login(self, username: str, password: str, client: str) -> Principal | None:
        """Check a user's password (argon2, off the event loop); failures count toward the lockout."""
        stored = self.users.get(username)
        ok = await asyncio.to_thread(_verify, stored[0] if stored else _dummy_hash(), password)
        if ok and stored is not None:
            for key in (f"client {client}", f"user {username}"):
                self._failures.pop(key, None)
            return Principal(username, stored[1], "basic")
        self._failed(f"client {client}", f"user {username}")
        return None

    def _failed(self, *keys: str) -> None:
        now = self.now()
        for key in keys:
            failures = self._failures[key]
            failures.append(now)
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) >= self.max_failures:
                self._locked[key] = now + self.lockout
                failures.clear()

    def open_session(self, principal: Principal) -> str:
        token = secrets.token_urlsafe(32)
        self.sessions[token] = Session(Principal(principal.name, principal.role, "session"), self.now() + self.session_ttl)
        return token

    def session(self, token: str) -> Principal | None:
        session = self.sessions.get(token)
        if session is None:
            return None
        if session.expires <= self.now():
            del self.sessions[token]
            return None
        return session.principal

    # -- authenticating a request -----------------------------------------------------------

    async def authenticate(self, connection: HTTPConnection) -> tuple[Principal | None, Response | None]:
        """The principal of a request, or the refusal to send (wrong Basic password, locked out)."""
        header = connection.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return self.check_token(value.strip()), None
        if scheme == "basic":
            try:
                username, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            client = connection.client.host if connection.client else "?"
            wait = self.retry_after(f"client {client}", f"user {username}")
            if wait > 0:
                return None, too_many(wait)
            return await self.login(username, password, client), None
        token = connection.query_params.get("token")
        if token:
            return self.check_token(token), None
        cookie = connection.cookies.get(COOKIE)
        if cookie:
            return self.session(cookie), None
        return None, None


@functools.cache
def _dummy_hash() -> str:
    """What an unknown user's password is checked against, so that it takes as long as a known one's.
    Made at the first such login, not at import: argon2 takes 64 MiB and ~50 ms per hash, which every
    ``flowengine run`` would otherwise pay at start-up (its peak RSS was 139 MB instead of ~87)."""
    return _hasher.hash(secrets.token_hex(8))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def too_many(wait: float) -> Response:
    seconds = max(1, int(wait + 0.999))
    return JSONResponse({"error": f"too many failed logins; try again in {seconds} s"}, status_code=429,
                        headers={"Retry-After": str(seconds)})


def allowed(principal: Principal, method: str, path: str, websocket: bool) -> bool:
    """Whether ``principal``'s role may do this: read-only may read and watch the events."""
    if principal.admin:
        return True
    if websocket:
        return path == "/api/events"
    return method in READ_METHODS


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


class AuthMiddleware:
    """Checks every request against :class:`Auth` (see the module docstring)."""

    def __init__(self, app: ASGIApp, auth: Auth, own_auth: Callable[[str, bool], bool] = lambda path, ws: False) -> None:
        self.app = app
        self.auth = auth
        self.own_auth = own_auth
        """Whether the node serving ``path`` (http or websocket) checks credentials itself."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        websocket = kind == "websocket"
        if not self.auth.enabled:
            scope["flowengine.principal"] = Principal("anonymous", "admin", "open")
            await self.app(scope, receive, send)
            return
        if is_public(path) or self.own_auth(path, websocket):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        principal, refusal = await self.auth.authenticate(connection)
        method = scope.get("method", "GET")
        if principal is None:
            if websocket:
                await WebSocket(scope, receive, send).close(code=4401)
                return
            if refusal is None:
                refusal = self._unauthenticated(connection, method)
            await refusal(scope, receive, send)
            return
        if not allowed(principal, method, path, websocket):
            if websocket:
                await WebSocket(scope, receive, send).close(code=4403)
                return
            await JSONResponse({"error": f"forbidden: role {principal.role} cannot {method} {path}"}, status_code=403)(scope, receive, send)
            return
        if principal.via == "session" and (websocket or method not in READ_METHODS) and not _same_origin(connection):
            if websocket:  # cross-site WebSocket hijacking
                await WebSocket(scope, receive, send).close(code=4403)
                return
            await JSONResponse({"error": "forbidden: cross-origin request"}, status_code=403)(scope, receive, send)
            return
        scope["flowengine.principal"] = principal
        await self.app(scope, receive, send)

    @staticmethod
    def _unauthenticated(connection: HTTPConnection, method: str) -> Response:
        path = connection.url.path
        wants_page = method == "GET" and not path.startswith("/api/") and "text/html" in connection.headers.get("accept", "")
        if path == "/" or wants_page:
            target = path + (f"?{connection.url.query}" if connection.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse({"error": "authentication required"}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer, Basic realm="flowengine"'})


def _same_origin(connection: HTTPConnection) -> bool:
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == connection.headers.get("host", "")


def principal_of(connection: HTTPConnection) -> Principal | None:
    principal = connection.scope.get("flowengine.principal")
    return principal if isinstance(principal, Principal) else None


def _safe_next(target: str | None) -> str:
    """Only local paths: ``/editor`` yes, ``//evil.example`` or ``https://...`` no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def routes(auth: Auth) -> list[BaseRoute]:
    """``/login`` (the page and the form, or JSON), ``/logout`` and ``/api/me``."""
    templates = Environment(loader=FileSystemLoader(WEB_DIR), autoescape=select_autoescape(["html"]))

    def page(status: int = 200, error: str = "", next_path: str = "/", headers: dict[str, str] | None = None) -> Response:
        html = templates.get_template("login.html").render(title="flowengine", error=error, next=next_path, enabled=auth.enabled)
        return HTMLResponse(html, status_code=status, headers=headers)

    async def login_page(request: Request) -> Response:
        return page(next_path=_safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        as_json = request.headers.get("content-type", "").startswith("application/json")
        try:
            if as_json:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError
            else:  # the login form (application/x-www-form-urlencoded); no multipart parser needed
                body = {k: v[0] for k, v in parse_qs((await request.body()).decode(), keep_blank_values=True).items()}
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": 'expected {"username": ..., "password": ...}'}, status_code=400)
        username, password = str(body.get("username", "")), str(body.get("password", ""))
        next_path = _safe_next(str(body.get("next", "/")))
        client = request.client.host if request.client else "?"
        wait = auth.retry_after(f"client {client}", f"user {username}")
        if wait > 0:
            refusal = too_many(wait)
            if as_json:
                return refusal
            return page(429, f"Too many failed logins. Try again in {refusal.headers['Retry-After']} s.", next_path,
                        {"Retry-After": refusal.headers["Retry-After"]})
        principal = await auth.login(username, password, client) if auth.enabled else None
        if principal is None:
            text = "wrong user name or password" if auth.enabled else "no users are configured; access is open"
            if as_json:
                return JSONResponse({"error": text}, status_code=401)
            return page(401, text[0].upper() + text[1:] + ".", next_path)
        token = auth.open_session(principal)
        response: Response = (JSONResponse({"username": principal.name, "role": principal.role}) if as_json
                              else RedirectResponse(next_path, status_code=303))
        response.set_cookie(COOKIE, token, max_age=int(auth.session_ttl), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def logout(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            auth.sessions.pop(token, None)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def me(request: Request) -> Response:
        principal = principal_of(request) or Principal("anonymous", "admin", "open")
        return JSONResponse({"username": principal.name, "role": principal.role, "via": principal.via})

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST", "GET"]),
        Route("/api/me", me, methods=["GET"]),
    ]
