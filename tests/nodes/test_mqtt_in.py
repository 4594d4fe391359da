"""``mqtt-in`` (with ``mqtt-out``) against a real Mosquitto: wildcards, payload formats, per-message
errors, at-least-once across a broker restart, a runner SIGKILL, and shared subscriptions."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowengine.testing import flow_document as flow
from flowengine.testing import running
from nodes.mqtt_in import decode_payload, filter_problems
from tests.support.mosquitto import Mosquitto, Peer, available, wait_until

REPO = Path(__file__).resolve().parents[2]
mqtt = pytest.mark.mqtt
needs_broker = pytest.mark.skipif(not available(), reason="mosquitto is not installed (Debian package mosquitto)")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Mosquitto(tmp_path_factory.mktemp("mosquitto")) as running_broker:
        yield running_broker


def uplink(dev_eui: str, f_cnt: int = 1) -> dict[str, Any]:
    return {"type": "uplink", "devEui": dev_eui, "fPort": 2, "fCnt": f_cnt, "bytes": "00e7641f40",
            "receivedAt": "2026-01-01T10:00:00+00:00"}


def broker_node(port: int, **config: Any) -> dict[str, Any]:
    return {"id": "b", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": port, "reconnectStrategy": "AGGRESSIVE", **config}}


# -- without a broker -----------------------------------------------------------------------


def test_payload_decoding() -> None:
    assert decode_payload(b'{"a": 1}', "auto") == ({"a": 1}, "json")
    assert decode_payload(b"hello", "auto") == ("hello", "text")
    assert decode_payload(b"42", "auto") == (42, "json")
    assert decode_payload(b"\xff\x00", "auto") == ("ff00", "hex")
    assert decode_payload(b'{"a": 1}', "text") == ('{"a": 1}', "text")
    assert decode_payload(b"\x01\x02", "bytes") == ("0102", "hex")
    with pytest.raises(ValueError, match=r"payload: not JSON at byte 7"):
        decode_payload(b'{"a": 1', "json")
    with pytest.raises(ValueError, match=r"not UTF-8 at byte 1"):
        decode_payload(b"a\xff", "text")


def test_topic_filter_checks() -> None:
    assert filter_problems("application/+/device/+/event/up") == []
    assert filter_problems("a/#") == []
    assert filter_problems("a/#/b")
    assert filter_problems("a/b+")
    assert filter_problems("$share/g/a")


# -- with a broker ----------------------------------------------------------------------------


@mqtt
@needs_broker
async def test_wildcard_subscription_to_deveui_suffix_and_pattern(broker: Mosquitto, tmp_path: Path) -> None:
    document = flow(
        broker_node(broker.port),
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "ns/+/up"}, "wires": [["suffix", "pattern", "dbg"]]},
        {"id": "suffix", "type": "mqtt-out", "config": {"broker": "b", "topic": "app/uplinks", "appendDevEui": True}},
        {"id": "pattern", "type": "mqtt-out", "config": {"broker": "b", "topic": "tpx/things/{DevEUI}/uplink"}},
        {"id": "dbg", "type": "debug", "config": {"property": ""}},
    )
    with Peer(broker.port) as peer:
        peer.subscribe("app/#")
        peer.subscribe("tpx/#")
        async with running(document, tmp_path) as (runtime, debug):
            await debug.wait_status("in", "connected")
            await wait_until(lambda: runtime.node("b").client.stats["connects"] == 1)  # type: ignore[union-attr]
            await wait_until(lambda: not runtime.node("b").client._suback_pending)  # type: ignore[union-attr]
            peer.publish("ns/gw1/up", json.dumps(uplink("11223344AABBCCDD")))
            peer.publish("ns/gw2/up", json.dumps(uplink("0011223344556677", 2)))
            peer.publish("other/topic", "ignored")
            received = await peer.wait_count(4)
            shown = await debug.wait_for("dbg", 2)
    topics = sorted(topic for topic, _ in received)
    assert topics == ["app/uplinks/0011223344556677", "app/uplinks/11223344aabbccdd",
                      "tpx/things/0011223344556677/uplink", "tpx/things/11223344AABBCCDD/uplink"]
    assert json.loads(dict(received)["tpx/things/0011223344556677/uplink"])["fCnt"] == 2
    assert shown[0]["topic"] == "ns/gw1/up"
    assert shown[0]["meta"]["mqtt"] == {"topic": "ns/gw1/up", "qos": 1, "retain": False, "dup": False, "encoding": "json"}


@mqtt
@needs_broker
async def test_malformed_json_is_a_per_message_error_and_the_flow_goes_on(broker: Mosquitto, tmp_path: Path) -> None:
    document = flow(
        broker_node(broker.port),
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "bad/json", "payloadFormat": "json"}, "wires": [["dbg"]]},
        {"id": "dbg", "type": "debug"},
        {"id": "catch", "type": "catch", "wires": [["errors"]]},
        {"id": "errors", "type": "debug", "config": {"property": ""}},
    )
    with Peer(broker.port) as peer:
        async with running(document, tmp_path) as (runtime, debug):
            await debug.wait_status("in", "connected")
            await wait_until(lambda: not runtime.node("b").client._suback_pending)  # type: ignore[union-attr]
            peer.publish("bad/json", '{"temperature": 21.5,')
            peer.publish("bad/json", '{"temperature": 22}')
            assert await debug.wait_for("dbg", 1) == [{"temperature": 22}]
            caught = await debug.wait_for("errors", 1)
            client = runtime.node("b").client  # type: ignore[union-attr]
            await wait_until(lambda: client.stats["acked"] == 2)
    error = caught[0]["meta"]["error"]
    assert "node in (mqtt-in): payload: not JSON at byte 21" in error["message"]
    assert "bad/json" in error["message"]
    assert caught[0]["payload"] == '{"temperature": 21.5,'


@mqtt
@needs_broker
async def test_payload_formats_and_properties_with_mqtt5(broker: Mosquitto, tmp_path: Path) -> None:
    document = flow(
        broker_node(broker.port, protocol="5"),
        {"id": "bytes", "type": "mqtt-in", "config": {"broker": "b", "topic": "fmt/bytes", "payloadFormat": "bytes"}, "wires": [["d1"]]},
        {"id": "text", "type": "mqtt-in", "config": {"broker": "b", "topic": "fmt/text", "payloadFormat": "text"}, "wires": [["d2"]]},
        {"id": "d1", "type": "debug", "config": {"property": ""}},
        {"id": "d2", "type": "debug", "config": {"property": ""}},
    )
    with Peer(broker.port) as peer:
        async with running(document, tmp_path) as (runtime, debug):
            await debug.wait_status("bytes", "connected")
            await wait_until(lambda: not runtime.node("b").client._suback_pending)  # type: ignore[union-attr]
            peer.publish("fmt/bytes", b"\x00\xe7\x64")
            peer.publish("fmt/text", "42")
            raw = (await debug.wait_for("d1", 1))[0]
            text = (await debug.wait_for("d2", 1))[0]
    assert raw["payload"] == "00e764" and raw["meta"]["mqtt"]["encoding"] == "hex"
    assert text["payload"] == "42"
    assert "properties" not in text["meta"]["mqtt"]


@mqtt
@needs_broker
async def test_mqtt5_properties_are_in_meta(broker: Mosquitto, tmp_path: Path) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    document = flow(
        broker_node(broker.port, protocol="5"),
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "props/#"}, "wires": [["d"]]},
        {"id": "d", "type": "debug", "config": {"property": ""}},
    )
    publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        async with running(document, tmp_path) as (runtime, debug):
            await wait_until(lambda: runtime.node("b").client.connected and not runtime.node("b").client._suback_pending)  # type: ignore[union-attr]
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = "application/json"
            properties.UserProperty = [("gateway", "gw-1")]
            publisher.publish("props/x", '{"a": 1}', 1, properties=properties).wait_for_publish(10)
            (shown,) = await debug.wait_for("d", 1)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    assert shown["payload"] == {"a": 1}
    assert shown["meta"]["mqtt"]["properties"]["ContentType"] == "application/json"
    assert shown["meta"]["mqtt"]["properties"]["UserProperty"] == [["gateway", "gw-1"]]


@mqtt
@needs_broker
async def test_shared_subscription_group_splits_between_two_connections(broker: Mosquitto, tmp_path: Path) -> None:
    nodes = []
    for n in (1, 2):
        nodes += [
            {"id": f"b{n}", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": broker.port}},
            {"id": f"in{n}", "type": "mqtt-in", "config": {"broker": f"b{n}", "topic": "shared/+", "group": "g"}, "wires": [[f"d{n}"]]},
            {"id": f"d{n}", "type": "debug"},
        ]
    with Peer(broker.port) as peer:
        async with running(flow(*nodes), tmp_path) as (runtime, debug):
            for n in (1, 2):
                client = runtime.node(f"b{n}").client  # type: ignore[union-attr]
                await wait_until(lambda client=client: client.connected and not client._suback_pending)
            peer.publish_many([(f"shared/{i}", str(i)) for i in range(200)])
            await wait_until(lambda: len(debug.debug["d1"]) + len(debug.debug["d2"]) == 200)
    first, second = debug.values("d1"), debug.values("d2")
    assert sorted(first + second) == list(range(200))
    assert first and second


# -- at least once, slow ----------------------------------------------------------------------


@mqtt
@needs_broker
@pytest.mark.slow
async def test_ten_thousand_qos1_messages_end_to_end_none_lost(broker: Mosquitto, tmp_path: Path) -> None:
    count = 10_000
    document = flow(
        broker_node(broker.port),
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "bulk/in/+"}, "wires": [["out"]]},
        {"id": "out", "type": "mqtt-out", "config": {"broker": "b", "topic": "bulk/out/{DevEUI}"}},
    )
    with Peer(broker.port) as peer:
        peer.subscribe("bulk/out/#")
        async with running(document, tmp_path) as (runtime, debug):
            client = runtime.node("b").client  # type: ignore[union-attr]
            await wait_until(lambda: client.connected and not client._suback_pending)
            peer.publish_many([(f"bulk/in/{i % 100}", json.dumps({"devEui": f"{i % 100:016x}", "n": i})) for i in range(count)])
            received = await peer.wait_count(count, timeout=60)
            await wait_until(lambda: client.stats["acked"] == count)
    numbers = sorted(json.loads(payload)["n"] for _, payload in received)
    assert numbers == list(range(count))


@mqtt
@needs_broker
@pytest.mark.slow
async def test_broker_restart_mid_stream_loses_nothing(tmp_path: Path) -> None:
    """Persistent sessions on both sides: messages published before, during (queued at the
    publisher) and after a broker outage all arrive, after a reconnect and resubscribe."""
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    document = flow(
        broker_node(broker.port, clientId="relay-restart", cleanSession=False),
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "restart/in"}, "wires": [["out"]]},
        {"id": "out", "type": "mqtt-out", "config": {"broker": "b", "topic": "restart/out"}},
    )
    try:
        sink = Peer(broker.port, client_id="restart-sink", clean=False)
        sink.subscribe("restart/out")
        source = Peer(broker.port, client_id="restart-source", clean=False)
        async with running(document, tmp_path / "data") as (runtime, debug):
            client = runtime.node("b").client  # type: ignore[union-attr]
            await wait_until(lambda: client.connected and not client._suback_pending)
            source.publish_many([("restart/in", str(i)) for i in range(300)])
            broker.stop()
            await debug.wait_status("in", "disconnected")
            # published while the broker is down: paho keeps them and sends them on reconnect
            for i in range(300, 600):
                source.client.publish("restart/in", str(i), 1)
            await asyncio.sleep(2.0)
            assert not client.connected and client.attempts >= 2  # AGGRESSIVE: retried meanwhile
            broker.start()
            await wait_until(lambda: client.connected, timeout=20)
            await wait_until(lambda: source.client.is_connected(), timeout=20)
            source.publish_many([("restart/in", str(i)) for i in range(600, 900)])
            await wait_until(lambda: len({p for _, p in sink.received()}) >= 900, timeout=30)
        got = {int(p) for _, p in sink.received()}
        assert got == set(range(900))
        assert client.stats["connects"] >= 2
        sink.close()
        source.close()
    finally:
        broker.close()


def runner_flow(port: int, client_id: str, delay_ms: int, group: str = "", output: str = "runner/out") -> dict[str, Any]:
    return flow(
        {"id": "b", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": port, "clientId": client_id,
                                                        "cleanSession": False, "reconnectStrategy": "AGGRESSIVE"}},
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "runner/in", "group": group}, "wires": [["slow"]]},
        {"id": "slow", "type": "delay", "config": {"milliseconds": delay_ms}, "wires": [["out"]]},
        {"id": "out", "type": "mqtt-out", "config": {"broker": "b", "topic": output, "payloadFormat": "text"}},
    )


def start_runner(tmp_path: Path, name: str, document: dict[str, Any]) -> subprocess.Popen[bytes]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document))
    log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - handed to the process
    env = {**os.environ, "FLOWENGINE_SECRET": "tests-only-secret"}
    try:
        return subprocess.Popen([sys.executable, "-m", "flowengine", "run", str(path), "--data", str(tmp_path / f"{name}-data"),
                                 "--port", "0"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    finally:
        log.close()


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            kill(process)


@mqtt
@needs_broker
@pytest.mark.slow
async def test_sigkill_before_a_slow_sink_delivered_is_redelivered_after_restart(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    document = runner_flow(broker.port, "runner-kill", delay_ms=3000)
    runner = start_runner(tmp_path, "runner", document)
    try:
        with Peer(broker.port) as peer:
            peer.subscribe("runner/out")
            await wait_until(lambda: broker.subscribed("runner-kill", "runner/in"), timeout=30)
            peer.publish("runner/in", "precious")
            await asyncio.sleep(1.0)  # received by the runner, held by the slow sink
            kill(runner)
            assert peer.count() == 0
            runner = start_runner(tmp_path, "runner", document)
            received = await peer.wait_count(1, timeout=30)
            assert received[0] == ("runner/out", b"precious")
    finally:
        stop(runner)
        broker.close()


@mqtt
@needs_broker
@pytest.mark.slow
async def test_two_runners_in_a_shared_group_split_a_stream_one_killed_nothing_lost(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    runners = {}
    try:
        for name in ("r1", "r2"):
            document = runner_flow(broker.port, f"shared-{name}", delay_ms=5, group="workers", output=f"runner/out/{name}")
            runners[name] = start_runner(tmp_path, name, document)
        for name in runners:
            await wait_until(lambda name=name: broker.subscribed(f"shared-{name}", "$share/workers/runner/in"), timeout=30)
        with Peer(broker.port) as peer:
            peer.subscribe("runner/out/#")
            total = 1000
            peer.publish_many([("runner/in", str(i)) for i in range(total // 2)])
            await wait_until(lambda: {t for t, _ in peer.received()} == {"runner/out/r1", "runner/out/r2"}, timeout=30)
            kill(runners["r1"])
            peer.publish_many([("runner/in", str(i)) for i in range(total // 2, total)])
            # what r1 held unacknowledged goes to r2 (the broker moves it to the group's other
            # member) or back to r1 when it returns: restart it so both paths are covered
            runners["r1"] = start_runner(tmp_path, "r1", runner_flow(broker.port, "shared-r1", delay_ms=5, group="workers", output="runner/out/r1"))
            await wait_until(lambda: {int(p) for _, p in peer.received()} >= set(range(total)), timeout=60)
            by_runner = {name: sum(1 for t, _ in peer.received() if t.endswith(name)) for name in runners}
    finally:
        for process in runners.values():
            stop(process)
        broker.close()
    assert all(count > 0 for count in by_runner.values()), by_runner


@mqtt
@needs_broker
@pytest.mark.slow
async def test_a_blast_into_a_slow_flow_is_taken_in_bounded(broker: Mosquitto, tmp_path: Path) -> None:
    """The broker sends its whole queue once acknowledgements flow; mqtt-in pauses the socket so
    what it holds stays at its window, and everything still arrives. (The sink publishes through
    a second connection: on a shared one the socket is also read for the sink's PUBACKs, and the
    broker's messages queued ahead of them come in too.)"""
    count = 3000
    document = flow(
        broker_node(broker.port, inflight=100),
        {"id": "b2", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": broker.port}},
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "blast/in"}, "wires": [["slow"]]},
        {"id": "slow", "type": "delay", "config": {"milliseconds": 1}, "wires": [["out"]]},
        {"id": "out", "type": "mqtt-out", "config": {"broker": "b2", "topic": "blast/out"}},
    )
    with Peer(broker.port) as peer:
        peer.subscribe("blast/out")
        async with running(document, tmp_path, queue_size=100) as (runtime, debug):
            client = runtime.node("b").client  # type: ignore[union-attr]
            await wait_until(lambda: client.connected and not client._suback_pending)
            peer.publish_many([("blast/in", str(i)) for i in range(count)])
            received = await peer.wait_count(count, timeout=60)
            peak = runtime.node("in").peak  # type: ignore[union-attr]
    assert sorted(int(p) for _, p in received) == list(range(count))
    assert peak <= 101


@mqtt
@needs_broker
@pytest.mark.slow
async def test_redeploying_mqtt_in_mid_stream_loses_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    """The old node hands on what it received before it stops; what arrives before its successor
    subscribes waits in the shared connection for it (persistent session: no UNSUBSCRIBE)."""
    def document(fmt: str) -> dict[str, Any]:
        return flow(
            broker_node(broker.port, clientId="redeploy-relay", cleanSession=False),
            {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "redeploy/in", "payloadFormat": fmt}, "wires": [["out"]]},
            {"id": "out", "type": "mqtt-out", "config": {"broker": "b", "topic": "redeploy/out"}},
        )

    with Peer(broker.port) as peer:
        peer.subscribe("redeploy/out")
        async with running(document("auto"), tmp_path) as (runtime, debug):
            client = runtime.node("b").client  # type: ignore[union-attr]
            await wait_until(lambda: client.connected and not client._suback_pending)
            for round_ in range(4):
                peer.publish_many([("redeploy/in", str(round_ * 500 + i)) for i in range(500)])
                await runtime.deploy(document("json" if round_ % 2 == 0 else "auto"))
            received = await peer.wait_count(2000, timeout=30)
    assert sorted(int(p) for _, p in received) == list(range(2000))
