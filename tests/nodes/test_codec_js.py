"""codec-js: TS013 decoders in a flow; warnings and errors in meta; hostile scripts fail one message."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flowengine.clock import ManualClock
from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "codecs"
ENV_SENSOR = (FIXTURES / "decoders" / "environment_sensor.js").read_text()
SMART_PLUG = (FIXTURES / "decoders" / "smart_plug.js").read_text()


def codec_flow(config: dict[str, Any]) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["norm"]]},
        {"id": "norm", "type": "uplink-normalise", "wires": [["js"]]},
        {"id": "js", "type": "codec-js", "config": config, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )


def up(hex_payload: str, port: int, fcnt: int = 1) -> dict[str, Any]:
    return {"devEui": "0101010101010101", "fPort": port, "fCnt": fcnt, "payload": hex_payload,
            "receivedAt": "2026-01-01T00:00:00Z"}


async def test_decodes_into_payload_decoded_with_warnings_in_meta(tmp_path: Path) -> None:
    async with running(codec_flow({"script": ENV_SENSOR}), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("0906640e10", 1))
        await runtime.inject("in", up("ff38510a8c", 1))
        first, second = await debug.wait_for("out", 2)
    assert first["payload"]["decoded"] == {"temperature": 23.1, "humidity": 50, "battery": 3.6}
    assert first["payload"]["bytes"] == "0906640e10"
    assert first["meta"]["codec"] == {"function": "decodeUplink", "warnings": [], "errors": []}
    assert second["meta"]["codec"]["warnings"] == ["low battery"]
    # the debug event carries meta too, so the editor's sidebar shows the warnings
    assert debug.debug["out"][1]["meta"]["codec"]["warnings"] == ["low battery"]


async def test_codec_errors_fail_the_message_with_meta(tmp_path: Path) -> None:
    async with running(codec_flow({"script": ENV_SENSOR}), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("00", 9))
        await runtime.inject("in", up("0906640e10", 1))
        (caught,) = await debug.wait_for("err", 1)
        assert len(await debug.wait_for("out", 1)) == 1
    assert caught["meta"]["error"]["message"] == "script: decodeUplink: unknown FPort 9"
    assert caught["meta"]["codec"]["errors"] == ["unknown FPort 9"]
    assert caught["meta"]["error"]["source"]["type"] == "codec-js"


async def test_codec_errors_forwarded_when_asked(tmp_path: Path) -> None:
    async with running(codec_flow({"script": ENV_SENSOR, "onErrors": "forward"}), tmp_path) as (runtime, debug):
        await runtime.inject("in", up("00", 9))
        (message,) = await debug.wait_for("out", 1)
    assert message["payload"]["decoded"] is None
    assert message["meta"]["codec"]["errors"] == ["unknown FPort 9"]


async def test_hostile_scripts_fail_one_message_each_and_the_node_goes_on(tmp_path: Path) -> None:
    loop = (FIXTURES / "hostile" / "infinite_loop.js").read_text()
    recursion = (FIXTURES / "hostile" / "deep_recursion.js").read_text()
    hog = (FIXTURES / "hostile" / "memory_hog.js").read_text()
    for script, fragment in ((loop, "exceeded the time limit of 30 ms"), (recursion, "stack overflow"), (hog, "out of memory")):
        config = {"script": script, "timeoutMs": 30, "memoryLimitMb": 32}
        async with running(codec_flow(config), tmp_path) as (runtime, debug):
            await runtime.inject("in", up("01", 1))
            await runtime.inject("in", up("2a", 3))
            (caught,) = await debug.wait_for("err", 1)
            (message,) = await debug.wait_for("out", 1)
            assert fragment in caught["meta"]["error"]["message"]
            assert message["payload"]["decoded"] == {"first": 42}
            assert runtime.snapshot()["js"]["state"] == "running"


async def test_encode_downlink_builds_a_canonical_downlink(tmp_path: Path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["js"]]},
        {"id": "js", "type": "codec-js", "config": {"script": SMART_PLUG}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in", {"type": "downlink", "devEui": "0101010101010101", "data": {"interval": 120}})
        await runtime.inject("in", {"type": "downlink", "devEui": "0101010101010101", "data": {"relay": "maybe"}})
        await runtime.inject("in", {"type": "downlink", "devEui": "0101010101010101", "fPort": 8, "bytes": "0101"})
        first, decoded = await debug.wait_for("out", 2)
        (caught,) = await debug.wait_for("err", 1)
    payload = first["payload"]
    assert payload == {"type": "downlink", "devEui": "0101010101010101", "data": {"interval": 120},
                       "bytes": "020078", "fPort": 9, "confirmed": False, "reference": None}
    assert first["meta"]["codec"]["warnings"] == ["short intervals drain the duty cycle"]
    assert caught["meta"]["codec"]["errors"] == ["relay must be on or off"]
    assert decoded["payload"]["decoded"] == {"relay": "on"}  # decodeDownlink for a downlink with bytes


async def test_joins_pass_unchanged_and_a_non_object_fails(tmp_path: Path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["js"]]},
        {"id": "js", "type": "codec-js", "config": {"script": ENV_SENSOR}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
        {"id": "c", "type": "catch", "wires": [["err"]]},
        {"id": "err", "type": "debug", "config": {"property": ""}},
    )
    join = {"type": "join", "devEui": "0101010101010101", "bytes": ""}
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in", join)
        await runtime.inject("in", "00ff")
        await runtime.inject("in", {"type": "uplink", "fPort": 1})
        assert await debug.wait_for("out", 1) == [join]
        caught = await debug.wait_for("err", 2)
    assert caught[0]["meta"]["error"]["message"].startswith("payload: expected a canonical uplink or downlink object, got str")
    assert caught[1]["meta"]["error"]["message"].startswith("payload.bytes: missing")


def test_syntax_error_and_missing_function_fail_validation() -> None:
    registry = Registry.from_entry_points()
    bad = codec_flow({"script": (FIXTURES / "hostile" / "syntax_error.js").read_text()})
    (problem,) = validate(bad, registry, {}).problems
    assert str(problem).startswith("node js (codec-js): /config/script: line 4 column")
    assert "SyntaxError" in str(problem)
    missing = codec_flow({"script": ENV_SENSOR, "function": "encodeDownlink"})
    assert [str(p) for p in validate(missing, registry, {}).problems] == [
        "node js (codec-js): /config/script: the script defines no encodeDownlink function"]
    neither = codec_flow({"script": "var x = 1;"})
    assert [str(p) for p in validate(neither, registry, {}).problems] == [
        "node js (codec-js): /config/script: the script defines neither decodeUplink nor encodeDownlink"]


async def pipeline_round(runtime: Any, start: int, count: int) -> None:
    """``count`` uplinks, each arriving twice (two gateways): ``count // 2`` distinct (devEui, fCnt)."""
    for n in range(start, start + count):
        unique = n // 2
        await runtime.inject("in", {
            "deviceInfo": {"devEui": f"{unique % 50:016x}"}, "fCnt": unique, "fPort": 1,
            "data": "CQZkDhA=", "time": "2026-01-01T00:00:00Z",
            "rxInfo": [{"gatewayId": f"{n % 2:016x}", "rssi": -40, "snr": 9.0}],
            "txInfo": {"frequency": 868100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7}}},
        })
    assert await runtime.drained(30)


