"""time-validity: drops uplinks older than maxAge (seed 004's uplinkTimeValidity), counted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowengine.clock import ManualClock
from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def validity_flow(config: dict[str, Any]) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["tv"]]},
        {"id": "tv", "type": "time-validity", "config": config, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
    )


async def test_drops_what_is_older_than_max_age(tmp_path: Path) -> None:
    payloads = [
        {"n": 1, "receivedAt": "2026-01-01T11:56:00+00:00"},  # 4 minutes old
        {"n": 2, "receivedAt": "2026-01-01T11:54:59+00:00"},  # 5 min 1 s old: dropped
        {"n": 3, "receivedAt": "2026-01-01T13:54:00+02:00"},  # 6 minutes old, other offset: dropped
        {"n": 4, "receivedAt": "2026-01-01T12:01:00Z"},  # in the future: passes
        {"n": 5},  # no time: passes
        {"n": 6, "receivedAt": "2026-01-01T11:55:00+00:00"},  # exactly 5 minutes: passes
    ]
    clock = ManualClock(NOW)
    async with running(validity_flow({"maxAge": "5m"}), tmp_path, clock=clock) as (runtime, debug):
        for payload in payloads:
            await runtime.inject("in", payload)
        assert await runtime.drained(2)
        shown = await debug.wait_for("out", 4)
        await clock.advance(1.0)  # the status shows at most once a second
        snapshot = runtime.snapshot()["tv"]
        node: Any = runtime.node("tv")
        assert (node.passed, node.too_old) == (4, 2)
    assert [p["n"] for p in shown] == [1, 4, 5, 6]
    assert snapshot["counters"]["dropped"] == 2
    assert snapshot["status"]["text"] == "4 passed, 2 too old"
    assert (snapshot["status"]["passed"], snapshot["status"]["dropped"]) == (4, 2)


async def test_other_field_and_missing_dropped(tmp_path: Path) -> None:
    config = {"maxAge": "30s", "field": "meta.injectedAt", "missing": "drop"}
    clock = ManualClock(NOW)
    async with running(validity_flow(config), tmp_path, clock=clock) as (runtime, debug):
        await runtime.inject("in", 1)
        assert await debug.wait_for("out", 1) == [1]
    document = validity_flow({"maxAge": "30s", "missing": "drop"})
    async with running(document, tmp_path, clock=clock) as (runtime, debug):
        await runtime.inject("in", {"receivedAt": "not a time"})
        await runtime.inject("in", {"n": 2})
        await runtime.inject("in", {"receivedAt": NOW.isoformat()})
        assert len(await debug.wait_for("out", 1)) == 1
        assert await runtime.drained(2)
        await clock.advance(1.0)
        assert runtime.snapshot()["tv"]["counters"]["dropped"] == 2
        assert runtime.snapshot()["tv"]["status"]["text"] == "1 passed, 0 too old, 2 without time"


def test_max_age_must_be_a_duration() -> None:
    problems = [str(p) for p in validate(validity_flow({"maxAge": "five minutes"}), Registry.from_entry_points(), {}).problems]
    assert len(problems) == 1 and problems[0].startswith("node tv (time-validity): /config/maxAge: 'five minutes' does not match")
    assert validate(validity_flow({"maxAge": "1h30m"}), Registry.from_entry_points(), {}).ok
