"""``http-in``: a webhook route on the flowengine server for network servers that push uplinks."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from typing import Any, ClassVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from flowengine import signing
from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.types import JSONObject

PREFIX = "/in/"
KEPT_HEADERS = ("content-type", "user-agent", "x-request-id", "x-downlink-apikey", "x-downlink-push", "x-tts-domain")


class HttpInNode(Node):
    """Answers ``POST /in/<path>`` on the ``serve``/``run`` HTTP server and sends each JSON body
    into the flow as one message. The caller gets ``200 {"accepted": true, "id": <message id>}``
    only once the flow accepted the message: every node on its path handled it and every sink
    delivered it or stored it in its outbox. So a pusher that gets anything else retries:

    - ``400`` the body is empty or not JSON (the reason names the byte offset);
    - ``401`` authentication failed (``auth``: ``bearer`` token, ``basic`` user/password, or
      ``hmac``: the ``X-Flowengine-Signature``/``X-Flowengine-Timestamp`` scheme of ``http-out``,
      with timestamps at most ``maxSkew`` seconds away);
    - ``405`` not a POST; ``413`` the body is larger than ``maxBytes``;
    - ``500`` a node failed on the message and no ``catch`` took it; ``503`` the flow did not
      accept it within ``timeout`` seconds (``Retry-After`` set).

    Writes: ``payload`` (the parsed JSON), ``topic`` (``topic``, or the path when empty),
    ``meta.http`` (``path``, ``query``, ``remote`` and a few request headers)."""

    type = "http-in"
    category = "source"
    inputs = 0
    label = "http in"
    color = "#e7e7ae"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {
            "path": {"title": "Path", "type": "string", "pattern": r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$",
                     "examples": ["ttn/uplinks"],
                     "description": "The route is POST /in/<path>, e.g. ttn/uplinks."},
            "topic": {"title": "Topic", "type": "string", "default": "",
                      "description": "Topic of the messages; empty: the path."},
            "auth": {"title": "Authentication", "enum": ["none", "bearer", "basic", "hmac"], "default": "none",
                     "description": "What a caller must present."},
            "token": {"title": "Bearer token", "type": "string", "default": "", "writeOnly": True, "format": "password",
                      "description": "Expected in Authorization: Bearer <token>."},
            "username": {"title": "Username", "type": "string", "default": "", "description": "Basic auth user name."},
            "password": {"title": "Password", "type": "string", "default": "", "writeOnly": True, "format": "password",
                         "description": "Basic auth password."},
            **signing.schema_fields("HMAC-SHA256 key (auth hmac); see flowengine.signing."),
            "maxSkew": {"title": "Max timestamp skew (s)", "type": "number", "exclusiveMinimum": 0, "default": 300,
                        "description": "Signed requests older or newer than this are refused."},
            "maxBytes": {"title": "Max body size (bytes)", "type": "integer", "minimum": 1, "default": 1048576,
                         "description": "Larger bodies are refused with 413."},
            "timeout": {"title": "Accept timeout (s)", "type": "number", "exclusiveMinimum": 0, "default": 30,
                        "description": "How long to wait for the flow to accept a message before answering 503."},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        needs = {"basic": ["username"], "bearer": [], "hmac": []}.get(config["auth"], [])
        return [(f"/{name}", f"required with auth {config['auth']}") for name in needs if not config.get(name)]

    @property
    def route(self) -> str:
        return PREFIX + str(self.config["path"])

    async def start(self) -> None:
        self.context.routes.add(self.route, self.app, owner=self.id)
        self.status(f"POST {self.route}", color="green")

    async def stop(self) -> None:
        self.context.routes.remove(self.route, self.id)

    # -- the route --------------------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> JSONResponse:
        if request.method != "POST":
            return _refuse(405, f"{request.method} is not allowed; use POST", {"allow": "POST"})
        limit = self.config["maxBytes"]
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _refuse(413, f"body of {declared} bytes is larger than the limit of {limit} bytes")
        chunks = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return _refuse(413, f"body is larger than the limit of {limit} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            return _refuse(400, "the client went away before sending the whole body")
        body = b"".join(chunks)
        reason = self._authenticate(request, body)
        if reason is not None:
            self.log.info("refused a request from %s: %s", _remote(request), reason)
            return _refuse(401, reason, {"www-authenticate": "Basic" if self.config["auth"] == "basic" else "Bearer"})
        if not body.strip():
            return _refuse(400, "empty body; expected JSON")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _refuse(400, f"body is not UTF-8 (byte offset {exc.start})")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            offset = len(text[: exc.pos].encode())
            return _refuse(400, f"invalid JSON at byte offset {offset}: {exc.msg}")
        return await self._accept(request, payload)

    async def _accept(self, request: Request, payload: Any) -> JSONResponse:
        meta = {"http": {
            "path": request.url.path, "query": request.url.query, "remote": _remote(request),
            "headers": {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS},
        }}
        delivery = Delivery()
        msg = Message(payload, self.config["topic"] or self.config["path"], meta, delivery=delivery)
        accepted = delivery.wait()
        delivery.hold()
        try:
            async with asyncio.timeout(self.config["timeout"]):
                try:
                    await self.send(msg)
                finally:
                    delivery.release()
                error = await accepted
        except TimeoutError:
            return _refuse(503, f"the flow did not accept the message within {self.config['timeout']:g} s",
                           {"retry-after": "5"})
        if error is not None:
            return JSONResponse({"accepted": False, "id": msg.id, "error": str(error) or type(error).__name__}, status_code=500)
        return JSONResponse({"accepted": True, "id": msg.id})

    def _authenticate(self, request: Request, body: bytes) -> str | None:
        config = self.config
        auth = config["auth"]
        header = request.headers.get("authorization", "")
        if auth == "bearer":
            if not header.lower().startswith("bearer "):
                return "missing bearer token (Authorization: Bearer <token>)"
            if not hmac.compare_digest(header[7:].strip().encode(), config["token"].encode()):
                return "wrong bearer token"
        elif auth == "basic":
            if not header.lower().startswith("basic "):
                return "missing basic credentials (Authorization: Basic ...)"
            try:
                user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "malformed basic credentials"
            good_user = hmac.compare_digest(user.encode(), config["username"].encode())
            good_password = hmac.compare_digest(password.encode(), config["password"].encode())
            if not (good_user and good_password):
                return "wrong user name or password"
        elif auth == "hmac":
            signature = request.headers.get(config["signatureHeader"])
            timestamp = request.headers.get(config["timestampHeader"])
            if not signature or not timestamp:
                return f"missing {config['signatureHeader']} or {config['timestampHeader']} header"
            reason = signing.verify(config["secret"], timestamp, body, signature, config["maxSkew"], self.clock.time())
            if reason is not None:
                return reason
        return None


def _refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"accepted": False, "error": reason}, status_code=status, headers=headers)


def _remote(request: Request) -> str | None:
    return None if request.client is None else f"{request.client.host}:{request.client.port}"
