"""Cayenne Low Power Payload (LPP): decode and encode.

A payload is a sequence of ``channel (1 byte), type (1 byte), value (size of the type)``. Values
are big-endian; the resolution is per type (temperature: signed, 0.1 °C per step).

**Naming** (the one choice made here, kept everywhere): The Things Stack's flat form,
``<name>_<channel>``, e.g. ``03 67 01 10 05 67 00 FF`` decodes to
``{"temperature_3": 27.2, "temperature_5": 25.5}``. Three-axis and GPS values are objects:
``{"accelerometer_6": {"x": 1.234, "y": -1.234, "z": 0.0}}``,
``{"gps_1": {"latitude": 42.3519, "longitude": -87.9094, "altitude": 10.0}}``.
A channel seen twice with the same type keeps the last value. :func:`encode` takes the same
names, so ``encode(decode(b)) == b`` for payloads with one value per channel and type.

Types: the 13 of the Cayenne specification (IPSO object id minus 3200) and the extended types of
the common Arduino library (ElectronicCats CayenneLPP), listed in :data:`TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class LppError(ValueError):
    """A payload or value that is not valid LPP; the text names the byte offset or the name."""


@dataclass(frozen=True)
class LppType:
    code: int
    name: str
    size: int
    """Bytes of the whole value (all axes together)."""
    signed: bool
    divisor: int
    """Value = raw / divisor."""
    axes: tuple[str, ...] = ()
    """Names of the parts of a multi-part value (accelerometer x, y, z); empty for a scalar."""


TYPES: tuple[LppType, ...] = (
    # the Cayenne LPP specification
    LppType(0, "digital_in", 1, False, 1),
    LppType(1, "digital_out", 1, False, 1),
    LppType(2, "analog_in", 2, True, 100),
    LppType(3, "analog_out", 2, True, 100),
    LppType(101, "luminosity", 2, False, 1),  # illuminance, lux
    LppType(102, "presence", 1, False, 1),
    LppType(103, "temperature", 2, True, 10),  # °C
    LppType(104, "relative_humidity", 1, False, 2),  # %
    LppType(113, "accelerometer", 6, True, 1000, ("x", "y", "z")),  # G
    LppType(115, "barometric_pressure", 2, False, 10),  # hPa
    LppType(134, "gyrometer", 6, True, 100, ("x", "y", "z")),  # °/s
    LppType(136, "gps", 9, True, 0, ("latitude", "longitude", "altitude")),  # special divisors below
    # extended types (ElectronicCats CayenneLPP)
    LppType(100, "generic_sensor", 4, False, 1),
    LppType(116, "voltage", 2, False, 100),  # V
    LppType(117, "current", 2, False, 1000),  # A
    LppType(118, "frequency", 4, False, 1),  # Hz
    LppType(120, "percentage", 1, False, 1),  # %
    LppType(121, "altitude", 2, True, 1),  # m
    LppType(125, "concentration", 2, False, 1),  # ppm
    LppType(128, "power", 2, False, 1),  # W
    LppType(130, "distance", 4, False, 1000),  # m
    LppType(131, "energy", 4, False, 1000),  # kWh
    LppType(132, "direction", 2, False, 1),  # degrees
    LppType(133, "unixtime", 4, False, 1),  # seconds since the epoch
    LppType(135, "colour", 3, False, 1, ("r", "g", "b")),
    LppType(142, "switch", 1, False, 1),
)
BY_CODE = {t.code: t for t in TYPES}
BY_NAME = {t.name: t for t in TYPES}
GPS_DIVISORS = (10_000, 10_000, 100)
"""GPS: latitude and longitude in 0.0001°, altitude in 0.01 m, each 3 bytes signed."""


def _parts(kind: LppType) -> list[tuple[str, int, int]]:
    """(axis name, bytes, divisor) of each part of a value."""
    if kind.code == 136:
        return [(axis, 3, div) for axis, div in zip(kind.axes, GPS_DIVISORS, strict=True)]
    if kind.axes:
        width = kind.size // len(kind.axes)
        return [(axis, width, kind.divisor) for axis in kind.axes]
    return [("", kind.size, kind.divisor)]


def decode(data: bytes | bytearray) -> dict[str, Any]:
    """The values of an LPP payload, named ``<type>_<channel>``. Raises :class:`LppError` for an
    unknown type or a truncated value, naming the byte offset."""
    result: dict[str, Any] = {}
    at = 0
    size = len(data)
    while at < size:
        if at + 2 > size:
            raise LppError(f"byte {at}: truncated: channel {data[at]} has no type byte")
        channel, code = data[at], data[at + 1]
        kind = BY_CODE.get(code)
        if kind is None:
            raise LppError(f"byte {at + 1}: unknown LPP type 0x{code:02x} ({code}) on channel {channel}")
        start = at + 2
        if start + kind.size > size:
            raise LppError(f"byte {start}: truncated: {kind.name} (0x{code:02x}) on channel {channel} needs "
                           f"{kind.size} bytes, {size - start} left")
        values: dict[str, float | int] = {}
        offset = start
        for axis, width, divisor in _parts(kind):
            raw = int.from_bytes(data[offset:offset + width], "big", signed=kind.signed)
            values[axis] = raw if divisor == 1 else raw / divisor
            offset += width
        result[f"{kind.name}_{channel}"] = values[""] if not kind.axes else values
        at = start + kind.size
    return result


def encode(values: dict[str, Any]) -> bytes:
    """An LPP payload from ``{"<type>_<channel>": value}`` (objects for multi-part values), in the
    order given. Raises :class:`LppError` naming the key for an unknown type, a bad channel or a
    value out of range."""
    out = bytearray()
    for key, value in values.items():
        name, _, channel_text = key.rpartition("_")
        kind = BY_NAME.get(name)
        if kind is None or not channel_text.isdigit():
            raise LppError(f"{key}: expected <type>_<channel> with a type of {', '.join(BY_NAME)}")
        channel = int(channel_text)
        if not 0 <= channel <= 255:
            raise LppError(f"{key}: channel {channel} is not 0..255")
        out += bytes((channel, kind.code))
        for axis, width, divisor in _parts(kind):
            part = value
            if axis:
                if not isinstance(value, dict) or axis not in value:
                    raise LppError(f"{key}: expected an object with {', '.join(kind.axes)}")
                part = value[axis]
            if isinstance(part, bool):
                part = int(part)
            if not isinstance(part, (int, float)):
                raise LppError(f"{key}{'.' + axis if axis else ''}: expected a number, got {type(part).__name__}")
            raw = round(part * divisor)
            try:
                out += raw.to_bytes(width, "big", signed=kind.signed)
            except OverflowError:
                low = -(1 << (8 * width - 1)) if kind.signed else 0
                high = (1 << (8 * width - 1)) - 1 if kind.signed else (1 << (8 * width)) - 1
                raise LppError(f"{key}{'.' + axis if axis else ''}: {part} is out of range "
                               f"{low / divisor:g}..{high / divisor:g}") from None
    return bytes(out)
