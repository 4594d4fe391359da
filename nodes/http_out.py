"""``http-out``: delivers messages to an HTTP(S) webhook (or a network server's downlink API)
through a durable outbox, and shows the application status of seed 000."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from flowengine import paths, signing
from flowengine.app_status import AppState, AppStatus
from flowengine.message import Message
from flowengine.node import Node
from flowengine.outbox import Backoff, Dispatcher, Item, Outbox, Outcome, Result
from flowengine.types import JSONObject

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
RETRIED_STATUSES = {408, 429}
EXCERPT = 2000


class HttpOutNode(Node):
    """Sends each message to an HTTP(S) endpoint, at least once, in order.

    **Request.** The URL is ``url`` (the base URL) plus a route chosen by the message field
    ``routeField`` (default ``meta.kind``): ``routes`` maps its value (seed 003: ``values``,
    ``events``, ``alarms``) to a path, and ``defaultRoute`` is used for any other value.
    ``{field}`` placeholders in the URL and routes are filled from the message (a bare name reads
    ``payload``: ``{devEui}`` is ``payload.devEui``; ``{meta.deviceId}`` reads ``meta``), URL-encoded.
    The body is the JSON of ``payload`` (or of the whole message with ``body: message``), compact
    and UTF-8, sent with ``method`` (POST by default) and the custom ``headers``.

    **Authentication** (``auth``): ``none``; ``basic`` (``username``/``password``); ``bearer``
    (``token``); ``apiKey`` (``apiKey`` in the header named ``apiKeyHeader``); ``oauth2``: the
    client-credentials grant against ``tokenUrl`` with ``clientId``/``clientSecret`` (HTTP Basic)
    and optional ``scope``; the access token is cached until shortly before ``expires_in`` and
    fetched again after a 401.

    **Signature.** With a ``secret``, every request carries two headers so the receiver can check
    integrity and freshness::

        X-Flowengine-Timestamp: 1767225600                       (Unix seconds, when sent)
        X-Flowengine-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

    where ``body`` is the exact bytes of the request body. The receiver recomputes the HMAC over
    the raw body it got, compares in constant time and refuses timestamps more than a few minutes
    old (``http-in`` does exactly this). Header names are configurable.

    **Delivery.** ``on_message`` only stores the rendered request in the node's SQLite outbox (in
    the data folder) and returns, so the message counts as delivered for its source (an MQTT
    PUBACK, an ``http-in`` answer) and a down endpoint never blocks other branches. A background
    sender delivers the outbox with ``concurrency`` requests in flight (1 keeps the order):

    - 2xx: delivered;
    - 5xx, 408, 429, timeouts and connection errors: retried with exponential back-off and jitter
      (``retryInitial`` doubling up to ``retryMax``), or after ``Retry-After`` when the answer has
      one, until the message is older than ``maxAge``; then it goes to the dead-letter list;
    - other answers (4xx, 3xx): not retried; the message goes to the dead-letter list with the
      response (status, headers, start of the body).

    Stored requests survive a restart; the request is rendered when it is stored (later config
    changes affect new messages; authentication and signature are added at each attempt). Every
    attempt of one message carries the same ``X-Flowengine-Message: <message id>`` header, so a
    receiver can drop the duplicates that at-least-once delivery allows. ``dead_letters()`` lists
    the dead-letter list and ``retry_dead(id)`` puts one back in the outbox.

    **Downlinks** (``mode: tts-downlink``): the payload is a canonical downlink (``devEui``,
    ``fPort``, ``bytes`` hex, ``confirmed``, optional ``priority``, ``reference``); the body is The
    Things Stack's ``{"downlinks": [{"frm_payload": base64, "f_port", "priority", "confirmed",
    "correlation_ids"}]}`` for a URL like ``https://eu1.cloud.thethings.network/api/v3/as/
    applications/<app>/webhooks/<webhook>/devices/eui-{devEui}/down/push`` with ``auth: bearer``.

    **Status** (seed 000): *Provisioned* (nothing sent yet), *Running* (a 2xx within
    ``inactiveAfter`` seconds, default 2 days; yellow when the latest attempt failed), *Inactive*
    (no 2xx within that window), *Disabled* (``enabled`` off: messages are dropped, nothing is
    sent). The status details carry ``lastSuccess``, ``lastFailure``, ``lastError``, counters
    and the outbox depth (``pending``, ``dead``).

    Reads: ``payload``, the ``routeField`` and placeholder fields. Writes nothing (no outputs).
    """

    type = "http-out"
    category = "sink"
    outputs = 0
    label = "http out"
    color = "#e7e7ae"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "enabled": {"title": "Enabled", "type": "boolean", "default": True,
                        "description": "Off: messages are dropped and the status shows Disabled."},
            "mode": {"title": "Mode", "enum": ["webhook", "tts-downlink"], "default": "webhook",
                     "description": "webhook: send the payload as JSON; tts-downlink: push a canonical downlink to The Things Stack."},
            "url": {"title": "Base URL", "type": "string", "minLength": 1,
                    "description": "http:// or https:// URL; may hold {field} placeholders such as {devEui}."},
            "routeField": {"title": "Route field", "type": "string", "default": "meta.kind",
                           "description": "Message field whose value picks the route (values, events, alarms)."},
            "routes": {"title": "Routes", "type": "object", "default": {}, "additionalProperties": {"type": "string"},
                       "description": "Value of the route field -> path appended to the base URL (e.g. values -> /values/{devEui})."},
            "defaultRoute": {"title": "Default route", "type": "string", "default": "",
                             "description": "Path appended when the route field is missing or not in routes."},
            "method": {"title": "Method", "enum": ["POST", "PUT", "PATCH"], "default": "POST",
                       "description": "HTTP method."},
            "body": {"title": "Body", "enum": ["payload", "message"], "default": "payload",
                     "description": "payload: the JSON of msg.payload; message: {id, topic, payload, meta}."},
            "headers": {"title": "Headers", "type": "object", "default": {}, "additionalProperties": {"type": "string"},
                        "description": "Extra request headers."},
            "auth": {"title": "Authentication", "enum": ["none", "basic", "bearer", "apiKey", "oauth2"], "default": "none",
                     "description": "How the request authenticates."},
            "username": {"title": "Username", "type": "string", "default": "", "description": "Basic auth user name."},
            "password": {"title": "Password", "type": "string", "default": "", "writeOnly": True, "format": "password",
                         "description": "Basic auth password."},
            "token": {"title": "Bearer token", "type": "string", "default": "", "writeOnly": True, "format": "password",
                      "description": "Sent as Authorization: Bearer <token>."},
            "apiKeyHeader": {"title": "API key header", "type": "string", "default": "X-API-Key",
                             "description": "Header that carries the API key."},
            "apiKey": {"title": "API key", "type": "string", "default": "", "writeOnly": True, "format": "password",
                       "description": "The API key."},
            "tokenUrl": {"title": "OAuth2 token URL", "type": "string", "default": "",
                         "description": "Token endpoint for the client-credentials grant."},
            "clientId": {"title": "OAuth2 client id", "type": "string", "default": "", "description": "OAuth2 client id."},
            "clientSecret": {"title": "OAuth2 client secret", "type": "string", "default": "", "writeOnly": True,
                             "format": "password", "description": "OAuth2 client secret."},
            "scope": {"title": "OAuth2 scope", "type": "string", "default": "", "description": "Requested scope (optional)."},
            **signing.schema_fields("Signs each body with HMAC-SHA256 (see flowengine.signing); empty: no signature."),
            "priority": {"title": "Downlink priority", "enum": ["LOWEST", "LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH", "HIGHEST"],
                         "default": "NORMAL", "description": "tts-downlink: priority when the downlink has none."},
            "timeout": {"title": "Timeout (s)", "type": "number", "exclusiveMinimum": 0, "default": 10,
                        "description": "Seconds to wait for an answer (each attempt)."},
            "caFile": {"title": "CA file", "type": "string", "default": "",
                       "description": "PEM file of extra CAs trusted besides the system ones."},
            "concurrency": {"title": "Concurrency", "type": "integer", "minimum": 1, "maximum": 64, "default": 1,
                            "description": "Requests in flight; 1 keeps the order."},
            "retryInitial": {"title": "First retry after (s)", "type": "number", "exclusiveMinimum": 0, "default": 1,
                             "description": "Back-off before the first retry; doubles each time."},
            "retryMax": {"title": "Longest retry interval (s)", "type": "number", "exclusiveMinimum": 0, "default": 300,
                         "description": "Cap of the back-off."},
            "maxAge": {"title": "Give up after (s)", "type": "number", "exclusiveMinimum": 0, "default": 86400,
                       "description": "A message older than this is not retried: it goes to the dead-letter list."},
            "inactiveAfter": {"title": "Inactive after (s)", "type": "number", "exclusiveMinimum": 0, "default": 172800,
                              "description": "Status turns Inactive with no 2xx answer for this long (2 days)."},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        problems = []
        url = PLACEHOLDER.sub("x", config["url"])
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(("/url", f"not an http:// or https:// URL: {config['url']!r}"))
        needs = {"basic": ["username"], "oauth2": ["tokenUrl", "clientId"]}.get(config["auth"], [])
        problems += [(f"/{name}", f"required with auth {config['auth']}") for name in needs if not config.get(name)]
        if config["auth"] == "apiKey" and not config["apiKeyHeader"]:
            problems.append(("/apiKeyHeader", "required with auth apiKey"))
        if config["tokenUrl"] and urlsplit(config["tokenUrl"]).scheme not in ("http", "https"):
            problems.append(("/tokenUrl", f"not an http:// or https:// URL: {config['tokenUrl']!r}"))
        return problems

    def __init__(self, config: JSONObject, context: Any) -> None:
        super().__init__(config, context)
        self.app = AppStatus(self.clock, enabled=config["enabled"])
        self.app.window = timedelta(seconds=config["inactiveAfter"])
        self.outbox: Outbox | None = None
        self.dispatcher: Dispatcher | None = None
        self.client: httpx.AsyncClient | None = None
        self._tokens = _TokenCache(self)
        self._sender: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        db = self.context.store.db
        self.app.restore(db, self.id)
        self.app.enabled = self.config["enabled"]
        self.outbox = Outbox(db, self.id, self.clock)
        context = ssl.create_default_context()
        if self.config["caFile"]:
            try:
                context.load_verify_locations(self.config["caFile"])
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"node {self.id} (http-out): caFile: cannot load {self.config['caFile']}: {exc}") from exc
        concurrency = self.config["concurrency"]
        self.client = httpx.AsyncClient(
            verify=context,
            timeout=httpx.Timeout(self.config["timeout"]),
            limits=httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1),
            follow_redirects=False,
        )
        self.dispatcher = Dispatcher(
            self.outbox, self._attempt, concurrency=concurrency,
            backoff=Backoff(self.config["retryInitial"], self.config["retryMax"]),
            max_age=self.config["maxAge"], observe=self._observe,
        )
        self._sender = self.spawn(self.dispatcher.run(), "sender")
        self._watcher = self.spawn(self.app.watch(self._publish, min_interval=0.2), "status")

    async def stop(self) -> None:
        for task in (self._sender, self._watcher):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._sender, self._watcher) if t is not None), return_exceptions=True)
        self._sender = self._watcher = None
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self.outbox is not None:
            self.app.save(self.context.store.db, self.id)
            self._publish(self.app)

    # -- messages ---------------------------------------------------------------------------

    async def on_message(self, msg: Message) -> None:
        if not self.config["enabled"]:
            self.app.dropped()
            self.drop(msg, "http-out is disabled")
            return
        assert self.outbox is not None and self.dispatcher is not None
        self.outbox.enqueue(self.render(msg))
        self.dispatcher.notify()

    def render(self, msg: Message) -> JSONObject:
        """The stored request for ``msg``: method, URL, headers and the exact body."""
        config = self.config
        if config["mode"] == "tts-downlink":
            path = config["defaultRoute"]
            body: Any = _tts_downlink(msg.payload, config["priority"])
        else:
            kind = paths.get(msg, config["routeField"], None)
            path = config["routes"].get(kind, config["defaultRoute"]) if isinstance(kind, str) else config["defaultRoute"]
            body = msg.payload if config["body"] == "payload" else msg.to_json()
        url = _fill(config["url"], msg, "url") + _fill(path, msg, "route")
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return {"method": config["method"], "url": url, "body": text, "msg": msg.id}

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """The messages this sink gave up on, with the peer's answers (newest first)."""
        return [] if self.outbox is None else self.outbox.dead_letters(limit)

    def retry_dead(self, dead_id: int) -> int:
        """Put dead letter ``dead_id`` back at the end of the outbox (once its cause is fixed)."""
        if self.outbox is None or self.dispatcher is None:
            raise RuntimeError(f"node {self.id} (http-out) is not running")
        item_id = self.outbox.requeue_dead(dead_id)
        self.dispatcher.notify()
        return item_id

    # -- sending ----------------------------------------------------------------------------

    async def _attempt(self, item: Item) -> Result:
        request = item.item
        response = await self._request(request)
        if response.status_code == 401 and self.config["auth"] == "oauth2":
            self._tokens.forget()
            response = await self._request(request)
        status = response.status_code
        if 200 <= status < 300:
            return Result.delivered()
        summary = _summary(response)
        error = f"HTTP {status}" + (f": {summary['body'][:200]}" if summary["body"] else "")
        if status >= 500 or status in RETRIED_STATUSES:
            return Result.retry(error, self._retry_after(response), summary)
        return Result.reject(error, summary)

    async def _request(self, request: JSONObject) -> httpx.Response:
        assert self.client is not None
        body = request["body"].encode()
        headers = {"content-type": "application/json", **self.config["headers"]}
        headers.update(await self._auth_headers())
        if self.config["secret"]:
            timestamp = str(int(self.clock.time()))
            headers[self.config["timestampHeader"]] = timestamp
            headers[self.config["signatureHeader"]] = signing.sign(self.config["secret"], timestamp, body)
        headers["x-flowengine-message"] = request.get("msg", "")
        try:
            return await self.client.request(request["method"], request["url"], content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer from {request['url']} within {self.config['timeout']:g} s") from exc
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{request['url']}: {exc or type(exc).__name__}") from exc

    async def _auth_headers(self) -> dict[str, str]:
        config = self.config
        auth = config["auth"]
        if auth == "basic":
            raw = f"{config['username']}:{config['password']}".encode()
            return {"authorization": "Basic " + base64.b64encode(raw).decode()}
        if auth == "bearer":
            return {"authorization": f"Bearer {config['token']}"}
        if auth == "apiKey":
            return {config["apiKeyHeader"]: config["apiKey"]}
        if auth == "oauth2":
            return {"authorization": f"Bearer {await self._tokens.get()}"}
        return {}

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - self.clock.now()).total_seconds())

    # -- status -----------------------------------------------------------------------------

    def _observe(self, item: Item, result: Result) -> None:
        if result.outcome is Outcome.DELIVERED:
            self.app.success()
            return
        rejected = result.outcome is Outcome.REJECT
        self.app.failure(result.error, rejected=rejected)
        if rejected:
            self.log.warning("message %s to the dead-letter list: %s", item.item.get("msg"), result.error)
        else:
            self.log.info("message %s will be retried: %s", item.item.get("msg"), result.error)

    def _publish(self, app: AppStatus) -> None:
        state = app.state()
        details = app.to_json()
        text = state.value
        if self.outbox is not None:
            stats = self.outbox.stats()
            details.update(stats)
            if state is not AppState.DISABLED and stats["pending"]:
                text += f" · {stats['pending']} waiting"
            if stats["dead"]:
                text += f" · {stats['dead']} dead"
        if app.degraded() and app.last_error and state is not AppState.DISABLED:
            text += f" · {app.last_error[:80]}"
        self.status(text, color=app.color(), **details)
        try:
            app.save(self.context.store.db, self.id)
        except Exception as exc:  # losing a status save must not stop the status updates
            self.log.warning("status not saved: %s", exc)


