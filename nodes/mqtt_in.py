"""``mqtt-in``: subscribes to topic filters on a broker; acknowledges each message once handled."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections import deque
from typing import Any, ClassVar

import orjson

from flowengine.message import Delivery, Message
from flowengine.mqtt_client import ConnectionState, Incoming, MqttClient, Subscription
from flowengine.node import Node
from flowengine.types import JSONObject
from nodes.mqtt_broker import status_of

DRAIN_SECONDS = 5.0


class PayloadError(ValueError):
    """A received payload is not in the format the node was asked to read."""


def _ack(client: MqttClient, incoming: Incoming, error: BaseException | None) -> None:
    """Acknowledge to the broker once the flow is done with the message (a failed one was handed to error handling)."""
    client.ack(incoming)


def _loads(data: bytes | str) -> Any:
    """orjson for speed; on a failure, json again for its error, which names line, column and offset."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def decode_payload(data: bytes, fmt: str) -> tuple[Any, str]:
    """(payload, encoding) of the raw bytes: ``json``, ``text`` or ``hex`` (bytes as lowercase hex)."""
    if fmt == "bytes":
        return data.hex(), "hex"
    if fmt == "json":
        try:
            return _loads(data), "json"
        except UnicodeDecodeError as exc:
            raise PayloadError(f"payload: not UTF-8 at byte {exc.start}") from None
        except json.JSONDecodeError as exc:
            raise PayloadError(f"payload: not JSON at byte {exc.pos}: {exc.msg}") from None
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        if fmt == "text":
            raise PayloadError(f"payload: not UTF-8 at byte {exc.start}") from None
        return data.hex(), "hex"
    if fmt == "auto" and text[:1] in '{["-0123456789tfn' and text:
        try:
            return _loads(data), "json"
        except json.JSONDecodeError:
            pass
    return text, "text"


