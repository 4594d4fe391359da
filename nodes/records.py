"""``records``: turns a decoded uplink into seed 003's data records, one message per property."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

RECORD_FIELDS = ("deviceId", "property", "timestamp", "payload", "receivedAt", "scaledPayload", "name", "unit",
                 "externalId", "propertyId", "equipmentId", "gatewayInterfaceId", "slug", "isOutOfService", "tags")
PROPERTY_META = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "description": "Human name."},
        "unit": {"type": "string", "description": "Unit, e.g. °C."},
        "scale": {"type": "number", "description": "scaledPayload = payload * scale + offset."},
        "offset": {"type": "number", "description": "Added after scaling."},
        "externalId": {"type": "string", "description": "Your id for this property."},
        "propertyId": {"type": "string", "description": "Property id."},
        "equipmentId": {"type": "string", "description": "Equipment the property belongs to."},
        "gatewayInterfaceId": {"type": "string", "description": "Gateway interface id."},
        "slug": {"type": "string", "description": "Short machine name."},
        "isOutOfService": {"type": "boolean", "description": "Marks the property out of service."},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Extra tags."},
    },
}


class RecordsNode(Node):
    """Formats a decoded canonical uplink as the data records of seed 003 (the webhook data
    format), sending one message per property (``msg.derive``, so they share the uplink's
    delivery)::

        {"deviceId": "70b3d57ed0000001", "property": "temperature", "timestamp": 1767225600000,
         "payload": 21.5, "receivedAt": 1767225600000, "scaledPayload": 21.5, "name": null,
         "unit": null, "externalId": null, "propertyId": null, "equipmentId": null,
         "gatewayInterfaceId": null, "slug": null, "isOutOfService": null, "tags": {}}

    Reads: the properties at ``source`` (default ``payload.decoded``; nested objects become
    dotted names such as ``battery.voltage``), the device id at ``deviceId`` (default
    ``payload.devEui``), the measurement time at ``timestamp`` and the reception time at
    ``receivedAt`` (ISO 8601 strings or epoch numbers; both ``payload.receivedAt`` by default;
    the clock's time when missing). ``timestamp`` and ``receivedAt`` are written in epoch ms.
    ``scaledPayload`` is ``payload * scale + offset`` for numbers (null otherwise). ``properties``
    adds per-property metadata (name, unit, scale, offset, externalId, propertyId, equipmentId,
    gatewayInterfaceId, slug, isOutOfService, tags); ``tags`` and ``tagFields`` (tag -> message
    path) add tags to every record (values as strings). Optional fields are null when unknown.
    ``include`` keeps only the named properties.

    Writes: ``payload`` (one record), ``meta.kind`` (``kind``, ``values`` by default, which
    ``http-out`` uses to pick the values route). With ``batch`` on, one message carries the list
    of records instead."""

    type = "records"
    category = "transform"
    color = "#c7e9c0"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "source": {"title": "Properties", "type": "string", "default": "payload.decoded",
                       "description": "Path of the object of decoded properties."},
            "deviceId": {"title": "Device id", "type": "string", "default": "payload.devEui",
                         "description": "Path of the device id."},
            "timestamp": {"title": "Timestamp", "type": "string", "default": "payload.receivedAt",
                          "description": "Path of the measurement time (ISO 8601 or epoch s/ms)."},
            "receivedAt": {"title": "Received at", "type": "string", "default": "payload.receivedAt",
                           "description": "Path of the reception time (ISO 8601 or epoch s/ms)."},
            "properties": {"title": "Property metadata", "type": "object", "default": {},
                           "additionalProperties": PROPERTY_META,
                           "description": "Property name -> name, unit, scale, offset, ids, slug, tags."},
            "include": {"title": "Only these properties", "type": "array", "items": {"type": "string"}, "default": [],
                        "description": "Property names to keep; empty keeps all."},
            "tags": {"title": "Tags", "type": "object", "additionalProperties": {"type": "string"}, "default": {},
                     "description": "Tags added to every record."},
            "tagFields": {"title": "Tags from fields", "type": "object", "additionalProperties": {"type": "string"},
                          "default": {}, "description": "Tag name -> message path (e.g. fPort -> payload.fPort)."},
            "kind": {"title": "Kind", "type": "string", "default": "values",
                     "description": "Written to meta.kind (http-out routes on it)."},
            "batch": {"title": "One message per uplink", "type": "boolean", "default": False,
                      "description": "Send one message with the list of records instead of one per property."},
        },
    }

    async def on_message(self, msg: Message) -> None:
        config = self.config
        properties = paths.get(msg, config["source"], None)
        if not isinstance(properties, dict):
            found = "nothing" if properties is None else type(properties).__name__
            raise ValueError(f"{config['source']}: expected an object of decoded properties, got {found} (put a codec before records)")
        device = paths.get(msg, config["deviceId"], None)
        if device is None or device == "":
            raise ValueError(f"{config['deviceId']}: missing device id")
        now_ms = int(self.clock.time() * 1000)
        received = _epoch_ms(paths.get(msg, config["receivedAt"], None), config["receivedAt"])
        timestamp = _epoch_ms(paths.get(msg, config["timestamp"], None), config["timestamp"])
        timestamp = timestamp if timestamp is not None else received if received is not None else now_ms
        tags = {**config["tags"]}
        for tag, path in config["tagFields"].items():
            value = paths.get(msg, path, None)
            if value is not None:
                tags[tag] = value if isinstance(value, str) else str(value)
        include = set(config["include"])
        records = [
            self._record(str(device), name, value, timestamp, received, tags)
            for name, value in _flatten(properties)
            if not include or name in include
        ]
        if not records:
            self.drop(msg, "no properties")
            return
        if config["batch"]:
            out = msg.derive(records)
            out.meta["kind"] = config["kind"]
            await self.send(out)
            return
        for record in records:
            out = msg.derive(record)
            out.meta["kind"] = config["kind"]
            await self.send(out)

    def _record(self, device: str, name: str, value: Any, timestamp: int, received: int | None, tags: dict[str, str]) -> JSONObject:
        meta = self.config["properties"].get(name, {})
        scaled = None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            scaled = value * meta.get("scale", 1) + meta.get("offset", 0)
        return {
            "deviceId": device,
            "property": name,
            "timestamp": timestamp,
            "payload": value,
            "receivedAt": received,
            "scaledPayload": scaled,
            "name": meta.get("name"),
            "unit": meta.get("unit"),
            "externalId": meta.get("externalId"),
            "propertyId": meta.get("propertyId"),
            "equipmentId": meta.get("equipmentId"),
            "gatewayInterfaceId": meta.get("gatewayInterfaceId"),
            "slug": meta.get("slug"),
            "isOutOfService": meta.get("isOutOfService"),
            "tags": {**tags, **meta.get("tags", {})},
        }


def _flatten(properties: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for key, value in properties.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            found.extend(_flatten(value, name + "."))
        else:
            found.append((name, value))
    return found


def _epoch_ms(value: Any, where: str) -> int | None:
    """ISO 8601 text or epoch seconds/milliseconds -> epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a time, got {value!r}")
    if isinstance(value, int | float):
        return int(value if value > 1e11 else value * 1000)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{where}: not an ISO 8601 time: {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{where}: time without a UTC offset: {value!r}")
        return int(parsed.timestamp() * 1000)
    raise ValueError(f"{where}: expected a time, got {type(value).__name__}")