class _TokenCache:
    """OAuth2 client-credentials access token, fetched on first use and shortly before it expires."""

    def __init__(self, node: HttpOutNode) -> None:
        self.node = node
        self.token: str | None = None
        self.expires = 0.0
        self.lock = asyncio.Lock()

    def forget(self) -> None:
        self.token = None

    async def get(self) -> str:
        async with self.lock:
            clock = self.node.clock
            if self.token is not None and clock.time() < self.expires:
                return self.token
            config = self.node.config
            assert self.node.client is not None
            data = {"grant_type": "client_credentials"}
            if config["scope"]:
                data["scope"] = config["scope"]
            try:
                response = await self.node.client.post(
                    config["tokenUrl"], data=data, auth=(config["clientId"], config["clientSecret"]),
                    headers={"accept": "application/json"},
                )
            except httpx.HTTPError as exc:
                raise ConnectionError(f"oauth2 token from {config['tokenUrl']}: {exc or type(exc).__name__}") from exc
            if response.status_code != 200:
                raise PermissionError(f"oauth2 token from {config['tokenUrl']}: HTTP {response.status_code}: {response.text[:200]}")
            try:
                answer = response.json()
                token = str(answer["access_token"])
            except (ValueError, KeyError, TypeError) as exc:
                raise PermissionError(f"oauth2 token from {config['tokenUrl']}: no access_token in the answer") from exc
            lifetime = float(answer.get("expires_in") or 3600)
            self.token = token
            self.expires = clock.time() + lifetime - min(30.0, lifetime / 10)
            return token


