"""``websocket-in``: a client of a remote WebSocket (a platform's real-time feed), both ways."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, ClassVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject


class WebsocketInNode(Node):
    """Connects to the WebSocket at ``url`` (``ws://`` or ``wss://``, e.g. ResIOT's real-time
    monitor) and emits every frame it receives as one message: parsed JSON when ``format`` is
    ``json`` (a frame that is not JSON goes to the flow's error handling with its position, and the
    next frame is handled as usual), the text as it is when ``format`` is ``text``.

    Messages arriving on the input are sent to the same WebSocket: a string payload as it is, any
    other payload as JSON. While the connection is down they wait (up to ``sendTimeout`` seconds
    each, then the message fails); the input queue holds the rest meanwhile.

    The connection is kept up: when it fails or closes the node reconnects after
    ``reconnectMin`` seconds, doubling the wait after each failed attempt up to ``reconnectMax``;
    the status shows the state and the last error. With ``token`` set the handshake carries
    ``Authorization: Bearer <token>``.

    Writes: ``payload`` (the frame), ``topic`` (from the config), ``meta.websocket.url``.
    Reads (input): ``payload``."""

    type = "websocket-in"
    category = "source"
    color = "#c0deed"
    label = "websocket in"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"title": "URL", "type": "string", "pattern": "^wss?://.+", "description": "The WebSocket to connect to, e.g. wss://platform.example.com/ws."},
            "token": {"title": "Bearer token", "type": "string", "writeOnly": True, "format": "password", "description": "Sent as 'Authorization: Bearer <token>' in the handshake; empty sends none.", "default": ""},
            "format": {"title": "Frames are", "enum": ["json", "text"], "description": "Parse each frame as JSON, or emit it as text.", "default": "json"},
            "topic": {"title": "Topic", "type": "string", "description": "Topic of the emitted messages.", "default": ""},
            "caFile": {"title": "CA file", "type": "string", "description": "PEM file of the certificate authority for wss:// (empty: the system's).", "default": ""},
            "reconnectMin": {"title": "First reconnect delay (s)", "type": "number", "minimum": 0.01, "description": "Wait before the first reconnect attempt; doubles after each failure.", "default": 1},
            "reconnectMax": {"title": "Longest reconnect delay (s)", "type": "number", "minimum": 0.01, "description": "Upper bound of the reconnect delay.", "default": 60},
            "sendTimeout": {"title": "Send timeout (s)", "type": "number", "minimum": 0.1, "description": "How long an input message waits for the connection before it fails.", "default": 10},
            "pingInterval": {"title": "Ping interval (s)", "type": "number", "minimum": 0, "description": "Keep-alive ping period; 0 turns pings off.", "default": 20},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        if config["reconnectMax"] < config["reconnectMin"]:
            return [("/reconnectMax", f"{config['reconnectMax']} is less than reconnectMin ({config['reconnectMin']})")]
        return []

    def __init__(self, config: JSONObject, context: Any) -> None:
        super().__init__(config, context)
        self._connection: ClientConnection | None = None
        self._connected = asyncio.Event()
        self.connections = 0
        self.last_error = ""
        self._stopping = False

    async def start(self) -> None:
        self.spawn(self._keep_connected(), "connection")

    async def stop(self) -> None:
        self._stopping = True
        connection = self._connection
        if connection is not None:
            try:
                async with asyncio.timeout(2):
                    await connection.close()
            except TimeoutError:
                connection.transport.abort()

    # -- receiving -----------------------------------------------------------------------------

    async def _keep_connected(self) -> None:
        delay = self.config["reconnectMin"]
        url = self.config["url"]
        while True:
            self.status(f"connecting to {url}", color="yellow")
            try:
                async with connect(url, **self._options()) as connection:
                    self._connection = connection
                    self._connected.set()
                    self.connections += 1
                    delay = self.config["reconnectMin"]
                    self.status(f"connected to {url}", color="green", connections=self.connections)
                    async for frame in connection:
                        await self._emit(frame)
                code = connection.close_code
                self.last_error = f"closed by the server (code {code})"
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                self.last_error = _describe(exc)
            except Exception as exc:  # anything else is unexpected: logged in full, and retried all the same
                self.log.exception("connection to %s failed", url)
                self.last_error = _describe(exc)
            finally:
                self._connection = None
                self._connected.clear()
            if self._stopping:
                return
            self.status(f"disconnected: {self.last_error}; retrying in {delay:g} s", color="red",
                        connections=self.connections, retry=delay)
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.config["reconnectMax"])

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"open_timeout": 10, "close_timeout": 2}
        interval = self.config["pingInterval"]
        options["ping_interval"] = interval or None
        if self.config["token"]:
            options["additional_headers"] = {"Authorization": f"Bearer {self.config['token']}"}
        if self.config["url"].startswith("wss://") and self.config["caFile"]:
            options["ssl"] = ssl.create_default_context(cafile=self.config["caFile"])
        return options

    async def _emit(self, frame: str | bytes) -> None:
        meta = {"websocket": {"url": self.config["url"]}}
        if isinstance(frame, bytes):
            try:
                text = frame.decode("utf-8")
            except UnicodeDecodeError as exc:
                await self.error(Message(frame.hex(), self.config["topic"], meta),
                                 ValueError(f"frame is not UTF-8 at byte offset {exc.start}"))
                return
        else:
            text = frame
        payload: Any = text
        if self.config["format"] == "json":
            try:
                payload = json.loads(text)
            except json.JSONDecodeError as exc:
                await self.error(Message(text, self.config["topic"], meta), ValueError(
                    f"frame is not JSON: line {exc.lineno} column {exc.colno} (byte offset {exc.pos}): {exc.msg}"))
                return
        await self.send(Message(payload, self.config["topic"], meta))

    # -- sending -------------------------------------------------------------------------------

    async def on_message(self, msg: Message) -> None:
        frame = msg.payload if isinstance(msg.payload, str) else json.dumps(msg.payload)
        timeout = self.config["sendTimeout"]
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise ConnectionError(
                f"not connected to {self.config['url']} within {timeout:g} s (last error: {self.last_error or 'none'})") from None
        connection = self._connection
        if connection is None:
            raise ConnectionError(f"connection to {self.config['url']} lost")
        try:
            await connection.send(frame)
        except ConnectionClosed as exc:
            raise ConnectionError(f"connection to {self.config['url']} lost while sending: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return text or type(exc).__name__
