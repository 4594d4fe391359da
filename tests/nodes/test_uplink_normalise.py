"""uplink-normalise: network-server JSON in, canonical uplink out; unknown shapes to catch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowengine import uplink
from flowengine.clock import ManualClock
from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

SAMPLES = Path(__file__).parent.parent / "fixtures" / "codecs" / "uplinks"


def normalise_flow(config: dict[str, Any] | None = None, topic: str = "") -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "config": {"topic": topic}, "wires": [["n"]]},
        {"id": "n", "type": "uplink-normalise", "config": config or {}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )


async def test_every_sample_becomes_canonical(tmp_path: Path) -> None:
    names = sorted(p.name for p in SAMPLES.glob("*.json"))
    async with running(normalise_flow(), tmp_path, clock=ManualClock()) as (runtime, debug):
        for name in names:
            await runtime.inject("in", json.loads((SAMPLES / name).read_text()))
        shown = await debug.wait_for("out", len(names))
    for name, message in zip(names, shown, strict=True):
        raw = json.loads((SAMPLES / name).read_text())
        expected = uplink.normalise(raw, received_at="2026-01-01T00:00:00+00:00")
        assert message["payload"] == expected, name
        assert message["meta"]["uplink"] == {"format": uplink.detect(raw)}
    kinds = {name: m["payload"]["type"] for name, m in zip(names, shown, strict=True)}
    assert kinds["resiot_gwalive.json"] == "gwalive" and kinds["tts_join_accept.json"] == "join"
    assert kinds["resiot_tx.json"] == "downlink"
    generic = shown[names.index("generic_hex.json")]["payload"]
    assert generic["receivedAt"] == "2026-01-01T00:00:00+00:00"  # from the clock: the input had no time


async def test_json_text_input_and_original_kept(tmp_path: Path) -> None:
    text = (SAMPLES / "tts_uplink.json").read_text()
    async with running(normalise_flow({"keepOriginal": True}), tmp_path) as (runtime, debug):
        await runtime.inject("in", text)
        (message,) = await debug.wait_for("out", 1)
    assert message["payload"]["devEui"] == "0004a30b001c0530" and message["payload"]["bytes"] == "08e71f40"
    assert message["meta"]["uplink"]["original"] == json.loads(text)


async def test_chirpstack_event_from_the_topic(tmp_path: Path) -> None:
    document = normalise_flow(topic="application/17c8/device/0101010101010101/event/join")
    up = json.loads((SAMPLES / "chirpstack_up.json").read_text())
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in", up)
        (message,) = await debug.wait_for("out", 1)
    assert message["payload"]["type"] == "join"


async def test_unknown_shape_and_bad_input_go_to_catch(tmp_path: Path) -> None:
    async with running(normalise_flow(), tmp_path) as (runtime, debug):
        await runtime.inject("in", {"temperature": 21})
        await runtime.inject("in", "{not json")
        await runtime.inject("in", {"devEui": "0101010101010101", "payload": "zz!"})
        await runtime.inject("in", json.loads((SAMPLES / "resiot_rx.json").read_text()))
        caught = await debug.wait_for("err", 3)
        assert len(await debug.wait_for("out", 1)) == 1  # the good one after the bad ones
    errors = [m["meta"]["error"]["message"] for m in caught]
    assert errors[0].startswith("payload: unknown uplink shape: expected deviceInfo.devEui (ChirpStack v4)")
    assert "keys: temperature" in errors[0]
    assert errors[1] == "payload: not JSON: line 1 column 2 (byte offset 1): Expecting property name enclosed in double quotes"
    assert errors[2] == "payload: payload: not base64: zz!"
    assert all(m["meta"]["error"]["source"]["type"] == "uplink-normalise" for m in caught)


async def test_format_override(tmp_path: Path) -> None:
    async with running(normalise_flow({"format": "generic", "payloadEncoding": "base64"}), tmp_path) as (runtime, debug):
        await runtime.inject("in", {"devEui": "0101010101010101", "fPort": 3, "payload": "AAAA"})
        await runtime.inject("in", json.loads((SAMPLES / "tts_uplink.json").read_text()))
        (message,) = await debug.wait_for("out", 1)
        (caught,) = await debug.wait_for("err", 1)
    assert message["payload"]["bytes"] == "000000"
    assert caught["meta"]["error"]["message"] == "payload: generic: devEui is missing"


def test_unknown_format_is_a_validation_problem() -> None:
    problems = [str(p) for p in validate(normalise_flow({"format": "loriot"}), Registry.from_entry_points(), {}).problems]
    assert len(problems) == 1 and problems[0].startswith("node n (uplink-normalise): /config/format: 'loriot' is not one of")
