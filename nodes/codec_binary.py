"""``codec-binary``: decodes fixed binary layouts declared per fPort, without code."""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from flowengine import uplink
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

SIZES = {"u8": 1, "i8": 1, "u16": 2, "i16": 2, "u24": 3, "i24": 3, "u32": 4, "i32": 4, "f32": 4, "bits": 1}

FIELD_SCHEMA: JSONObject = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "offset", "type"],
    "properties": {
        "name": {"title": "Name", "type": "string", "minLength": 1, "description": "Property name in payload.decoded."},
        "offset": {"title": "Byte offset", "type": "integer", "minimum": 0, "description": "Byte offset of the value in the payload."},
        "type": {"title": "Type", "enum": list(SIZES), "description": "u8/i8/u16/i16/u24/i24/u32/i32 (unsigned/signed integers), f32 (IEEE float) or bits (of one byte)."},
        "endian": {"title": "Byte order", "enum": ["big", "little"], "description": "Byte order of multi-byte values (default big).", "default": "big"},
        "bit": {"title": "First bit", "type": "integer", "minimum": 0, "maximum": 7, "description": "bits: the lowest bit of the field (0 = least significant).", "default": 0},
        "bits": {"title": "Bit count", "type": "integer", "minimum": 1, "maximum": 8, "description": "bits: how many bits (1 gives a boolean).", "default": 1},
        "scale": {"title": "Scale", "type": "number", "description": "The value is raw * scale + add.", "default": 1},
        "add": {"title": "Offset added", "type": "number", "description": "Added after scaling.", "default": 0},
        "unit": {"title": "Unit", "type": "string", "description": "Unit of the value, reported in meta.codec.units.", "default": ""},
    },
}


class CodecBinaryNode(Node):
    """Decodes ``payload.bytes`` (hex, a canonical uplink) with a declared layout: ``ports`` lists, per
    ``fPort`` (omit it for a layout used on any other port), the fields to read, each with a name, a byte
    offset, a type (``u8``, ``i8``, ``u16``, ``i16``, ``u24``, ``i24``, ``u32``, ``i32``, ``f32`` or
    ``bits``), endianness, ``scale``, ``add`` and ``unit``. The value is ``raw * scale + add``, rounded
    to 10 decimals so 231 * 0.01 gives 2.31; a one-bit field gives a boolean.

    Writes ``payload.decoded`` (name -> value) and ``meta.codec.units`` (name -> unit, for fields that
    have one). A payload too short for a field fails the message, naming the field and byte offsets; a
    port with no layout fails it too, unless ``unknownPort`` is ``pass``. Join, gateway-alive and downlink
    events pass unchanged."""

    type = "codec-binary"
    category = "codec"
    color = "#fdd0a2"
    label = "binary layout"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["ports"],
        "properties": {
            "ports": {
                "title": "Layouts by port",
                "type": "array",
                "description": "One layout per fPort; a layout without fPort applies to every other port.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["fields"],
                    "properties": {
                        "fPort": {"title": "Port", "type": ["integer", "null"], "minimum": 0, "maximum": 255, "description": "The LoRaWAN port; null (or omitted) for any other port.", "default": None},
                        "fields": {"title": "Fields", "type": "array", "items": FIELD_SCHEMA, "description": "The fields, read in order."},
                    },
                },
            },
            "unknownPort": {"title": "Port without a layout", "enum": ["error", "pass"],
                            "description": "error: fail the message; pass: send it on without decoded.", "default": "error"},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        problems = []
        seen: set[Any] = set()
        for index, layout in enumerate(config["ports"]):
            port = layout.get("fPort")
            if port in seen:
                problems.append((f"/ports/{index}/fPort", f"a layout for {'any port' if port is None else f'port {port}'} is already declared"))
            seen.add(port)
            names: set[str] = set()
            for number, field in enumerate(layout["fields"]):
                if field["name"] in names:
                    problems.append((f"/ports/{index}/fields/{number}/name", f"duplicate field name {field['name']!r}"))
                names.add(field["name"])
                if field["type"] == "bits" and field.get("bit", 0) + field.get("bits", 1) > 8:
                    problems.append((f"/ports/{index}/fields/{number}/bits", "bit + bits must not exceed 8"))
        return problems

    async def start(self) -> None:
        self._layouts = {layout.get("fPort"): layout["fields"] for layout in self.config["ports"]}

    async def on_message(self, msg: Message) -> Message:
        payload = msg.payload
        if not isinstance(payload, dict):
            raise ValueError(f"payload: expected a canonical uplink object, got {type(payload).__name__}")
        if payload.get("type", "uplink") != "uplink":
            return msg
        if "bytes" not in payload:
            raise ValueError("payload.bytes: missing (put uplink-normalise before the codec)")
        data = bytes.fromhex(uplink.payload_to_hex(payload["bytes"], "hex", "payload.bytes"))
        port = payload.get("fPort")
        fields = self._layouts.get(port, self._layouts.get(None))
        if fields is None:
            if self.config["unknownPort"] == "pass":
                return msg
            raise ValueError(f"payload.fPort: no layout for port {port}")
        payload["decoded"], units = decode(data, fields)
        if units:
            msg.meta["codec"] = {"units": units}
        return msg


def decode(data: bytes, fields: list[JSONObject]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values and units of ``fields`` read from ``data``; raises ValueError naming the byte offsets."""
    decoded: dict[str, Any] = {}
    units: dict[str, str] = {}
    for field in fields:
        kind, offset = field["type"], field["offset"]
        size = SIZES[kind]
        if offset + size > len(data):
            raise ValueError(f"payload.bytes: field {field['name']} ({kind}) needs bytes {offset}..{offset + size - 1}, "
                             f"the payload has {len(data)} byte(s)")
        chunk = data[offset:offset + size]
        order = field.get("endian", "big")
        value: Any
        if kind == "f32":
            value = struct.unpack(">f" if order == "big" else "<f", chunk)[0]
        elif kind == "bits":
            width = field.get("bits", 1)
            raw = (chunk[0] >> field.get("bit", 0)) & ((1 << width) - 1)
            value = bool(raw) if width == 1 else raw
        else:
            value = int.from_bytes(chunk, order, signed=kind.startswith("i"))
        scale, add = field.get("scale", 1), field.get("add", 0)
        if not isinstance(value, bool) and (scale != 1 or add != 0):
            value = round(value * scale + add, 10)
        decoded[field["name"]] = value
        if field.get("unit"):
            units[field["name"]] = field["unit"]
    return decoded, units
