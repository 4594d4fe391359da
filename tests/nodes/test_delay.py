"""delay: holds each message for a fixed time, one at a time (so it paces a stream)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from flowengine.clock import ManualClock
from flowengine.registry import Registry
from flowengine.runtime import Runtime
from flowengine.testing import flow_document, running
from flowengine.validation import validate


def delay_flow(milliseconds: float | None = None) -> dict[str, Any]:
    config = {} if milliseconds is None else {"milliseconds": milliseconds}
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["d"]]},
        {"id": "d", "type": "delay", "config": config, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
    )


async def until(condition: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


def received(runtime: Runtime, node_id: str) -> int:
    return int(runtime.snapshot()[node_id]["counters"]["received"])


async def test_holds_a_message_for_the_delay(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(delay_flow(1500), tmp_path, clock=clock) as (runtime, debug):
        await runtime.inject("in", {"n": 1})
        await until(lambda: received(runtime, "d") == 1)  # it is sleeping on the clock now
        await clock.advance(1.499)
        await asyncio.sleep(0.01)
        assert debug.values("out") == []
        await clock.advance(0.001)
        (message,) = await debug.wait_for("out", 1)
        assert message["payload"] == {"n": 1}
        assert debug.debug["out"][0]["time"] == "2026-01-01T00:00:01.500000+00:00"


async def test_default_is_one_second(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(delay_flow(), tmp_path, clock=clock) as (runtime, debug):
        await runtime.inject("in", 1)
        await until(lambda: received(runtime, "d") == 1)
        await clock.advance(0.999)
        await asyncio.sleep(0.01)
        assert debug.values("out") == []
        await clock.advance(0.001)
        assert await debug.wait_for("out", 1)


async def test_paces_a_stream_one_message_at_a_time_in_order(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(delay_flow(1000), tmp_path, clock=clock) as (runtime, debug):
        for n in range(3):
            await runtime.inject("in", n)
        for expected in (1, 2, 3):
            await until(lambda e=expected: received(runtime, "d") == e)  # type: ignore[misc]
            assert runtime.snapshot()["d"]["queue"]["size"] == 3 - expected
            await clock.advance(1.0)
            await debug.wait_for("out", expected)
        assert [m["payload"] for m in debug.values("out")] == [0, 1, 2]
        times = [event["time"] for event in debug.debug["out"]]
        assert times == ["2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00", "2026-01-01T00:00:03+00:00"]


async def test_zero_passes_straight_through(tmp_path: Path) -> None:
    async with running(delay_flow(0), tmp_path, clock=ManualClock()) as (runtime, debug):
        await runtime.inject("in", "now")
        assert [m["payload"] for m in await debug.wait_for("out", 1)] == ["now"]


async def test_stop_does_not_wait_for_a_held_message_forever(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(delay_flow(60_000), tmp_path, clock=clock, stop_timeout=0.2) as (runtime, _):
        await runtime.inject("in", 1)
        await until(lambda: received(runtime, "d") == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await runtime.stop()
        assert loop.time() - started < 1.0
        assert runtime.node("d") is None


def test_negative_delay_is_a_validation_problem() -> None:
    problems = [str(p) for p in validate(delay_flow(-1), Registry.from_entry_points(), {}).problems]
    assert problems == ["node d (delay): /config/milliseconds: -1 is less than the minimum of 0"]
