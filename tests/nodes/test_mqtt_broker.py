"""``mqtt-broker``: the shared connection's status, TLS (trustme CA, client certificates), wrong
credentials and unreachable brokers, against a real Mosquitto."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flowengine.testing import flow_document as flow
from flowengine.testing import running
from nodes.mqtt_broker import MqttBrokerNode
from tests.support.mosquitto import Mosquitto, Peer, available, free_port, wait_until

mqtt = pytest.mark.mqtt
needs_broker = pytest.mark.skipif(not available(), reason="mosquitto is not installed (Debian package mosquitto)")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Mosquitto(tmp_path_factory.mktemp("mosquitto"), client_cert=True, users={"device": "s3cret"}) as running_broker:
        yield running_broker


def document(port: int, **config: Any) -> dict[str, Any]:
    return flow(
        {"id": "b", "type": "mqtt-broker", "config": {"host": "127.0.0.1", "port": port, "reconnectStrategy": "AGGRESSIVE", **config}},
        {"id": "in", "type": "mqtt-in", "config": {"broker": "b", "topic": "tls/#"}, "wires": [["dbg"]]},
        {"id": "dbg", "type": "debug"},
    )


def statuses(debug: Any, node: str) -> list[str]:
    return [event["status"]["text"] for event in debug.status[node]]


def test_check_names_the_field() -> None:
    assert MqttBrokerNode.check({"host": "h", "cleanSession": False, "clientId": ""}) == [
        ("/clientId", "a fixed client id is needed when clean session is off")]
    assert ("/privateKey", "a client certificate and its private key go together") in MqttBrokerNode.check(
        {"host": "h", "certificate": "c.pem", "tls": True})
    assert MqttBrokerNode.check({"host": "h", "willTopic": "a/#"}) == [("/willTopic", "a will topic cannot contain wildcards")]


def test_password_is_a_secret_in_the_schema() -> None:
    props = MqttBrokerNode.schema["properties"]
    for name in ("password", "privateKey", "certificate"):
        assert props[name]["writeOnly"] is True


@mqtt
@needs_broker
async def test_status_connected_with_password_and_message_flows(broker: Mosquitto, tmp_path: Path) -> None:
    async with running(document(broker.port, username="device", password="s3cret"), tmp_path) as (runtime, debug):
        await debug.wait_status("b", "connected")
        await debug.wait_status("in", "connected")
        client = runtime.node("b").client  # type: ignore[union-attr]
        await wait_until(lambda: not client._suback_pending)
        with Peer(broker.port, username="device", password="s3cret") as peer:
            peer.publish("tls/x", "1")
            assert await debug.wait_for("dbg", 1) == [1]
    assert any(text.startswith("connecting") for text in statuses(debug, "b"))
    assert client.state.state == "closed"


@mqtt
@needs_broker
async def test_wrong_password_status_says_why_and_retries(broker: Mosquitto, tmp_path: Path) -> None:
    async with running(document(broker.port, username="device", password="wrong"), tmp_path) as (runtime, debug):
        event = await debug.wait_status("b", "Not authorized")
        client = runtime.node("b").client  # type: ignore[union-attr]
        await wait_until(lambda: client.attempts >= 3, timeout=10)
        assert runtime.snapshot()["b"]["state"] == "running"  # no crash: the node keeps retrying
    assert event["status"]["color"] == "red"
    assert "broker refused the connection: Not authorized" in event["status"]["text"]
    assert "retrying in" in event["status"]["text"]
    shown_in = [text for text in statuses(debug, "in") if "Not authorized" in text]
    assert shown_in, "the mqtt-in node shows its broker's state too"


@mqtt
async def test_unreachable_broker_status_and_retry_pace_per_strategy(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    async with running(document(port), tmp_path / "a") as (runtime, debug):
        await debug.wait_status("b", f"connection refused by 127.0.0.1:{port}")
        aggressive = runtime.node("b").client  # type: ignore[union-attr]
        await wait_until(lambda: aggressive.attempts >= 4, timeout=5)
    async with running(document(port, reconnectStrategy="CALM"), tmp_path / "c") as (runtime, debug):
        event = await debug.wait_status("b", "connection refused")
        calm = runtime.node("b").client  # type: ignore[union-attr]
        await asyncio.sleep(1.0)
        assert calm.attempts == 1  # CALM waits 4 to 6 s before the second attempt
    delay = float(event["status"]["text"].rsplit("retrying in ", 1)[1].split(" ")[0])
    assert 4.0 <= delay <= 6.0


@mqtt
@needs_broker
async def test_tls_with_a_private_ca(broker: Mosquitto, tmp_path: Path) -> None:
    async with running(document(broker.tls_port, tls=True, ca=str(broker.ca_file), username="device", password="s3cret"), tmp_path) as (runtime, debug):
        await debug.wait_status("b", f"connected to mqtts://127.0.0.1:{broker.tls_port}")


@mqtt
@needs_broker
async def test_tls_ca_given_as_pem_text(broker: Mosquitto, tmp_path: Path) -> None:
    assert broker.ca_file is not None
    pem = broker.ca_file.read_text()
    async with running(document(broker.tls_port, tls=True, ca=pem, username="device", password="s3cret"), tmp_path) as (runtime, debug):
        await debug.wait_status("b", "connected to mqtts://")


@mqtt
@needs_broker
async def test_wrong_ca_is_refused_with_a_clear_status(broker: Mosquitto, tmp_path: Path) -> None:
    async with running(document(broker.tls_port, tls=True, ca=str(broker.other_ca_file)), tmp_path) as (runtime, debug):
        event = await debug.wait_status("b", "not trusted")
    assert f"TLS certificate of 127.0.0.1:{broker.tls_port} not trusted" in event["status"]["text"]


@mqtt
@needs_broker
async def test_system_cas_by_default_refuse_a_private_ca(broker: Mosquitto, tmp_path: Path) -> None:
    async with running(document(broker.tls_port, tls=True), tmp_path) as (runtime, debug):
        await debug.wait_status("b", "not trusted")


@mqtt
@needs_broker
async def test_client_certificate_listener(broker: Mosquitto, tmp_path: Path) -> None:
    base = {"tls": True, "ca": str(broker.ca_file), "username": "device", "password": "s3cret"}
    async with running(document(broker.mtls_port, **base), tmp_path / "without") as (runtime, debug):
        event = await debug.wait_status("b", "retrying")
    assert "the broker requires a client certificate" in event["status"]["text"]
    assert broker.client_cert_file is not None and broker.client_key_file is not None
    cert = {"certificate": broker.client_cert_file.read_text(), "privateKey": str(broker.client_key_file)}
    async with running(document(broker.mtls_port, **base, **cert), tmp_path / "with") as (runtime, debug):
        await debug.wait_status("b", f"connected to mqtts://127.0.0.1:{broker.mtls_port}")
