"""``datafeed``: seed 002's data feed (``{"dps": [...]}``) and one message per property."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.testing import flow_document as flow
from flowengine.testing import running
from nodes.datafeed import DatafeedNode, feed_time

UPLINK = {"type": "uplink", "devEui": "0732227a557d8679", "fPort": 2, "fCnt": 7, "bytes": "00e7641f40",
          "receivedAt": "2017-05-01T16:00:57.467+02:00", "decoded": {"Temperature": 23.1, "humidity": 50, "state": "Operational"}}


def document(**config: Any) -> dict[str, Any]:
    return flow(
        {"id": "in", "type": "inject", "config": {"payload": UPLINK}, "wires": [["feed"]]},
        {"id": "feed", "type": "datafeed", "config": config, "wires": [["dbg"]]},
        {"id": "dbg", "type": "debug", "config": {"property": ""}},
        {"id": "catch", "type": "catch", "wires": [["errors"]]},
        {"id": "errors", "type": "debug", "config": {"property": "meta.error.message"}},
    )


def test_feed_time_is_utc_with_milliseconds() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert feed_time("2017-05-01T16:00:57.467+02:00", now) == "2017-05-01T14:00:57.467Z"
    assert feed_time("2017-05-01T14:00:57Z", now) == "2017-05-01T14:00:57.000Z"
    assert feed_time(None, now) == "2026-01-01T00:00:00.000Z"
    assert feed_time(1493647257467, now) == "2017-05-01T14:00:57.467Z"


def test_check_rejects_bad_paths_and_templates() -> None:
    assert DatafeedNode.check({"deviceId": "{devEui", "source": "payload.decoded", "timePath": ""})
    assert DatafeedNode.check({"deviceId": "{devEui}", "source": "payload.decoded", "timePath": "payload.receivedAt"}) == []


async def test_json_data_feed(tmp_path: Path) -> None:
    async with running(document(deviceId="_dev_{devEui}"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (out,) = await debug.wait_for("dbg", 1)
    assert out["topic"] == "connio/data/out/devices/_dev_0732227a557d8679/json"
    assert out["payload"] == {"dps": [
        {"t": "2017-05-01T14:00:57.467Z", "v": 23.1, "prop": "temperature"},
        {"t": "2017-05-01T14:00:57.467Z", "v": 50, "prop": "humidity"},
        {"t": "2017-05-01T14:00:57.467Z", "v": "Operational", "prop": "state"},
    ]}
    assert out["meta"]["id"] == "_dev_0732227a557d8679"


async def test_one_message_per_property_with_lowercase_names(tmp_path: Path) -> None:
    async with running(document(mode="properties"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        outs = await debug.wait_for("dbg", 3)
    assert [(o["topic"], o["payload"], o["meta"]["name"]) for o in outs] == [
        ("connio/data/out/devices/0732227a557d8679/properties/temperature", 23.1, "temperature"),
        ("connio/data/out/devices/0732227a557d8679/properties/humidity", 50, "humidity"),
        ("connio/data/out/devices/0732227a557d8679/properties/state", "Operational", "state"),
    ]


async def test_missing_values_are_a_per_message_error(tmp_path: Path) -> None:
    async with running(document(source="payload.nothing"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (error,) = await debug.wait_for("errors", 1)
    assert error == "node feed (datafeed): payload.nothing: expected an object of property -> value, got NoneType"
