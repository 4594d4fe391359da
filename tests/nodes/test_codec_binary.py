"""codec-binary: declarative layouts per fPort, every field type, bad payloads named by offset."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

LAYOUT = {
    "ports": [
        {"fPort": 2, "fields": [
            {"name": "temperature", "offset": 0, "type": "i16", "scale": 0.01, "unit": "°C"},
            {"name": "humidity", "offset": 2, "type": "u8", "scale": 0.5, "unit": "%"},
            {"name": "battery", "offset": 3, "type": "u16", "endian": "little", "scale": 0.001, "unit": "V"},
            {"name": "open", "offset": 5, "type": "bits", "bit": 0},
            {"name": "mode", "offset": 5, "type": "bits", "bit": 4, "bits": 3},
        ]},
        {"fPort": 3, "fields": [
            {"name": "i8", "offset": 0, "type": "i8"},
            {"name": "u24", "offset": 1, "type": "u24"},
            {"name": "i24", "offset": 4, "type": "i24", "endian": "little"},
            {"name": "u32", "offset": 7, "type": "u32"},
            {"name": "i32", "offset": 11, "type": "i32", "add": -1},
            {"name": "f32", "offset": 15, "type": "f32"},
        ]},
        {"fields": [{"name": "first", "offset": 0, "type": "u8"}]},
    ]
}


def binary_flow(config: dict[str, Any]) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["norm"]]},
        {"id": "norm", "type": "uplink-normalise", "wires": [["bin"]]},
        {"id": "bin", "type": "codec-binary", "config": config, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )


def up(hex_payload: str, port: int) -> dict[str, Any]:
    return {"devEui": "0101010101010101", "fPort": port, "payload": hex_payload, "receivedAt": "2026-01-01T00:00:00Z"}


async def test_decodes_per_port(tmp_path: Path) -> None:
    every = (bytes([0xFE]) + (70000).to_bytes(3, "big") + (-2).to_bytes(3, "little", signed=True)
             + (4000000000).to_bytes(4, "big") + (-5).to_bytes(4, "big", signed=True) + struct.pack(">f", 21.5))
    async with running(binary_flow(LAYOUT), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("00e764100e31", 2))
        await runtime.inject("in", up(every.hex(), 3))
        await runtime.inject("in", up("2a", 200))
        first, second, third = await debug.wait_for("out", 3)
    assert first["payload"]["decoded"] == {"temperature": 2.31, "humidity": 50.0, "battery": 3.6, "open": True, "mode": 3}
    assert first["meta"]["codec"] == {"units": {"temperature": "°C", "humidity": "%", "battery": "V"}}
    assert second["payload"]["decoded"] == {"i8": -2, "u24": 70000, "i24": -2, "u32": 4000000000, "i32": -6, "f32": 21.5}
    assert third["payload"]["decoded"] == {"first": 42}


async def test_short_payload_and_unknown_port(tmp_path: Path) -> None:
    config = {"ports": LAYOUT["ports"][:2]}
    async with running(binary_flow(config), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("00e764", 2))
        await runtime.inject("in", up("00", 9))
        caught = await debug.wait_for("err", 2)
    assert [m["meta"]["error"]["message"] for m in caught] == [
        "payload.bytes: field battery (u16) needs bytes 3..4, the payload has 3 byte(s)",
        "payload.fPort: no layout for port 9",
    ]
    async with running(binary_flow({**config, "unknownPort": "pass"}), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("00", 9))
        (message,) = await debug.wait_for("out", 1)
    assert "decoded" not in message["payload"]


def test_layout_problems_are_validation_problems() -> None:
    config = {"ports": [
        {"fPort": 1, "fields": [{"name": "a", "offset": 0, "type": "bits", "bit": 6, "bits": 3},
                                {"name": "a", "offset": 1, "type": "u8"}]},
        {"fPort": 1, "fields": []},
    ]}
    problems = [str(p) for p in validate(binary_flow(config), Registry.from_entry_points(), {}).problems]
    assert problems == [
        "node bin (codec-binary): /config/ports/0/fields/0/bits: bit + bits must not exceed 8",
        "node bin (codec-binary): /config/ports/0/fields/1/name: duplicate field name 'a'",
        "node bin (codec-binary): /config/ports/1/fPort: a layout for port 1 is already declared",
    ]


def test_scaled_values_are_the_decimal_a_person_expects() -> None:
    from nodes.codec_binary import Layout

    layout = Layout([
        {"name": "tenths", "offset": 0, "type": "u8", "scale": 0.1},
        {"name": "hundredths", "offset": 1, "type": "i16", "scale": 0.01},
        {"name": "thirds", "offset": 3, "type": "u8", "scale": 0.3},
        {"name": "offset", "offset": 4, "type": "u24", "scale": 0.1, "add": -40},
    ])
    decoded, _ = layout.decode(bytes([3]) + (-231).to_bytes(2, "big", signed=True) + bytes([7]) + (653).to_bytes(3, "big"))
    assert decoded == {"tenths": 0.3, "hundredths": -2.31, "thirds": 2.1, "offset": 25.3}
