"""debug: publishes a field (or the whole message) as a debug event, and optionally logs it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from flowengine.testing import flow_document, running

PAYLOAD = {"decoded": {"temperature": 21.5}, "rx": [{"rssi": -80}]}


def debug_flow(**config: Any) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "name": "source", "config": {"payload": PAYLOAD, "topic": "up/dev1"}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "name": "show", "config": config},
    )


async def test_shows_the_payload_by_default(tmp_path: Path) -> None:
    async with running(debug_flow(), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        assert await debug.wait_for("out", 1) == [PAYLOAD]
        (event,) = debug.debug["out"]
        assert event["name"] == "show"
        assert event["flow"] == "f1"
        assert event["topic"] == "up/dev1"
        assert event["property"] == "payload"
        assert "injectedAt" in event["meta"]
        assert runtime.snapshot()["out"]["counters"] == {"received": 1, "sent": 0, "errors": 0, "dropped": 0}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("payload.decoded.temperature", 21.5),
        ("decoded.temperature", 21.5),
        ("payload.rx.0.rssi", -80),
        ("topic", "up/dev1"),
        ("payload.nothing.here", None),
    ],
)
async def test_shows_a_property_path(tmp_path: Path, path: str, value: Any) -> None:
    async with running(debug_flow(property=path), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        assert await debug.wait_for("out", 1) == [value]
        assert debug.debug["out"][0]["property"] == path


async def test_empty_property_shows_the_whole_message(tmp_path: Path) -> None:
    async with running(debug_flow(property=""), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (message,) = await debug.wait_for("out", 1)
        assert set(message) == {"id", "topic", "payload", "meta"}
        assert message["payload"] == PAYLOAD
        assert message["topic"] == "up/dev1"
        assert debug.debug["out"][0]["property"] == "msg"
        json.dumps(message)  # the event stream sends it as JSON


async def test_log_option_writes_each_value_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowengine.nodes.debug")
    async with running(debug_flow(log=True, property="payload.decoded"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        await debug.wait_for("out", 1)
    records = [r for r in caplog.records if r.name == "flowengine.nodes.debug"]
    assert [r.getMessage() for r in records] == ['{"temperature": 21.5}']
    assert records[0].levelno == logging.INFO
    assert records[0].node == "out"  # type: ignore[attr-defined]
    assert records[0].node_type == "debug"  # type: ignore[attr-defined]


async def test_no_log_by_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flowengine.nodes.debug")
    async with running(debug_flow(), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        await debug.wait_for("out", 1)
    assert [r for r in caplog.records if r.name == "flowengine.nodes.debug"] == []


async def test_disabled_debug_shows_nothing(tmp_path: Path) -> None:
    document = debug_flow()
    document["nodes"][1]["disabled"] = True
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in")
        await runtime.drained(2)
        assert debug.values("out") == []
        assert runtime.snapshot()["out"]["state"] == "disabled"
