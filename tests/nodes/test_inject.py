"""inject: once after start, every N seconds, on a cron schedule, and on demand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flowengine.clock import ManualClock
from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

REGISTRY = Registry.from_entry_points()
START = datetime(2026, 1, 1, tzinfo=UTC)


def inject_flow(**config: Any) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "config": config, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
    )


async def settle() -> None:
    """Let every ready task run (a spawned task registers its sleep on the manual clock)."""
    await asyncio.sleep(0.01)


async def advance(clock: ManualClock, seconds: float) -> None:
    await settle()
    await clock.advance(seconds)
    await settle()


async def test_once_after_the_delay(tmp_path: Path) -> None:
    clock = ManualClock(START)
    document = inject_flow(once=True, onceDelay=2, payload={"hello": "world"}, topic="greeting")
    async with running(document, tmp_path, clock=clock) as (runtime, debug):
        await advance(clock, 1.9)
        assert debug.values("out") == []
        await advance(clock, 0.1)
        (message,) = await debug.wait_for("out", 1)
        assert message["payload"] == {"hello": "world"}
        assert message["topic"] == "greeting"
        assert message["meta"] == {"injectedAt": "2026-01-01T00:00:02+00:00"}
        await advance(clock, 3600)
        assert len(debug.values("out")) == 1
        assert runtime.snapshot()["in"]["counters"]["sent"] == 1


async def test_no_message_without_once_repeat_or_cron(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with running(inject_flow(payload=1), tmp_path, clock=clock) as (_, debug):
        await advance(clock, 86400)
        assert debug.values("out") == []


async def test_repeat_every_n_seconds(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with running(inject_flow(repeat=10, payload=7), tmp_path, clock=clock) as (_, debug):
        for expected in (1, 2, 3):
            await advance(clock, 10)
            await debug.wait_for("out", expected)
        await advance(clock, 9)
        times = [m["meta"]["injectedAt"] for m in debug.values("out")]
        assert times == ["2026-01-01T00:00:10+00:00", "2026-01-01T00:00:20+00:00", "2026-01-01T00:00:30+00:00"]
        assert [m["payload"] for m in debug.values("out")] == [7, 7, 7]


async def test_cron_fires_at_the_scheduled_times(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 1, 1, 0, 3, 20, tzinfo=UTC))
    async with running(inject_flow(cron="*/5 * * * *", payload="tick"), tmp_path, clock=clock) as (_, debug):
        await advance(clock, 60)  # 00:04:20
        assert debug.values("out") == []
        await advance(clock, 40)  # 00:05:00
        await debug.wait_for("out", 1)
        await advance(clock, 299)  # 00:09:59
        assert len(debug.values("out")) == 1
        await advance(clock, 1)  # 00:10:00
        await debug.wait_for("out", 2)
        times = [m["meta"]["injectedAt"] for m in debug.values("out")]
        assert times == ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]


async def test_cron_and_once_together(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 1, 1, 11, 59, 0, tzinfo=UTC))
    document = inject_flow(cron="0 12 * * *", once=True, onceDelay=0)
    async with running(document, tmp_path, clock=clock) as (_, debug):
        await settle()
        await debug.wait_for("out", 1)
        await advance(clock, 60)
        await debug.wait_for("out", 2)
        assert debug.values("out")[1]["meta"]["injectedAt"] == "2026-01-01T12:00:00+00:00"


async def test_inject_on_demand_with_and_without_a_payload(tmp_path: Path) -> None:
    async with running(inject_flow(payload={"configured": True}, topic="t"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        await runtime.inject("in", {"override": [1, 2]})
        await runtime.inject("in", "text")
        values = await debug.wait_for("out", 3)
        assert [m["payload"] for m in values] == [{"configured": True}, {"override": [1, 2]}, "text"]
        assert {m["topic"] for m in values} == {"t"}
        assert len({m["id"] for m in values}) == 3


async def test_each_injection_gets_its_own_payload_copy(tmp_path: Path) -> None:
    document = flow_document(
        {"id": "in", "type": "inject", "config": {"payload": {"n": 1}}, "wires": [["set"]]},
        {"id": "set", "type": "change", "wires": [["out"]], "config": {"rules": [
            {"action": "copy", "from": "payload.n", "path": "payload.old"},
            {"action": "set", "path": "payload.n", "value": 2},
        ]}},
        {"id": "out", "type": "debug"},
    )
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in")
        await runtime.inject("in")
        assert await debug.wait_for("out", 2) == [{"n": 2, "old": 1}, {"n": 2, "old": 1}]


def test_invalid_cron_is_a_validation_problem_naming_the_field() -> None:
    problems = [str(p) for p in validate(inject_flow(cron="every minute"), REGISTRY, {}).problems]
    assert problems == ["node in (inject): /config/cron: not a valid cron expression: 'every minute'"]


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("61 * * * *", "not a valid cron expression: '61 * * * *'"),
        ("* * * *", "not a valid cron expression: '* * * *'"),
        ("*/10 * * * * *", "expected five fields (minute hour day month weekday), got 6: '*/10 * * * * *'"),
        ("0 0 31 2 *", "'0 0 31 2 *' never fires"),
    ],
)
def test_cron_problems(cron: str, reason: str) -> None:
    problems = [str(p) for p in validate(inject_flow(cron=cron), REGISTRY, {}).problems]
    assert problems == [f"node in (inject): /config/cron: {reason}"]


@pytest.mark.parametrize("cron", ["@hourly", "0 5 * * mon-fri", "*/15 * * * *"])
def test_valid_cron(cron: str) -> None:
    assert validate(inject_flow(cron=cron), REGISTRY, {}).problems == []


def test_negative_interval_is_a_validation_problem() -> None:
    problems = [str(p) for p in validate(inject_flow(repeat=-1, onceDelay=-2), REGISTRY, {}).problems]
    assert "node in (inject): /config/repeat: -1 is less than the minimum of 0" in problems
    assert "node in (inject): /config/onceDelay: -2 is less than the minimum of 0" in problems
