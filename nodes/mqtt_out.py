"""``mqtt-out``: publishes messages to a broker; a message counts as delivered on PUBACK."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from flowengine import paths
from flowengine.message import Delivery, Message
from flowengine.mqtt_client import ConnectionState, MqttClient
from flowengine.node import Node
from flowengine.types import JSONObject
from nodes.mqtt_broker import status_of

PLACEHOLDER = re.compile(r"\{([^{}|]+)(?:\|(lower|upper))?\}")
_ROOTS = ("payload.", "meta.")


class TemplateError(ValueError):
    """A topic template that cannot be filled from a message."""


def _lookup(msg: Message, name: str) -> Any:
    """The value a placeholder names: a path from ``payload.``/``meta.`` or ``topic`` when written
    so; otherwise the payload's field (dotted path, then a case-insensitive top-level key, so
    ``{DevEUI}`` finds ``devEui``), then the same in ``meta``."""
    if name.startswith(_ROOTS) or name == "topic":
        return paths.get(msg, name, paths.MISSING)
    for root in (msg.payload, msg.meta):
        if not isinstance(root, dict):
            continue
        if name in root:
            return root[name]
        if "." in name:
            value = paths.get(Message(root), "payload." + name, paths.MISSING)
            if value is not paths.MISSING:
                return value
        lowered = name.lower()
        for key, value in root.items():
            if key.lower() == lowered:
                return value
    return paths.MISSING


class TopicTemplate:
    """A topic with ``{placeholder}`` parts (``{DevEUI}``, ``{id}``, ``{name|lower}``, any message
    field), compiled once. An empty template means "use the message's ``topic``"."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.parts: list[tuple[str, str | None]] = []
        """(literal, None) or (placeholder name, filter)."""
        position = 0
        for match in PLACEHOLDER.finditer(template):
            if match.start() > position:
                self.parts.append((template[position:match.start()], None))
            self.parts.append((match.group(1).strip(), match.group(2) or ""))
            position = match.end()
        if position < len(template):
            self.parts.append((template[position:], None))
        self.static = all(kind is None for _, kind in self.parts)

    @staticmethod
    def problems(template: str) -> list[str]:
        rest = PLACEHOLDER.sub("x", template)
        problems = []
        if "{" in rest or "}" in rest:
            problems.append("unbalanced '{' or '}' (placeholders look like {DevEUI} or {name|lower})")
        if "+" in rest or "#" in rest:
            problems.append("a topic to publish to cannot contain the wildcards '+' or '#'")
        return problems

    def render(self, msg: Message) -> str:
        if self.static:
            return self.template
        out = []
        for text, kind in self.parts:
            if kind is None:
                out.append(text)
                continue
            value = _lookup(msg, text)
            if value is paths.MISSING or value is None or isinstance(value, dict | list):
                raise TemplateError(f"topic: placeholder {{{text}}} has no text value in the message")
            value = str(value).lower() if isinstance(value, bool) else str(value)
            if kind == "lower":
                value = value.lower()
            elif kind == "upper":
                value = value.upper()
            out.append(value)
        return "".join(out)




def to_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON: orjson, or json for what orjson refuses (e.g. integer keys)."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def encode_payload(payload: Any, fmt: str) -> bytes:
    if fmt == "json":
        return to_json(payload)
    if fmt == "bytes":
        if not isinstance(payload, str):
            raise TypeError(f"payload: bytes format needs a hex string, got {type(payload).__name__}")
        try:
            return bytes.fromhex(payload)
        except ValueError as exc:
            raise ValueError(f"payload: not hex: {exc}") from None
    # text
    if isinstance(payload, str):
        return payload.encode()
    return to_json(payload)


