"""codec-cayenne-lpp: decode uplinks by channel, encode downlinks, name the offset of bad bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.testing import flow_document, running


def lpp_flow(config: dict[str, Any] | None = None) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["norm"]]},
        {"id": "norm", "type": "uplink-normalise", "wires": [["lpp"]]},
        {"id": "lpp", "type": "codec-cayenne-lpp", "config": config or {}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )


def up(hex_payload: str) -> dict[str, Any]:
    return {"devEui": "0101010101010101", "fPort": 1, "fCnt": 3, "payload": hex_payload, "receivedAt": "2026-01-01T00:00:00Z"}


async def test_decodes_the_spec_examples(tmp_path: Path) -> None:
    async with running(lpp_flow(), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("03670110056700ff"))
        await runtime.inject("in", up("018806765ff2960a0003e8"))
        first, second = await debug.wait_for("out", 2)
    assert first["decoded"] == {"temperature_3": 27.2, "temperature_5": 25.5}
    assert second["decoded"] == {"gps_1": {"latitude": 42.3519, "longitude": -87.9094, "altitude": 10.0}}


async def test_bad_payloads_go_to_catch_with_the_offset(tmp_path: Path) -> None:
    async with running(lpp_flow(), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("03670110056700"))
        await runtime.inject("in", up("036701100599"))
        await runtime.inject("in", up("0367011a"))
        caught = await debug.wait_for("err", 2)
        assert (await debug.wait_for("out", 1))[0]["decoded"] == {"temperature_3": 28.2}
    assert [m["meta"]["error"]["message"] for m in caught] == [
        "payload.bytes: byte 6: truncated: temperature (0x67) on channel 5 needs 2 bytes, 1 left",
        "payload.bytes: byte 5: unknown LPP type 0x99 (153) on channel 5",
    ]


async def test_encodes_a_downlink(tmp_path: Path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["lpp"]]},
        {"id": "lpp", "type": "codec-cayenne-lpp", "config": {"fPort": 99}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in", {"type": "downlink", "devEui": "0101010101010101", "data": {"digital_out_1": 1, "analog_out_2": -1.5}})
        await runtime.inject("in", {"type": "downlink", "devEui": "0101010101010101", "fPort": 7, "data": {"switch_3": 0}})
        await runtime.inject("in", {"type": "downlink", "devEui": "0101010101010101", "data": {"heater_1": 1}})
        first, second = await debug.wait_for("out", 2)
        (caught,) = await debug.wait_for("err", 1)
    assert first == {"type": "downlink", "devEui": "0101010101010101", "data": {"digital_out_1": 1, "analog_out_2": -1.5},
                     "bytes": "010101" "0203ff6a", "fPort": 99, "confirmed": False, "reference": None}
    assert (second["bytes"], second["fPort"]) == ("038e00", 7)
    assert caught["meta"]["error"]["message"].startswith("payload.data.heater_1: expected <type>_<channel>")


async def test_forced_modes_and_joins(tmp_path: Path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["lpp"]]},
        {"id": "lpp", "type": "codec-cayenne-lpp", "config": {"mode": "encode"}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
    )
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in", {"data": {"temperature_1": 20}})
        (message,) = await debug.wait_for("out", 1)
    assert message["bytes"] == "016700c8" and message["type"] == "downlink"
    async with running(lpp_flow(), tmp_path) as (runtime, debug):
        await runtime.inject("in", {"devEui": "0101010101010101", "type": "join", "payload": ""})
        (message,) = await debug.wait_for("out", 1)
    assert message["type"] == "join" and "decoded" not in message
