"""``records``: seed 003's data format, one message per property."""

from __future__ import annotations

from typing import Any

from flowengine.message import Delivery, Message
from flowengine.testing import running

UPLINK = {
    "type": "uplink", "devEui": "70b3d57ed0000001", "fPort": 2, "fCnt": 7, "bytes": "00",
    "receivedAt": "2026-01-01T00:00:10.250+00:00",
    "rx": [{"gatewayEui": "0016c001ff000001", "rssi": -80, "snr": 7.5}],
    "decoded": {"temperature": 21.5, "door": "open", "battery": {"voltage": 3600}, "alarm": True},
}


def document(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1, "flows": [{"id": "f1", "label": "t"}],
        "nodes": [
            {"id": "in", "type": "inject", "flow": "f1", "config": {}, "wires": [["rec"]]},
            {"id": "rec", "type": "records", "flow": "f1", "config": config, "wires": [["out"]]},
            {"id": "out", "type": "debug", "flow": "f1", "config": {"property": ""}, "wires": []},
            {"id": "c", "type": "catch", "flow": "f1", "config": {}, "wires": [["err"]]},
            {"id": "err", "type": "debug", "flow": "f1", "config": {"property": ""}, "wires": []},
        ],
    }


async def test_one_record_per_property_with_every_field(tmp_path) -> None:
    config = {
        "properties": {"temperature": {"name": "Temperature", "unit": "°C", "scale": 10, "offset": -1,
                                       "externalId": "ext-1", "slug": "temp", "isOutOfService": False,
                                       "tags": {"room": "A1"}},
                       "battery.voltage": {"unit": "mV", "scale": 0.001}},
        "tags": {"site": "lab"},
        "tagFields": {"fPort": "payload.fPort", "gateway": "payload.rx.0.gatewayEui"},
    }
    async with running(document(config), tmp_path) as (runtime, debug):
        await runtime.inject("in", UPLINK)
        messages = await debug.wait_for("out", count=4)
    records = {m["payload"]["property"]: m["payload"] for m in messages}
    assert list(records) == ["temperature", "door", "battery.voltage", "alarm"]
    temperature = records["temperature"]
    assert list(temperature) == ["deviceId", "property", "timestamp", "payload", "receivedAt", "scaledPayload", "name",
                                 "unit", "externalId", "propertyId", "equipmentId", "gatewayInterfaceId", "slug",
                                 "isOutOfService", "tags"]
    assert temperature == {
        "deviceId": "70b3d57ed0000001", "property": "temperature", "timestamp": 1767225610250, "payload": 21.5,
        "receivedAt": 1767225610250, "scaledPayload": 214.0, "name": "Temperature", "unit": "°C",
        "externalId": "ext-1", "propertyId": None, "equipmentId": None, "gatewayInterfaceId": None, "slug": "temp",
        "isOutOfService": False, "tags": {"site": "lab", "fPort": "2", "gateway": "0016c001ff000001", "room": "A1"},
    }
    assert records["door"]["scaledPayload"] is None and records["door"]["name"] is None
    assert records["battery.voltage"]["scaledPayload"] == 3.6
    assert records["alarm"]["scaledPayload"] is None  # booleans are not numbers here
    assert all(m["meta"]["kind"] == "values" for m in messages)


async def test_batch_include_and_epoch_times(tmp_path) -> None:
    uplink = {**UPLINK, "receivedAt": 1767225610, "decoded": {"a": 1, "b": 2, "c": 3}}
    async with running(document({"batch": True, "include": ["a", "c"], "kind": "events"}), tmp_path) as (runtime, debug):
        await runtime.inject("in", uplink)
        [message] = await debug.wait_for("out")
    assert [r["property"] for r in message["payload"]] == ["a", "c"]
    assert message["payload"][0]["timestamp"] == 1767225610000 and message["meta"]["kind"] == "events"


async def test_records_share_the_uplink_delivery(tmp_path) -> None:
    completed: list[BaseException | None] = []
    async with running(document({}), tmp_path) as (runtime, debug):
        delivery = Delivery(on_complete=completed.append)
        delivery.hold()
        await runtime.node("in").send(Message(UPLINK, "t", {}, delivery=delivery))
        delivery.release()
        await debug.wait_for("out", count=4)
        assert await runtime.drained()
    assert completed == [None]


async def test_an_undecoded_uplink_fails_with_the_reason(tmp_path) -> None:
    undecoded = {k: v for k, v in UPLINK.items() if k != "decoded"}
    async with running(document({}), tmp_path) as (runtime, debug):
        await runtime.inject("in", undecoded)
        [failed] = await debug.wait_for("err")
    assert "payload.decoded: expected an object of decoded properties, got nothing" in failed["meta"]["error"]["message"]
