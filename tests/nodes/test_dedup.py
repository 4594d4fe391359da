"""dedup: drops copies of one uplink (devEui + fCnt) within the window; bounded memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.clock import ManualClock
from flowengine.testing import flow_document, running


def dedup_flow(config: dict[str, Any] | None = None) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["d"]]},
        {"id": "d", "type": "dedup", "config": config or {}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
    )


def up(dev: str, fcnt: int, gateway: str = "g1") -> dict[str, Any]:
    return {"devEui": dev, "fCnt": fcnt, "rx": [{"gatewayEui": gateway}]}


async def test_drops_copies_from_other_gateways(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(dedup_flow({"window": "10s"}), tmp_path, clock=clock) as (runtime, debug):
        for payload in (up("a", 1), up("a", 1, "g2"), up("b", 1), up("a", 2), up("a", 1, "g3")):
            await runtime.inject("in", payload)
        assert await runtime.drained(2)
        await clock.advance(10.5)  # the window has passed: the same key is new again
        await runtime.inject("in", up("a", 1, "g4"))
        shown = await debug.wait_for("out", 4)
        assert await runtime.drained(2)
        snapshot = runtime.snapshot()["d"]
        node = runtime.node("d")
        assert node is not None and node.remembered == 1  # type: ignore[attr-defined]
    assert [(p["devEui"], p["fCnt"], p["rx"][0]["gatewayEui"]) for p in shown] == [
        ("a", 1, "g1"), ("b", 1, "g1"), ("a", 2, "g1"), ("a", 1, "g4")]
    assert snapshot["counters"]["dropped"] == 2
    assert snapshot["status"]["text"] == "4 passed, 2 duplicates"  # at most one status a second


async def test_messages_without_the_key_pass_and_memory_is_bounded(tmp_path: Path) -> None:
    async with running(dedup_flow({"maxKeys": 2}), tmp_path, clock=ManualClock()) as (runtime, debug):
        for payload in ({"devEui": "a"}, {"devEui": "a"}, up("a", 1), up("a", 2), up("a", 3), up("a", 1)):
            await runtime.inject("in", payload)
        shown = await debug.wait_for("out", 6)
        node = runtime.node("d")
        assert node is not None and node.remembered == 2  # type: ignore[attr-defined]
    assert len(shown) == 6  # ("a", 1) was forgotten when ("a", 3) came


async def test_custom_keys(tmp_path: Path) -> None:
    config = {"keys": ["payload.devEui", "payload.fCnt", "payload.fPort"]}
    async with running(dedup_flow(config), tmp_path, clock=ManualClock()) as (runtime, debug):
        for port in (1, 2, 1):
            await runtime.inject("in", {**up("a", 1), "fPort": port})
        assert await runtime.drained(2)
        shown = await debug.wait_for("out", 2)
    assert [p["fPort"] for p in shown] == [1, 2]
