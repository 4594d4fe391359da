"""``uplink-normalise``: turns network-server uplink JSON into the canonical uplink payload."""

from __future__ import annotations

import json
from typing import ClassVar

from flowengine import paths, uplink
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject


class UplinkNormaliseNode(Node):
    """Reads the network server's JSON at ``property`` (an object, or JSON text or bytes, as an
    MQTT or HTTP source delivers it) and replaces ``payload`` with the canonical uplink of
    :mod:`flowengine.uplink`: ``type``, ``devEui``, ``joinEui``, ``fPort``, ``fCnt``, ``bytes`` (hex),
    ``receivedAt``, ``rx``, ``frequency``, ``sf``, ``bw`` and, when present, ``decoded`` and ``extra``.

    ``format`` picks the input shape or ``auto`` detects it: ChirpStack v4 (``deviceInfo.devEui``),
    The Things Stack v3 (``end_device_ids``), ResIOT (``CommType``, seed 001), generic
    (``{devEui, fPort, payload}``, hex or base64 by ``payloadEncoding``) or canonical (checked and
    passed on). Joins, gateway-alive and downlink events keep their ``type``; a ChirpStack event name
    is taken from a topic ending in ``/event/<name>``. When the input has no time, ``receivedAt`` is
    the time the node handled it. An input of unknown shape fails that message with an error saying
    what is missing.

    Writes: ``payload`` (canonical), ``meta.uplink.format`` (the detected shape) and, with
    ``keepOriginal``, ``meta.uplink.original`` (the input as it came)."""

    type = "uplink-normalise"
    category = "codec"
    color = "#fdd0a2"
    label = "normalise uplink"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "format": {"title": "Input format", "enum": ["auto", *uplink.SHAPES],
                       "description": "The network server's JSON shape; auto detects it per message.", "default": "auto"},
            "property": {"title": "Read from", "type": "string", "minLength": 1,
                         "description": "Dotted path of the network server's JSON (object, JSON text or bytes).", "default": "payload"},
            "payloadEncoding": {"title": "Generic payload encoding", "enum": ["auto", "hex", "base64"],
                                "description": "How the generic shape's payload is encoded; auto takes even-length hex text as hex, else base64.",
                                "default": "auto"},
            "keepOriginal": {"title": "Keep the original", "type": "boolean",
                             "description": "Also keep the input JSON in meta.uplink.original.", "default": False},
        },
    }

    async def on_message(self, msg: Message) -> Message:
        where = self.config["property"]
        value = paths.get(msg, where, None)
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("utf-8", errors="strict")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not JSON: line {exc.lineno} column {exc.colno} (byte offset {exc.pos}): {exc.msg}") from None
        shape = self.config["format"]
        if shape == "auto":
            shape = uplink.detect(value)
            if shape is None:
                raise ValueError(f"{where}: {uplink.missing_for(value)}")
        event = _event_from_topic(msg.topic) if shape == "chirpstack" else None
        try:
            canonical = uplink.normalise(value, shape, event=event, received_at=self.clock.now(),
                                         encoding=self.config["payloadEncoding"])
        except uplink.UplinkError as exc:
            raise ValueError(f"{where}: {exc}") from None
        info: JSONObject = {"format": shape}
        if self.config["keepOriginal"]:
            info["original"] = value
        msg.meta["uplink"] = info
        msg.payload = canonical
        return msg


def _event_from_topic(topic: str) -> str | None:
    """``up`` from ``application/<id>/device/<devEui>/event/up`` (ChirpStack v4 MQTT topics)."""
    parts = topic.rsplit("/", 2)
    if len(parts) == 3 and parts[1] == "event":
        return parts[2]
    return None
