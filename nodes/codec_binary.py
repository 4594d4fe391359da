"""``codec-binary``: decodes fixed binary layouts declared per fPort, without code."""

from __future__ import annotations

import struct
from collections.abc import Callable
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
    to 10 decimals so 231 * 0.01 gives 2.31 (a scale of 1/n such as 0.1 or 0.5 divides by n, which is
    as exact and quicker); a one-bit field gives a boolean.

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
        self._layouts = {layout.get("fPort"): Layout(layout["fields"]) for layout in self.config["ports"]}

    def on_message(self, msg: Message) -> Message:
        payload = msg.payload
        if not isinstance(payload, dict):
            raise ValueError(f"payload: expected a canonical uplink object, got {type(payload).__name__}")
        if payload.get("type", "uplink") != "uplink":
            return msg
        if "bytes" not in payload:
            raise ValueError("payload.bytes: missing (put uplink-normalise before the codec)")
        data = uplink.payload_bytes(payload["bytes"], "hex", "payload.bytes")
        port = payload.get("fPort")
        layout = self._layouts.get(port) or self._layouts.get(None)
        if layout is None:
            if self.config["unknownPort"] == "pass":
                return msg
            raise ValueError(f"payload.fPort: no layout for port {port}")
        payload["decoded"], units = layout.decode(data)
        if units:
            msg.meta["codec"] = {"units": units}
        return msg


STRUCT_CODES = {"u8": "B", "i8": "b", "u16": "H", "i16": "h", "u32": "I", "i32": "i", "f32": "f"}


class Layout:
    """The fields of one port, compiled once: each field becomes one function of the bytes."""

    def __init__(self, fields: list[JSONObject]) -> None:
        self.units = {field["name"]: field["unit"] for field in fields if field.get("unit")}
        self.spans = [(field["name"], field["type"], field["offset"], field["offset"] + SIZES[field["type"]]) for field in fields]
        self.size = max((end for *_, end in self.spans), default=0)
        """The bytes a payload needs at least."""
        self.readers = [(field["name"], _reader(field)) for field in fields]

    def decode(self, data: bytes) -> tuple[dict[str, Any], dict[str, str]]:
        """Values and units read from ``data``; raises ValueError naming the byte offsets."""
        if len(data) < self.size:
            name, kind, offset, end = next(span for span in self.spans if span[3] > len(data))
            raise ValueError(f"payload.bytes: field {name} ({kind}) needs bytes {offset}..{end - 1}, "
                             f"the payload has {len(data)} byte(s)")
        return {name: read(data) for name, read in self.readers}, dict(self.units)


def _reader(field: JSONObject) -> Callable[[bytes], Any]:
    """The function reading one field's value (scaled) from a payload long enough for it."""
    kind, at = field["type"], field["offset"]
    order = field.get("endian", "big")
    scale, add = field.get("scale", 1), field.get("add", 0)
    if kind == "bits":
        shift, width = field.get("bit", 0), field.get("bits", 1)
        mask = (1 << width) - 1
        if width == 1:
            return lambda data: bool((data[at] >> shift) & mask)
        raw: Callable[[bytes], Any] = lambda data: (data[at] >> shift) & mask  # noqa: E731
    elif kind in STRUCT_CODES:
        unpack = struct.Struct((">" if order == "big" else "<") + STRUCT_CODES[kind]).unpack_from
        divisor = round(1 / scale) if scale else 0
        if scale == 1 and add == 0:
            return lambda data: unpack(data, at)[0]
        if add == 0 and divisor and abs(1 / scale - divisor) < 1e-9 * divisor:
            return lambda data: unpack(data, at)[0] / divisor
        return lambda data: round(unpack(data, at)[0] * scale + add, 10)
    else:  # u24, i24
        signed = kind.startswith("i")
        raw = lambda data: int.from_bytes(data[at:at + 3], order, signed=signed)  # noqa: E731
    if scale == 1 and add == 0:
        return raw
    return lambda data: round(raw(data) * scale + add, 10)
