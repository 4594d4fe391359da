"""``websocket-server``: ResIOT's real-time WebSocket (seed 001): communications out, TX commands in."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections import deque
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from flowengine import resiot
from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.types import JSONObject

CLOSE_TOO_SLOW = 1013
"""Close code for a client whose queue overflowed ("try again later")."""
CLOSE_GOING_AWAY = 1001
CLOSE_TIMEOUT = 1.0
"""Seconds a closing handshake may take before the connection is simply dropped."""


class _Client:
    """One connected client: a bounded queue of frames and the task that writes them."""

    def __init__(self, websocket: WebSocket, capacity: int) -> None:
        self.websocket = websocket
        self.capacity = capacity
        self.frames: deque[str] = deque()
        self.ready = asyncio.Event()
        self.kicked = asyncio.Event()
        self.close_code = 1000
        self.close_reason = ""
        client = websocket.client
        self.peer = f"{client.host}:{client.port}" if client else "?"

    def offer(self, frame: str) -> bool:
        """Queue ``frame``; False when the queue is full (the caller then closes the client)."""
        if self.kicked.is_set() or len(self.frames) >= self.capacity:
            return False
        self.frames.append(frame)
        self.ready.set()
        return True

    def kick(self, code: int, reason: str) -> int:
        """Ask the connection to close; returns how many queued frames are abandoned."""
        if self.kicked.is_set():
            return 0
        self.close_code, self.close_reason = code, reason
        self.kicked.set()
        abandoned = len(self.frames)
        self.frames.clear()
        return abandoned

    async def write(self) -> None:
        while True:
            while not self.frames:
                self.ready.clear()
                await self.ready.wait()
            await self.websocket.send_text(self.frames.popleft())


class WebsocketServerNode(Node):
    """A WebSocket endpoint at ``path`` on flowengine's HTTP server, speaking ResIOT's real-time
    WebSocket (seed 001).

    Out: every message the node receives is sent to every connected client as a communication
    JSON (``CommType`` comm_rx/comm_join/comm_gwalive/comm_tx, ``Connector``, ``AppEui``,
    ``DevEui``, ``Port``, ``GatewayEUIs``, hex ``Payload``, ``Extra``, ``DT``; see
    :mod:`flowengine.resiot`), built from the canonical payload. Each client has a queue of at most
    ``clientQueue`` frames: the flow never waits for a client; a client that falls that far behind
    (slow, or gone without closing) is closed with code 1013 and the frames it missed are counted
    as dropped (status ``dropped``).

    In: a client may send a TX command ``{"function": "TX", "Payload", "AppEui", "DevEui" or
    "DevEUI", "Connector", "Port", "Reference", "Raw", "Confirm"}``. It is validated; a valid one
    is emitted on the output as the canonical downlink ``{type: "downlink", devEui, fPort, bytes
    (hex), confirmed, reference, appEui, connector}`` with ``topic`` from the config (``{DevEUI}``
    replaced), so the flow routes it to the network server. The client is answered
    ``{"Result": "Success"|"Fail", "Details", "Reference"}`` once the flow has handled the
    downlink (every node on its path done, a sink's outbox or broker confirmation included), at
    most ``replyTimeout`` seconds later; on success every client then receives it as a ``comm_tx``.

    Auth: when ``token`` is set, a client must present it as ``?token=...`` or
    ``Authorization: Bearer ...``; otherwise the handshake is refused (HTTP 403).
    Status: the number of connected clients and the frames dropped.

    Reads: ``payload`` (canonical uplink/join/gwalive/downlink, or a communication passed through).
    Writes (output): ``payload`` (canonical downlink), ``topic``, ``meta.websocket.client``."""

    type = "websocket-server"
    category = "sink"
    color = "#c0deed"
    label = "websocket server"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "path": {"title": "Path", "type": "string", "pattern": "^/[^?#]*$", "description": "URL path of the WebSocket on flowengine's server, e.g. /ws/resiot.", "default": "/ws/resiot"},
            "token": {"title": "Token", "type": "string", "writeOnly": True, "format": "password", "description": "When set, clients must send it as ?token=... or 'Authorization: Bearer ...'.", "default": ""},
            "connector": {"title": "Connector", "type": "string", "description": "Connector ID written in communications whose payload names none.", "default": ""},
            "timezone": {"title": "Timezone of DT", "type": "string", "description": "IANA timezone to express DT in; empty keeps the offset of receivedAt.", "default": ""},
            "acceptTx": {"title": "Accept TX commands", "type": "boolean", "description": "Let clients send downlink (TX) commands; when off every command is answered Fail.", "default": True},
            "topic": {"title": "Downlink topic", "type": "string", "description": "Topic of emitted downlinks; {DevEUI} becomes the device EUI (e.g. tpx/things/{DevEUI}/downlink).", "default": ""},
            "replyTimeout": {"title": "Reply timeout (s)", "type": "number", "minimum": 0.1, "maximum": 300, "description": "Longest wait for the flow to handle a downlink before answering Fail.", "default": 10},
            "clientQueue": {"title": "Frames queued per client", "type": "integer", "minimum": 1, "maximum": 100000, "description": "A client further behind than this is closed (code 1013).", "default": 1000},
            "maxClients": {"title": "Maximum clients", "type": "integer", "minimum": 1, "maximum": 10000, "description": "Connections beyond this are refused (HTTP 403).", "default": 100},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        if config["timezone"]:
            try:
                ZoneInfo(config["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                return [("/timezone", f"unknown timezone {config['timezone']!r} (expected an IANA name such as 'Europe/Paris')")]
        return []

    def __init__(self, config: JSONObject, context: Any) -> None:
        super().__init__(config, context)
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Future[None]] = set()
        self._tz = ZoneInfo(config["timezone"]) if config.get("timezone") else None
        self.dropped = 0
        self.kicked = 0
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self.context.routes.add(self.config["path"], self._endpoint, owner=self.id, websocket=True)
        self._show()

    async def stop(self) -> None:
        self._stopping = True
        self.context.routes.remove(self.config["path"], self.id, websocket=True)
        for client in list(self._clients):
            client.kick(CLOSE_GOING_AWAY, "server stopping")
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=CLOSE_TIMEOUT * 2)

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- out: broadcast ------------------------------------------------------------------------

    async def on_message(self, msg: Message) -> None:
        communication = resiot.to_communication(
            msg.payload, connector=self.config["connector"], now=self.clock.now(), tz=self._tz)
        if self._clients:
            self.broadcast(json.dumps(communication))
            # The runtime hands a burst of queued messages over without yielding; let the writers
            # run between messages so a client that keeps up is never mistaken for a slow one.
            await asyncio.sleep(0)

    def broadcast(self, frame: str) -> None:
        """Queue ``frame`` for every client; never waits."""
        for client in list(self._clients):
            if not client.offer(frame):
                self._too_slow(client)

    def _too_slow(self, client: _Client) -> None:
        if client.kicked.is_set():  # already closing: nothing more is sent to it
            return
        abandoned = client.kick(CLOSE_TOO_SLOW, f"too slow: more than {client.capacity} frames waiting")
        self.dropped += abandoned + 1
        self.kicked += 1
        self.log.warning("client %s closed: more than %d frames waiting", client.peer, client.capacity)
        self._show()

    def _show(self) -> None:
        count = len(self._clients)
        text = f"{count} client{'s' if count != 1 else ''} on {self.config['path']}"
        if self.dropped:
            text += f", {self.dropped} dropped"
        self.status(text, color="green" if count else "grey", clients=count, dropped=self.dropped, kicked=self.kicked)

    # -- connections ---------------------------------------------------------------------------

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        if self._stopping:
            await self._deny(websocket, "server stopping")
            return
        if not self._authorised(websocket):
            await self._deny(websocket, "invalid or missing token")
            return
        if len(self._clients) >= self.config["maxClients"]:
            await self._deny(websocket, f"too many clients (at most {self.config['maxClients']})")
            return
        await websocket.accept()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handlers.add(done)
        client = _Client(websocket, self.config["clientQueue"])
        self._clients.add(client)
        self._show()
        writer = asyncio.create_task(client.write(), name=f"node {self.id}: write to {client.peer}")
        reader = asyncio.create_task(self._read(client), name=f"node {self.id}: read from {client.peer}")
        kicked = asyncio.create_task(client.kicked.wait())
        try:
            await asyncio.wait({writer, reader, kicked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            try:
                self._clients.discard(client)
                for task in (writer, reader, kicked):
                    task.cancel()
                results = await asyncio.gather(writer, reader, kicked, return_exceptions=True)
                for result in results:
                    if isinstance(result, Exception) and not _is_disconnect(result):
                        self.log.warning("client %s: %s", client.peer, result)
                await self._close(client)
            finally:
                self._show()
                self._handlers.discard(done)
                done.set_result(None)

    def _authorised(self, websocket: WebSocket) -> bool:
        expected = self.config["token"]
        if not expected:
            return True
        given = websocket.query_params.get("token", "")
        header = websocket.headers.get("authorization", "")
        if not given and header[:7].lower() == "bearer ":
            given = header[7:].strip()
        return hmac.compare_digest(given.encode(), expected.encode())

    async def _deny(self, websocket: WebSocket, reason: str) -> None:
        """Refuse the handshake: the client gets HTTP 403 (a close before accepting)."""
        self.log.info("refused %s: %s", websocket.client, reason)
        await websocket.close(code=1008, reason=reason)

    async def _close(self, client: _Client) -> None:
        websocket = client.websocket
        if websocket.application_state != WebSocketState.CONNECTED or websocket.client_state != WebSocketState.CONNECTED:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await websocket.close(code=client.close_code, reason=client.close_reason)
        except TimeoutError:  # a client that does not read cannot be closed politely
            self.log.info("client %s did not take the close frame; dropping the connection", client.peer)
        except Exception as exc:  # already gone
            if not _is_disconnect(exc):
                raise

    # -- in: commands --------------------------------------------------------------------------

    async def _read(self, client: _Client) -> None:
        websocket = client.websocket
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                try:
                    text = (message.get("bytes") or b"").decode("utf-8")
                except UnicodeDecodeError as exc:
                    self._answer(client, resiot.reply(False, f"not UTF-8 at byte offset {exc.start}"))
                    continue
            answer, echo = await self._command(client, text)
            self._answer(client, answer)
            if echo is not None:
                self.broadcast(json.dumps(echo))

    def _answer(self, client: _Client, answer: JSONObject) -> None:
        if not client.offer(json.dumps(answer)):
            self._too_slow(client)

    async def _command(self, client: _Client, text: str) -> tuple[JSONObject, JSONObject | None]:
        """The answer to one command, and the ``comm_tx`` to echo to every client after it."""
        try:
            command = json.loads(text)
        except json.JSONDecodeError as exc:
            return resiot.reply(False, f"not JSON: line {exc.lineno} column {exc.colno} (byte offset {exc.pos}): {exc.msg}"), None
        reference = resiot.reference_of(command)
        if not self.config["acceptTx"]:
            return resiot.reply(False, "this WebSocket does not accept commands", reference), None
        try:
            downlink = resiot.parse_tx(command)
        except resiot.CommandError as exc:
            return resiot.reply(False, str(exc), reference), None
        failure = await self._emit(downlink, client)
        if failure:
            return resiot.reply(False, failure, reference), None
        echo = resiot.to_communication(downlink, connector=self.config["connector"], now=self.clock.now(), tz=self._tz)
        return resiot.reply(True, "", reference), echo

    async def _emit(self, downlink: JSONObject, client: _Client) -> str:
        """Send the downlink into the flow and wait until it was handled; the failure, or ``""``."""
        topic = self.config["topic"].replace("{DevEUI}", downlink["devEui"])
        delivery = Delivery()
        finished = delivery.wait()
        msg = Message(downlink, topic, {"websocket": {"client": client.peer, "path": self.config["path"]}}, delivery=delivery)
        timeout = self.config["replyTimeout"]
        try:
            async with asyncio.timeout(timeout):
                delivery.hold()
                try:
                    await self.send(msg)
                finally:
                    delivery.release()
                error = await finished
        except TimeoutError:
            return f"the flow did not handle the downlink within {timeout:g} s (it may still be sent)"
        if error is not None:
            return f"downlink failed: {error}"
        return ""


def _is_disconnect(exc: BaseException) -> bool:
    """A connection that went away (the client closed, or the transport is gone)."""
    name = type(exc).__name__
    return isinstance(exc, (asyncio.CancelledError, ConnectionError, OSError)) or name in (
        "WebSocketDisconnect", "ClientDisconnected") or (isinstance(exc, RuntimeError) and "close" in str(exc).lower())