class MqttInNode(Node):
    """Subscribes to ``topic`` (a filter; ``+`` and ``#`` wildcards) on the broker of ``broker`` and
    sends one message per PUBLISH received. With ``group`` set it subscribes as
    ``$share/<group>/<topic>``, so several runners share the stream (the broker balances it).

    At least once: a QoS 1 message is acknowledged (PUBACK) only when every node downstream is
    done with it (delivered, stored in an outbox, filtered out or handed to error handling); if the
    runner dies before, the broker redelivers it (use a broker with a fixed client id and clean
    session off). A payload that is not in the asked ``payloadFormat`` is a per-message error (the
    message goes to catch nodes with the raw text); the flow goes on. Reading pauses while the flow
    downstream is full. (Except where an ``mqtt-out`` publishes through the same broker node: its
    PUBACKs arrive on this connection, so the client reads on for them, and a broker that ignores its
    in-flight limit, as Mosquitto 2.0.11 does after the first acknowledgements, has whatever it sent
    ahead of them held in memory: 140,000 messages at the peak of a 300,000 blast.)

    Writes: ``topic`` (the MQTT topic); ``payload`` (JSON value, text, or the bytes as lowercase hex);
    ``meta.mqtt`` = ``{topic, qos, retain, dup, encoding, properties (MQTT 5)}``."""

    type = "mqtt-in"
    category = "source"
    inputs = 0
    label = "MQTT in"
    color = "#d8bfd8"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["broker", "topic"],
        "properties": {
            "broker": {"title": "Broker", "type": "string", "x-node-type": "mqtt-broker", "description": "The mqtt-broker node to connect through."},
            "topic": {"title": "Topic filter", "type": "string", "minLength": 1, "description": "Topic filter; '+' matches one level, '#' the rest (e.g. 'application/+/device/+/event/up')."},
            "qos": {"title": "QoS", "type": "integer", "enum": [0, 1, 2], "description": "Subscription QoS; 1 gives at-least-once with acknowledgement after handling.", "default": 1},
            "group": {"title": "Shared subscription group", "type": "string", "pattern": "^[^/+#]*$", "description": "Subscribe as $share/<group>/<topic> so several runners split the stream; empty for a normal subscription.", "default": ""},
            "payloadFormat": {"title": "Payload", "type": "string", "enum": ["auto", "json", "text", "bytes"], "description": "auto: JSON if it parses, else text, else hex; json: must be JSON (else a per-message error); text: UTF-8; bytes: lowercase hex.", "default": "auto"},
        },
    }

    client: MqttClient

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        return [("/topic", reason) for reason in filter_problems(config.get("topic", ""))]

    async def start(self) -> None:
        broker = self.config_node(self.config["broker"])
        self.client = broker.client  # type: ignore[attr-defined]
        self._inbox: deque[Incoming] = deque()
        self._wakeup = asyncio.Event()
        self._paused = False
        self._high = max(64, self.client.settings.inflight)
        self._low = self._high // 2
        self.errors = 0
        self.peak = 0
        """The most messages received and not yet handed on at once (bounded by pausing the socket)."""
        topic = self.config["topic"]
        if self.config["group"]:
            topic = f"$share/{self.config['group']}/{topic}"
        self.client.add_listener(self._show)
        self.spawn(self._pump(), "pump")
        self._subscription: Subscription | None = self.client.subscribe(topic, self.config["qos"], self._receive)

    def _show(self, state: ConnectionState) -> None:
        text, color = status_of(state)
        self.status(text, color, state=state.state)

    def _receive(self, incoming: Incoming) -> None:
        """Called by the client for each PUBLISH (on the event loop, synchronously)."""
        self._inbox.append(incoming)
        if len(self._inbox) > self.peak:
            self.peak = len(self._inbox)
        if len(self._inbox) == 1:
            self._wakeup.set()
        if not self._paused and len(self._inbox) >= self._high:
            self._paused = True
            self.client.pause_reading(self)

    async def _pump(self) -> None:
        inbox = self._inbox
        client = self.client
        fmt = self.config["payloadFormat"]
        prefix = uuid.uuid4().hex[:20]  # message ids: unique, without a uuid4 per message
        count = 0
        while True:
            if not inbox:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            incoming = inbox.popleft()
            if self._paused and len(inbox) <= self._low:
                self._paused = False
                client.resume_reading(self)
            delivery = Delivery(functools.partial(_ack, client, incoming))
            meta: dict[str, Any] = {"mqtt": {"topic": incoming.topic, "qos": incoming.qos, "retain": incoming.retain, "dup": incoming.dup}}
            if incoming.properties:
                meta["mqtt"]["properties"] = incoming.properties
            delivery.hold()
            try:
                try:
                    payload, encoding = decode_payload(incoming.payload, fmt)
                except PayloadError as exc:
                    self.errors += 1
                    meta["mqtt"]["encoding"] = "text"
                    raw = incoming.payload.decode(errors="replace")
                    msg = Message(raw, incoming.topic, meta, delivery=delivery)
                    await self.error(msg, PayloadError(f"node {self.id} (mqtt-in): {exc} (topic {incoming.topic!r})"))
                    continue
                meta["mqtt"]["encoding"] = encoding
                count += 1
                await self.send(Message(payload, incoming.topic, meta, f"{prefix}{count:x}", delivery))
            finally:
                delivery.release()

    async def stop(self) -> None:
        """Stop taking messages, then hand on what was already received (for up to DRAIN_SECONDS;
        the flow downstream still runs). What is left stays unacknowledged, so the broker
        redelivers it; with a persistent session the subscription stays at the broker too."""
        subscription, self._subscription = getattr(self, "_subscription", None), None
        if subscription is None:
            return
        if self.client.settings.clean_session:
            self.client.unsubscribe(subscription)
        else:
            self.client.forget(subscription)
        self.client.resume_reading(self)
        self.client.remove_listener(self._show)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                while self._inbox and self.client.connected:
                    await asyncio.sleep(0.01)


def filter_problems(topic: str) -> list[str]:
    """Why ``topic`` is not a valid MQTT topic filter (empty when it is)."""
    if not topic:
        return ["a topic filter cannot be empty"]
    problems = []
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            problems.append("'#' must be a whole level and the last one")
        if "+" in level and level != "+":
            problems.append("'+' must be a whole level")
    if topic.startswith("$share/"):
        problems.append("use the group field for shared subscriptions, not a $share/ prefix")
    if "\x00" in topic:
        problems.append("a topic filter cannot contain NUL")
    return problems