class MqttOutNode(Node):
    """Publishes each message to the broker of ``broker``, on the topic made from ``topic``:
    placeholders such as ``tpx/things/{DevEUI}/uplink`` (seed 004) or
    ``connio/data/out/devices/{id}/properties/{name|lower}`` (seed 002) are filled from the payload's
    fields, then ``meta``'s (case-insensitively); ``appendDevEui`` adds ``/<payload.devEui>`` (seed
    000); an empty topic publishes on the message's own ``topic``.

    A message counts as delivered on PUBACK (QoS 1) or PUBCOMP (QoS 2): only then does an upstream
    ``mqtt-in`` acknowledge its source message. While the broker is away, messages wait (the
    broker's in-flight window, then a queue of ``queueLimit``) and go out on reconnect, none lost;
    past that ``overflow`` decides: ``wait`` (backpressure up the flow) or ``drop`` (counted in the
    status and the node's drop counter; Node-RED drops silently here, its issue #2864).

    Reads: ``payload`` (JSON-encoded, or text, or a hex string for bytes), ``topic`` (when the
    template is empty), the fields the template names. Writes nothing (a sink)."""

    type = "mqtt-out"
    category = "sink"
    outputs = 0
    label = "MQTT out"
    color = "#d8bfd8"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["broker"],
        "properties": {
            "broker": {"title": "Broker", "type": "string", "x-node-type": "mqtt-broker", "description": "The mqtt-broker node to publish through."},
            "topic": {"title": "Topic", "type": "string", "description": "Topic or template, e.g. 'tpx/things/{DevEUI}/uplink'; empty uses the message's topic.", "default": ""},
            "appendDevEui": {"title": "Append /<DevEUI>", "type": "boolean", "description": "Add '/' and the payload's devEui to the topic (seed 000: 'mytopic/11223344aabbccdd').", "default": False},
            "qos": {"title": "QoS", "type": "integer", "enum": [0, 1, 2], "description": "Publish QoS; 1 confirms delivery with PUBACK.", "default": 1},
            "retain": {"title": "Retain", "type": "boolean", "description": "Ask the broker to keep the last message of each topic.", "default": False},
            "payloadFormat": {"title": "Payload", "type": "string", "enum": ["json", "text", "bytes"], "description": "json: the payload as JSON; text: strings as they are, other values as JSON; bytes: the payload is a hex string.", "default": "json"},
            "queueLimit": {"title": "Queue while disconnected", "type": "integer", "minimum": 1, "description": "Messages kept while the broker is unreachable or the in-flight window is full.", "default": 10000},
            "overflow": {"title": "When the queue is full", "type": "string", "enum": ["wait", "drop"], "description": "wait: hold the flow back (nothing lost); drop: drop the message and count it.", "default": "wait"},
        },
    }

    client: MqttClient

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        return [("/topic", reason) for reason in TopicTemplate.problems(config.get("topic", ""))]

    async def start(self) -> None:
        broker = self.config_node(self.config["broker"])
        self.client = broker.client  # type: ignore[attr-defined]
        self.template = TopicTemplate(self.config["topic"])
        self._append_dev_eui, self._format = self.config["appendDevEui"], self.config["payloadFormat"]
        self._qos, self._retain = self.config["qos"], self.config["retain"]
        self.backlog: deque[tuple[str, bytes, Callable[[BaseException | None], None] | None]] = deque()
        self.dropped = 0
        self._limit = self.config["queueLimit"]
        self._full = False
        """The backlog reached ``queueLimit`` with ``overflow: wait``: input paused."""
        self._connection = "disconnected"
        self.client.add_listener(self._show)

    def _show(self, state: ConnectionState) -> None:
        self._connection = state.state
        text, color = status_of(state)
        if self.dropped:
            text, color = f"{text}; {self.dropped} dropped (queue full)", "yellow" if color == "green" else color
        self.status(text, color, state=state.state, dropped=self.dropped)

    def topic_for(self, msg: Message) -> str:
        topic = self.template.render(msg) if self.template.template else msg.topic
        if self._append_dev_eui:
            dev_eui = msg.payload.get("devEui") if isinstance(msg.payload, dict) else None
            if not isinstance(dev_eui, str) or not dev_eui:
                raise TemplateError("topic: appendDevEui is on but the payload has no devEui")
            topic = f"{topic.rstrip('/')}/{dev_eui.lower()}" if topic else dev_eui.lower()
        if not topic:
            raise TemplateError("topic: empty (no template and the message has no topic)")
        if "+" in topic or "#" in topic:
            raise TemplateError(f"topic: {topic!r} contains a wildcard")
        return topic

    def on_message(self, msg: Message) -> None:
        topic = self.topic_for(msg)
        data = to_json(msg.payload) if self._format == "json" else encode_payload(msg.payload, self._format)
        held: Delivery | None = msg.delivery.hold() if msg.delivery is not None else None
        on_done = held.settle if held is not None else None
        backlog = self.backlog
        if not backlog and self.client.publish(topic, data, self._qos, self._retain, on_done):
            return
        if len(backlog) >= self._limit and self.config["overflow"] == "drop":
            self.dropped += 1
            self.drop(msg, "queue full while the broker is unreachable")
            if held is not None:
                held.fail(RuntimeError(f"node {self.id} (mqtt-out): dropped, queue of {self._limit} full"))
                held.release()
            if self.dropped == 1 or self.dropped % 100 == 0:
                self._show(self.client.state)
            return
        backlog.append((topic, data, on_done))
        if len(backlog) == 1:
            self.client.when_ready(self._drain)
        if len(backlog) >= self._limit and self.config["overflow"] == "wait":
            self._full = True
            self.pause_input()  # the rest waits upstream

    def _drain(self) -> None:
        """Move the backlog into the client while the in-flight window has room (called by the
        client on a PUBACK or a reconnect); input paused at ``queueLimit`` resumes at half of it, so
        the flow upstream moves in batches rather than a message per PUBACK."""
        backlog, publish = self.backlog, self.client.publish
        qos, retain = self._qos, self._retain
        while backlog:
            topic, data, on_done = backlog[0]
            try:
                taken = publish(topic, data, qos, retain, on_done)
            except Exception as exc:  # noqa: BLE001 - paho refused a QoS 2 message: it fails, the rest goes on
                self.log.error("publish to %r failed: %s", topic, exc)
                taken = True
                if on_done is not None:
                    on_done(exc)
            if not taken:
                self.client.when_ready(self._drain)
                break
            backlog.popleft()
        if self._full and len(backlog) <= self._limit // 2:
            self._full = False
            self.resume_input()

    async def stop(self) -> None:
        """Give queued messages a moment to go out; those left are never confirmed, so their
        source (an mqtt-in) does not acknowledge them and the broker redelivers."""
        backlog = getattr(self, "backlog", None)
        if backlog and self.client.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    while backlog and self.client.connected:
                        await asyncio.sleep(0.01)
        if hasattr(self, "client"):
            self.client.cancel_ready(self._drain)
            self.client.remove_listener(self._show)