def _fill(template: str, msg: Message, where: str) -> str:
    def value(match: re.Match[str]) -> str:
        found = paths.get(msg, match.group(1))
        if found is paths.MISSING or found is None:
            raise KeyError(f"{where}: placeholder {{{match.group(1)}}}: the message has no {'.'.join(paths.split(match.group(1)))}")
        return quote(str(found), safe="")

    return PLACEHOLDER.sub(value, template)


def _tts_downlink(payload: Any, priority: str) -> JSONObject:
    """The Things Stack's down/push body from a canonical downlink."""
    if not isinstance(payload, dict):
        raise ValueError(f"payload: expected a canonical downlink object, got {type(payload).__name__}")
    if payload.get("type", "downlink") != "downlink":
        raise ValueError(f"payload.type: expected 'downlink', got {payload.get('type')!r}")
    port = payload.get("fPort")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 223:
        raise ValueError(f"payload.fPort: expected an integer 1..223, got {port!r}")
    hex_bytes = payload.get("bytes", "")
    try:
        raw = bytes.fromhex(hex_bytes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload.bytes: not hex: {hex_bytes!r}") from exc
    downlink: JSONObject = {
        "frm_payload": base64.b64encode(raw).decode(),
        "f_port": port,
        "priority": payload.get("priority") or priority,
        "confirmed": bool(payload.get("confirmed", False)),
    }
    if payload.get("reference"):
        downlink["correlation_ids"] = [f"flowengine:reference:{payload['reference']}"]
    return {"downlinks": [downlink]}


def _summary(response: httpx.Response) -> JSONObject:
    keep = ("content-type", "retry-after", "www-authenticate")
    return {
        "status": response.status_code,
        "headers": {k: v for k, v in response.headers.items() if k.lower() in keep},
        "body": response.text[:EXCERPT],
    }