async def test_ten_thousand_uplinks_through_normaliser_codec_and_dedup_without_a_leak(tmp_path: Path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["norm"]]},
        {"id": "norm", "type": "uplink-normalise", "wires": [["js"]]},
        {"id": "js", "type": "codec-js", "config": {"script": ENV_SENSOR}, "wires": [["dedup"]]},
        {"id": "dedup", "type": "dedup", "config": {"maxKeys": 500}},
    )
    async with running(document, tmp_path, clock=ManualClock()) as (runtime, _):
        await pipeline_round(runtime, 0, 2000)  # warm up: caches, dedup memory full
        codec: Any = runtime.node("js")
        js_heap = codec._codec.memory()["memory_used_size"]
        gc.collect()
        objects = len(gc.get_objects())
        await pipeline_round(runtime, 2000, 10_000)
        gc.collect()
        growth = len(gc.get_objects()) - objects
        snapshot = runtime.snapshot()
        dedup: Any = runtime.node("dedup")
        assert snapshot["js"]["counters"]["received"] == 12_000
        assert snapshot["js"]["counters"]["errors"] == 0
        assert dedup.passed == 6000 and dedup.duplicates == 6000
        assert dedup.remembered == 500
        assert growth < 500, f"{growth} more Python objects after 10,000 uplinks"
        assert codec._codec.memory()["memory_used_size"] < js_heap + 256 * 1024


async def test_the_example_flow_runs_without_any_service(tmp_path: Path) -> None:
    from flowengine import document

    flow = document.load(Path(__file__).parent.parent.parent / "flows" / "codecs.json")
    async with running(flow, tmp_path) as (runtime, debug):
        shown = await debug.wait_for("decoded", 2)
        await runtime.inject("inject-chirpstack")  # a second copy of the same uplink: dropped by dedup
        await runtime.inject("inject-downlink")
        (downlink,) = await debug.wait_for("downlink", 1)
        assert await runtime.drained(5)
        assert runtime.snapshot()["dedup"]["counters"]["dropped"] == 1
        assert debug.values("errors-out") == []
    by_dev = {m["payload"]["devEui"]: m for m in shown}
    assert by_dev["0101010101010101"]["payload"]["decoded"] == {"temperature": 23.1, "humidity": 50, "battery": 3.6}
    assert by_dev["0101010101010101"]["meta"]["codec"]["warnings"] == []
    assert by_dev["0732227a557d8679"]["payload"]["decoded"] == {"temperature_3": 27.2, "temperature_5": 25.5}
    assert downlink == {"type": "downlink", "devEui": "0732227a557d8679", "fPort": 1, "data": {"digital_out_1": 1},
                        "bytes": "010101", "confirmed": False, "reference": None}
