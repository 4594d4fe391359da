"""``mqtt-out``: topic templates of seeds 000/002/004, delivery confirmed only on PUBACK, and the
bounded queue while the broker is away (drops counted), against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.testing import flow_document as flow
from flowengine.testing import running
from flowengine.types import JSONObject
from nodes.mqtt_out import MqttOutNode, TemplateError, TopicTemplate, encode_payload
from tests.support.mosquitto import Mosquitto, Peer, available, wait_until

mqtt = pytest.mark.mqtt
needs_broker = pytest.mark.skipif(not available(), reason="mosquitto is not installed (Debian package mosquitto)")

UPLINK = {"type": "uplink", "devEui": "11223344aabbccdd", "fPort": 2, "fCnt": 1, "bytes": "00e7641f40",
          "decoded": {"Temperature": 23.1, "humidity": 50}}


class TrackedSource(Node):
    """Test source: sends the injected payload with a delivery and records when it completes."""

    type = "test-tracked-source"
    category = "source"
    inputs = 0
    injectable = True
    schema: ClassVar[JSONObject] = {"type": "object", "additionalProperties": False, "properties": {}}
    completed: ClassVar[list[tuple[Any, BaseException | None]]] = []

    async def inject(self, payload: Any = None) -> None:
        delivery = Delivery(lambda error: self.completed.append((payload, error)))
        msg = Message(payload, "src", delivery=delivery)
        delivery.hold()
        try:
            await self.send(msg)
        finally:
            delivery.release()


def message(payload: Any, **meta: Any) -> Message:
    return Message(payload, "t", dict(meta))


# -- templates, no broker -------------------------------------------------------------------


def test_seed_004_pattern_finds_deveui_case_insensitively() -> None:
    assert TopicTemplate("tpx/things/{DevEUI}/uplink").render(message(UPLINK)) == "tpx/things/11223344aabbccdd/uplink"


def test_seed_002_property_topic_with_lowercase_filter() -> None:
    template = TopicTemplate("connio/data/out/devices/{id}/properties/{name|lower}")
    assert template.render(message(23.1, id="_dev_5716", name="Temperature")) == "connio/data/out/devices/_dev_5716/properties/temperature"


def test_any_field_and_explicit_paths() -> None:
    msg = message(UPLINK, gateway="gw-1")
    assert TopicTemplate("up/{fPort}/{meta.gateway}/{payload.decoded.humidity}/{DEVEUI|upper}").render(msg) == \
        "up/2/gw-1/50/11223344AABBCCDD"
    assert TopicTemplate("{topic}/x").render(msg) == "t/x"
    with pytest.raises(TemplateError, match=r"placeholder \{missing\} has no text value"):
        TopicTemplate("a/{missing}").render(msg)
    with pytest.raises(TemplateError, match="decoded"):
        TopicTemplate("a/{decoded}").render(msg)


def test_check_reports_bad_templates() -> None:
    assert MqttOutNode.check({"topic": "a/{DevEUI"}) == [("/topic", "unbalanced '{' or '}' (placeholders look like {DevEUI} or {name|lower})")]
    assert MqttOutNode.check({"topic": "a/+/b"}) == [("/topic", "a topic to publish to cannot contain the wildcards '+' or '#'")]
    assert MqttOutNode.check({"topic": "tpx/things/{DevEUI}/uplink"}) == []


def test_payload_encodings() -> None:
    assert encode_payload({"a": 1}, "json") == b'{"a":1}'
    assert encode_payload("Operational", "json") == b'"Operational"'
    assert encode_payload("Operational", "text") == b"Operational"
    assert encode_payload(45, "text") == b"45"
    assert encode_payload("00e764", "bytes") == b"\x00\xe7\x64"
    with pytest.raises(ValueError, match="payload: not hex"):
        encode_payload("zz", "bytes")


# -- with a broker ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Mosquitto(tmp_path_factory.mktemp("mosquitto")) as running_broker:
        yield running_broker


def out_flow(port: int, broker: dict[str, Any] | None = None, **out: Any) -> dict[str, Any]:
    return flow(
        {"id": "b", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": port, "reconnectStrategy": "AGGRESSIVE", **(broker or {})}},
        {"id": "src", "type": "test-tracked-source", "wires": [["out"]]},
        {"id": "out", "type": "mqtt-out", "config": {"broker": "b", **out}},
    )


@mqtt
@needs_broker
async def test_seed_000_root_topic_with_deveui_suffix_and_retain(shared_broker: Mosquitto, tmp_path: Path) -> None:
    TrackedSource.completed = []
    document = out_flow(shared_broker.port, topic="mytopic", appendDevEui=True, retain=True)
    async with running(document, tmp_path, extra_types=[TrackedSource]) as (runtime, debug):
        await debug.wait_status("out", "connected")
        await runtime.inject("src", UPLINK)
        await wait_until(lambda: len(TrackedSource.completed) == 1)
    with Peer(shared_broker.port) as peer:  # subscribed afterwards: the retained message arrives
        peer.subscribe("mytopic/#")
        ((topic, payload),) = await peer.wait_count(1)
    assert topic == "mytopic/11223344aabbccdd"
    assert json.loads(payload) == UPLINK
    assert TrackedSource.completed == [(UPLINK, None)]


@mqtt
@needs_broker
async def test_datafeed_properties_to_seed_002_topics(shared_broker: Mosquitto, tmp_path: Path) -> None:
    TrackedSource.completed = []
    document = flow(
        {"id": "b", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": shared_broker.port}},
        {"id": "src", "type": "test-tracked-source", "wires": [["feed"]]},
        {"id": "feed", "type": "datafeed", "config": {"mode": "properties", "deviceId": "_dev_{devEui}"}, "wires": [["out"]]},
        {"id": "out", "type": "mqtt-out", "config": {"broker": "b", "topic": "connio/data/out/devices/{id}/properties/{name|lower}"}},
    )
    with Peer(shared_broker.port) as peer:
        peer.subscribe("connio/#")
        async with running(document, tmp_path, extra_types=[TrackedSource]) as (runtime, debug):
            await debug.wait_status("out", "connected")
            await runtime.inject("src", UPLINK)
            received = await peer.wait_count(2)
            await wait_until(lambda: len(TrackedSource.completed) == 1)
    assert sorted(received) == [("connio/data/out/devices/_dev_11223344aabbccdd/properties/humidity", b"50"),
                                ("connio/data/out/devices/_dev_11223344aabbccdd/properties/temperature", b"23.1")]
    assert TrackedSource.completed == [(UPLINK, None)]  # both properties acknowledged: one delivery


@mqtt
@needs_broker
async def test_delivered_only_on_puback_and_queued_while_the_broker_is_away(tmp_path: Path) -> None:
    TrackedSource.completed = []
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        document = out_flow(broker.port, topic="held/{fCnt}")
        async with running(document, tmp_path / "data", extra_types=[TrackedSource]) as (runtime, debug):
            client = runtime.node("b").client  # type: ignore[union-attr]
            await wait_until(lambda: client.connected)
            broker.stop()
            await wait_until(lambda: not client.connected)
            for n in range(5):
                await runtime.inject("src", {**UPLINK, "fCnt": n})
            await asyncio.sleep(0.5)
            assert TrackedSource.completed == []  # no PUBACK, no delivery
            with _late_peer(broker) as peer:
                peer.subscribe("held/#")
                await wait_until(lambda: client.connected, timeout=10)
                await peer.wait_count(5)
                await wait_until(lambda: len(TrackedSource.completed) == 5)
        assert sorted(t for t, _ in peer.received()) == [f"held/{n}" for n in range(5)]
        assert all(error is None for _, error in TrackedSource.completed)
    finally:
        broker.close()


async def inject_while_disconnected(runtime: Any, broker: Mosquitto, count: int) -> None:
    """Wait for the broker connection, stop the broker, then inject ``count`` numbered messages."""
    client = runtime.node("b").client
    await wait_until(lambda: client.connected)
    broker.stop()
    await wait_until(lambda: not client.connected)
    for n in range(count):
        await runtime.inject("src", n)


def _late_peer(broker: Mosquitto) -> Peer:
    broker.start()
    return Peer(broker.port)


@mqtt
@needs_broker
async def test_past_the_queue_bound_drops_are_counted(tmp_path: Path) -> None:
    TrackedSource.completed = []
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        document = out_flow(broker.port, broker={"inflight": 2}, topic="bounded", queueLimit=5, overflow="drop")
        async with running(document, tmp_path / "data", extra_types=[TrackedSource]) as (runtime, debug):
            await inject_while_disconnected(runtime, broker, 20)
            await runtime.drained()
            out = runtime.node("out")
            assert out.dropped == 13  # type: ignore[union-attr]  # 2 in flight + 5 queued kept
            assert runtime.snapshot()["out"]["counters"]["dropped"] == 13
            await debug.wait_status("out", "13 dropped (queue full)")
            broker.start()
            await wait_until(lambda: len(TrackedSource.completed) == 20, timeout=10)
        failed = [payload for payload, error in TrackedSource.completed if error is not None]
        delivered = [payload for payload, error in TrackedSource.completed if error is None]
        assert sorted(delivered) == [0, 1, 2, 3, 4, 5, 6]
        assert len(failed) == 13
    finally:
        broker.close()


@mqtt
@needs_broker
async def test_overflow_wait_holds_the_flow_back_and_loses_nothing(tmp_path: Path) -> None:
    TrackedSource.completed = []
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        document = out_flow(broker.port, broker={"inflight": 2}, topic="waiting", queueLimit=3, overflow="wait")
        with Peer(broker.port, client_id="waiting-sink", clean=False) as peer:
            peer.subscribe("waiting")
            async with running(document, tmp_path / "data", extra_types=[TrackedSource]) as (runtime, debug):
                await inject_while_disconnected(runtime, broker, 20)
                assert runtime.snapshot()["out"]["queue"]["size"] > 0  # the rest waits upstream
                broker.start()
                await wait_until(lambda: len(TrackedSource.completed) == 20, timeout=15)
                await peer.wait_count(20, timeout=15)
            assert sorted(int(p) for _, p in peer.received()) == list(range(20))
    finally:
        broker.close()


def load_example() -> dict[str, Any]:
    return json.loads((Path(__file__).resolve().parents[2] / "flows" / "mqtt-uplinks.json").read_text())


@mqtt
@needs_broker
async def test_example_flow_mqtt_uplinks_runs_end_to_end(shared_broker: Mosquitto, tmp_path: Path) -> None:
    document = load_example()
    for node in document["nodes"]:
        if node["type"] == "mqtt-broker":
            node["config"]["port"] = shared_broker.port
    chirpstack = {"deviceInfo": {"devEui": "0011223344556677", "applicationId": "1"}, "fPort": 2, "fCnt": 9,
                  "data": "AOdkH0A=", "time": "2026-01-01T10:00:00+00:00",
                  "rxInfo": [{"gatewayId": "218000ac0000a05f", "rssi": -80, "snr": 7.5}]}
    with Peer(shared_broker.port) as peer:
        peer.subscribe("flowengine/uplinks/#")
        async with running(document, tmp_path) as (runtime, debug):
            client = runtime.node("broker").client  # type: ignore[union-attr]
            await wait_until(lambda: client.connected and not client._suback_pending)
            peer.publish("application/1/device/0011223344556677/event/up", json.dumps(chirpstack))
            ((topic, payload),) = await peer.wait_count(1)
            await wait_until(lambda: client.stats["acked"] == 1)
    record = json.loads(payload)
    assert topic == "flowengine/uplinks/0011223344556677"
    assert (record["devEui"], record["fCnt"], record["temperature"], record["humidity"], record["battery"]) == \
        ("0011223344556677", 9, 23.1, 50, 8000)
    assert "decoded" not in record and "bytes" not in record
