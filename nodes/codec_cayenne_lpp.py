"""``codec-cayenne-lpp``: decodes and encodes Cayenne LPP payloads."""

from __future__ import annotations

from typing import ClassVar

from flowengine import lpp, uplink
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject


class CodecCayenneLppNode(Node):
    """Decodes Cayenne Low Power Payload uplinks and encodes downlinks, by channel, with The Things
    Stack's naming: ``<type>_<channel>`` (``temperature_3: 27.2``, ``gps_1: {latitude, longitude,
    altitude}``, ``accelerometer_6: {x, y, z}``); see :mod:`flowengine.lpp` for the types.

    Decoding reads ``payload.bytes`` (hex, a canonical uplink) and writes ``payload.decoded``. Encoding
    takes ``payload.data`` (the same names) and writes ``payload.bytes`` (hex) and ``payload.fPort``
    (the payload's, else ``fPort``), giving a canonical downlink. ``mode: auto`` encodes a downlink
    that has ``data`` and no ``bytes`` and decodes everything else; join and gateway-alive events
    pass unchanged. An unknown type or a truncated value fails the message, naming the byte offset."""

    type = "codec-cayenne-lpp"
    category = "codec"
    color = "#fdd0a2"
    label = "Cayenne LPP"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "mode": {"title": "Mode", "enum": ["auto", "decode", "encode"],
                     "description": "auto: encode downlinks with data and no bytes, decode the rest.", "default": "auto"},
            "fPort": {"title": "Downlink port", "type": "integer", "minimum": 1, "maximum": 223,
                      "description": "LoRaWAN port of encoded downlinks whose payload has no fPort.", "default": 1},
        },
    }

    async def on_message(self, msg: Message) -> Message:
        payload = msg.payload
        if not isinstance(payload, dict):
            raise ValueError(f"payload: expected a canonical uplink or downlink object, got {type(payload).__name__}")
        mode = self.config["mode"]
        kind = payload.get("type", "uplink")
        if mode == "auto":
            if kind in ("join", "gwalive"):
                return msg
            mode = "encode" if kind == "downlink" and "data" in payload and not payload.get("bytes") else "decode"
        if mode == "encode":
            if not isinstance(payload.get("data"), dict):
                raise ValueError("payload.data: expected an object of <type>_<channel> values to encode")
            try:
                encoded = lpp.encode(payload["data"])
            except lpp.LppError as exc:
                raise ValueError(f"payload.data.{exc}") from None
            payload["type"] = "downlink"
            payload["bytes"] = encoded.hex()
            if payload.get("fPort") is None:
                payload["fPort"] = self.config["fPort"]
            payload.setdefault("confirmed", False)
            payload.setdefault("reference", None)
            return msg
        if "bytes" not in payload:
            raise ValueError("payload.bytes: missing (put uplink-normalise before the codec)")
        data = uplink.payload_bytes(payload["bytes"], "hex", "payload.bytes")
        try:
            payload["decoded"] = lpp.decode(data)
        except lpp.LppError as exc:
            raise ValueError(f"payload.bytes: {exc}") from None
        return msg
