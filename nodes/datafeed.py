"""``datafeed``: decoded device values in seed 002's data-feed format (or one message per property)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject
from nodes.mqtt_out import TemplateError, TopicTemplate


def feed_time(value: Any, fallback: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the data-feed examples write it."""
    when = fallback
    if isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"time: {value!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        when = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DatafeedNode(Node):
    """Turns the decoded values of an uplink into seed 002's data feed.

    ``mode: json`` sends one message, payload ``{"dps": [{"t": ISO 8601, "v": value, "prop": name}, ...]}``,
    on topic ``<topicPrefix>/<id>/json``; ``mode: properties`` sends one message per property, payload
    the raw value, on ``<topicPrefix>/<id>/properties/<name>`` (names lowercased, as the platform
    requires). ``deviceId`` is a template (``{devEui}`` by default) for the platform's device id.

    Reads: the object at ``source`` (default ``payload.decoded``), the time at ``timePath`` (default
    ``payload.receivedAt``; the current time when absent), the fields ``deviceId`` names. Writes:
    ``payload``, ``topic``, ``meta.id`` (device id), ``meta.name`` (property, properties mode), so an
    ``mqtt-out`` can also use ``connio/data/out/devices/{id}/properties/{name}``."""

    type = "datafeed"
    category = "transform"
    label = "data feed"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "mode": {"title": "Output", "type": "string", "enum": ["json", "properties"], "description": "json: one {dps: [...]} message; properties: one message per property.", "default": "json"},
            "source": {"title": "Values", "type": "string", "description": "Dotted path of the object of property -> value.", "default": "payload.decoded"},
            "timePath": {"title": "Time", "type": "string", "description": "Dotted path of the measurement time (ISO 8601 or epoch); empty uses the current time.", "default": "payload.receivedAt"},
            "deviceId": {"title": "Device id", "type": "string", "description": "Template of the platform's device id, e.g. '{devEui}' or 'dev_{devEui}'.", "default": "{devEui}"},
            "topicPrefix": {"title": "Topic prefix", "type": "string", "description": "Topic before '/<id>/json' or '/<id>/properties/<name>'.", "default": "connio/data/out/devices"},
            "lowercase": {"title": "Lowercase names", "type": "boolean", "description": "Lowercase property names (the platform requires it in topics).", "default": True},
            "skipObjects": {"title": "Skip nested objects", "type": "boolean", "description": "Leave out values that are objects or lists (keep them off to send them as JSON values).", "default": False},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        problems = [("/deviceId", reason) for reason in TopicTemplate.problems(config.get("deviceId", ""))]
        for field in ("source", "timePath"):
            value = config.get(field, "")
            if value and paths.split(value)[0] not in paths.ROOTS:
                problems.append((f"/{field}", f"{value!r} is not a message path"))
        return problems

    async def start(self) -> None:
        self.device = TopicTemplate(self.config["deviceId"])

    def points(self, msg: Message) -> tuple[str, str, list[tuple[str, Any]]]:
        """(device id, time, [(name, value)]) of a message."""
        values = paths.get(msg, self.config["source"], None)
        if not isinstance(values, dict):
            raise ValueError(f"node {self.id} (datafeed): {self.config['source']}: expected an object of property -> value, "
                             f"got {type(values).__name__}")
        stamp = paths.get(msg, self.config["timePath"], None) if self.config["timePath"] else None
        try:
            time = feed_time(stamp, self.clock.now())
            device = self.device.render(msg)
        except (TemplateError, ValueError) as exc:
            raise ValueError(f"node {self.id} (datafeed): {exc}") from None
        if not device:
            raise ValueError(f"node {self.id} (datafeed): deviceId: empty")
        lower = self.config["lowercase"]
        items = [(name.lower() if lower else name, value) for name, value in values.items()
                 if not (self.config["skipObjects"] and isinstance(value, dict | list))]
        return device, time, items

    async def on_message(self, msg: Message) -> Message | None:
        device, time, items = self.points(msg)
        prefix = self.config["topicPrefix"].rstrip("/")
        if self.config["mode"] == "json":
            msg.payload = {"dps": [{"t": time, "v": value, "prop": name} for name, value in items]}
            msg.topic = f"{prefix}/{device}/json"
            msg.meta["id"] = device
            return msg
        if not items:
            self.drop(msg, "no values")
            return None
        for name, value in items:
            out = msg.derive(value, f"{prefix}/{device}/properties/{name}")
            out.meta["id"] = device
            out.meta["name"] = name
            out.meta["t"] = time
            await self.send(out)
        return None
