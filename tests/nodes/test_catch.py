"""catch: receives the messages other nodes of its flow failed on, with ``meta.error``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from flowengine.registry import Registry
from flowengine.runtime import MAX_ERROR_DEPTH
from flowengine.testing import flow_document, running
from flowengine.validation import validate

FAIL = {"rules": [{"action": "move", "from": "payload.missing", "path": "payload.x"}]}
"""A change node config that fails on every message without ``payload.missing``."""


def failing_flow(*catches: dict[str, Any]) -> dict[str, Any]:
    """Two injects feeding two failing nodes "a" and "b", and the given catch nodes (each wired to a
    debug node named after it, "<id>-out")."""
    nodes: list[dict[str, Any]] = [
        {"id": "in-a", "type": "inject", "config": {"payload": {"n": 1}}, "wires": [["a"]]},
        {"id": "in-b", "type": "inject", "config": {"payload": {"n": 2}}, "wires": [["b"]]},
        {"id": "a", "type": "change", "name": "first", "config": FAIL},
        {"id": "b", "type": "change", "name": "second", "config": FAIL},
    ]
    for catch in catches:
        nodes.append({"type": "catch", "wires": [[catch["id"] + "-out"]], **catch})
        nodes.append({"id": catch["id"] + "-out", "type": "debug", "config": {"property": ""}})
    return flow_document(*nodes)


async def test_catches_every_node_of_its_flow_by_default(tmp_path: Path) -> None:
    async with running(failing_flow({"id": "c"}), tmp_path) as (runtime, debug):
        await runtime.inject("in-a")
        await runtime.inject("in-b")
        caught = await debug.wait_for("c-out", 2)
        by_source = {m["meta"]["error"]["source"]["id"]: m for m in caught}
        assert set(by_source) == {"a", "b"}
        error = by_source["a"]["meta"]["error"]
        assert error == {
            "message": "rule 0 (move): payload.missing does not exist",
            "type": "LookupError",
            "source": {"id": "a", "type": "change", "name": "first"},
            "depth": 1,
        }
        assert by_source["a"]["payload"] == {"n": 1}
        assert by_source["b"]["payload"] == {"n": 2}
        assert "injectedAt" in by_source["a"]["meta"]
        snapshot = runtime.snapshot()
        assert snapshot["a"]["counters"]["errors"] == 1
        assert snapshot["a"]["last_error"] == "rule 0 (move): payload.missing does not exist"
        assert snapshot["c"]["counters"]["sent"] == 2


async def test_scope_limits_which_nodes_are_caught(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="flowengine.runtime")
    async with running(failing_flow({"id": "only-b", "config": {"scope": ["b"]}}), tmp_path) as (runtime, debug):
        await runtime.inject("in-a")
        await runtime.inject("in-b")
        (caught,) = await debug.wait_for("only-b-out", 1)
        assert caught["meta"]["error"]["source"]["id"] == "b"
        assert await runtime.drained(2)
        assert len(debug.values("only-b-out")) == 1
        snapshot = runtime.snapshot()
        assert snapshot["a"]["counters"]["errors"] == 1
        assert snapshot["b"]["counters"]["errors"] == 1
    # a's error had no catch in scope: it went to the log
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(line.startswith("node a (change) in flow f1: rule 0 (move): payload.missing does not exist") for line in logged), logged
    assert not any(line.startswith("node b ") for line in logged)


async def test_two_catches_both_get_a_copy(tmp_path: Path) -> None:
    async with running(failing_flow({"id": "c1"}, {"id": "c2", "config": {"scope": ["a", "b"]}}), tmp_path) as (runtime, debug):
        await runtime.inject("in-a")
        (one,) = await debug.wait_for("c1-out", 1)
        (two,) = await debug.wait_for("c2-out", 1)
        assert one["meta"]["error"] == two["meta"]["error"]
        assert one["meta"]["error"]["source"]["id"] == "a"


async def test_a_catch_only_sees_its_own_flow(tmp_path: Path) -> None:
    document = failing_flow()
    document["flows"].append({"id": "f2", "label": "other"})
    document["nodes"] += [
        {"id": "c-other", "type": "catch", "flow": "f2", "config": {}, "wires": [["other-out"]]},
        {"id": "other-out", "type": "debug", "flow": "f2", "config": {}, "wires": []},
    ]
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in-a")
        assert await runtime.drained(2)
        assert runtime.snapshot()["a"]["counters"]["errors"] == 1
        assert debug.values("other-out") == []


async def test_without_a_catch_the_error_is_logged_and_counters_move(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="flowengine.runtime")
    document = failing_flow()
    document["nodes"][2]["wires"] = [["after"]]
    document["nodes"].append({"id": "after", "type": "debug", "flow": "f1", "config": {}, "wires": []})
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in-a")
        await runtime.inject("in-a", {"missing": 5})  # the flow goes on
        assert await debug.wait_for("after", 1) == [{"x": 5}]
        snapshot = runtime.snapshot()["a"]
        assert snapshot["counters"] == {"received": 2, "sent": 1, "errors": 1, "dropped": 0}
        assert snapshot["last_error"] == "rule 0 (move): payload.missing does not exist"
        assert debug.errors["a"][0]["error"] == "rule 0 (move): payload.missing does not exist"
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "flowengine.runtime"]
    text = record.getMessage()
    assert text.startswith("node a (change) in flow f1: rule 0 (move): payload.missing does not exist; message: ")
    assert "'payload': {'n': 1}" in text


async def test_an_error_loop_stops_after_ten_rounds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="flowengine.runtime")
    document = flow_document(
        {"id": "in", "type": "inject", "config": {"payload": {}}, "wires": [["bad"]]},
        {"id": "bad", "type": "change", "config": FAIL},
        {"id": "c", "type": "catch", "wires": [["bad", "seen"]]},
        {"id": "seen", "type": "debug", "config": {"property": "meta.error.depth"}},
    )
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in")
        assert await debug.wait_for("seen", MAX_ERROR_DEPTH) == list(range(1, MAX_ERROR_DEPTH + 1))
        assert await runtime.drained(2)
        snapshot = runtime.snapshot()
        assert snapshot["bad"]["counters"]["errors"] == MAX_ERROR_DEPTH + 1
        assert snapshot["bad"]["counters"]["received"] == MAX_ERROR_DEPTH + 1
        assert snapshot["c"]["counters"]["sent"] == MAX_ERROR_DEPTH
        assert len(debug.values("seen")) == MAX_ERROR_DEPTH
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage().startswith("node bad (change) in flow f1: rule 0 (move)")
    assert MAX_ERROR_DEPTH == 10


def test_the_scope_must_be_a_list_of_ids() -> None:
    document = failing_flow({"id": "c", "config": {"scope": "a"}})
    problems = [str(p) for p in validate(document, Registry.from_entry_points(), {}).problems]
    assert problems == ["node c (catch): /config/scope: 'a' is not of type 'array'"]
