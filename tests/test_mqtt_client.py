"""The engine's MQTT client (paho driven from the asyncio loop) against a real Mosquitto: manual
acknowledgement and redelivery, stale acks after a reconnect, bounded windows both ways, pausing,
the will, and the back-off profiles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.mqtt_client import STRATEGIES, BrokerSettings, Incoming, MqttClient
from tests.support.mosquitto import Mosquitto, Peer, available, wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.skipif(not available(), reason="mosquitto is not installed")]


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running_broker:
        yield running_broker


async def connected(settings: BrokerSettings) -> MqttClient:
    client = MqttClient(settings)
    await client.start()
    async with asyncio.timeout(10):
        await client.wait_connected()
    return client


async def subscribed(client: MqttClient) -> None:
    await wait_until(lambda: not client._suback_pending)


def test_backoff_profiles_grow_to_their_ceiling() -> None:
    for name, (first, ceiling) in {"AGGRESSIVE": (0.2, 5.0), "NORMAL": (1.0, 30.0), "CALM": (5.0, 300.0)}.items():
        profile = STRATEGIES[name]
        assert first * 0.8 <= profile.delay(0) <= first * 1.2
        assert ceiling * 0.8 <= profile.delay(50) <= ceiling * 1.2
        assert profile.delay(3) > profile.delay(0)


async def test_unacknowledged_messages_are_redelivered_and_stale_acks_not_sent(broker: Mosquitto) -> None:
    settings = BrokerSettings("127.0.0.1", broker.port, client_id="redeliver", clean_session=False, reconnect="AGGRESSIVE")
    client = await connected(settings)
    got: list[Incoming] = []
    client.subscribe("r/#", 1, got.append)
    await subscribed(client)
    with Peer(broker.port) as peer:
        peer.publish("r/1", "one")
        peer.publish("r/2", "two")
    await wait_until(lambda: len(got) == 2)
    client.ack(got[0])  # "two" stays unacknowledged
    await asyncio.sleep(0.1)
    broker.stop()
    broker.start()
    await wait_until(lambda: client.stats["connects"] == 2, timeout=10)
    client.ack(got[1])  # from the old connection: not sent (its mid means nothing now)
    assert client.stats["stale_acks"] == 1
    await wait_until(lambda: len(got) == 3, timeout=10)
    assert (got[2].topic, got[2].payload, got[2].dup) == ("r/2", b"two", True)
    client.ack(got[2])
    await asyncio.sleep(0.2)
    await client.close()
    client = await connected(settings)  # nothing left to redeliver
    client.subscribe("r/#", 1, got.append)
    await asyncio.sleep(0.5)
    assert len(got) == 3
    await client.close()


async def test_publish_window_is_bounded_and_waits(broker: Mosquitto) -> None:
    client = await connected(BrokerSettings("127.0.0.1", broker.port, inflight=3))
    done: list[Any] = []
    broker.stop()
    await wait_until(lambda: not client.connected)
    accepted = [client.publish("w", b"x", 1, False, done.append) for _ in range(5)]
    assert accepted == [True, True, True, False, False]
    assert client.window_free() == 0
    broker.start()
    await wait_until(lambda: len(done) == 3, timeout=10)
    assert done == [None, None, None] and client.window_free() == 3
    await client.close()


async def test_mqtt5_receive_maximum_bounds_what_the_broker_sends_unacknowledged(broker: Mosquitto) -> None:
    """Mosquitto 2.0 honours Receive Maximum until the first acknowledgements, then sends the rest of
    its queue at once (so the nodes bound what they take in by pausing the socket instead)."""
    client = await connected(BrokerSettings("127.0.0.1", broker.port, protocol="5", inflight=10))
    got: list[Incoming] = []
    client.subscribe("rm/#", 1, got.append)
    await subscribed(client)
    with Peer(broker.port) as peer:
        peer.publish_many([("rm/x", str(i)) for i in range(50)])
        await asyncio.sleep(0.3)
        assert len(got) == 10
        for incoming in list(got):
            client.ack(incoming)
        await wait_until(lambda: len(got) >= 20)
    await client.close()


async def test_pause_reading_stops_taking_messages_until_resumed(broker: Mosquitto) -> None:
    client = await connected(BrokerSettings("127.0.0.1", broker.port))
    got: list[Incoming] = []
    client.subscribe("p/#", 0, got.append)
    await subscribed(client)
    owner = object()
    client.pause_reading(owner)
    with Peer(broker.port) as peer:
        peer.publish_many([("p/x", str(i)) for i in range(100)], qos=0)
        await asyncio.sleep(0.3)
        assert got == []
        client.resume_reading(owner)
        await wait_until(lambda: len(got) == 100)
    await client.close()


async def test_will_is_published_when_the_connection_is_lost(broker: Mosquitto) -> None:
    with Peer(broker.port) as peer:
        peer.subscribe("status/#")
        client = await connected(BrokerSettings("127.0.0.1", broker.port, will={"topic": "status/relay", "payload": "offline", "qos": 1}))
        client._drop_socket()  # lost without DISCONNECT, as a crash would
        assert await peer.wait_count(1) == [("status/relay", b"offline")]
        await client.close()
        clean = await connected(BrokerSettings("127.0.0.1", broker.port, will={"topic": "status/clean", "payload": "offline"}))
        await clean.close()  # a clean DISCONNECT: no will
        await asyncio.sleep(0.3)
        assert peer.count() == 1


async def test_overlapping_subscriptions_ack_once_after_both(broker: Mosquitto) -> None:
    client = await connected(BrokerSettings("127.0.0.1", broker.port))
    first: list[Incoming] = []
    second: list[Incoming] = []
    client.subscribe("o/+", 1, first.append)
    client.subscribe("o/#", 1, second.append)
    await subscribed(client)
    with Peer(broker.port) as peer:
        peer.publish("o/a", "x")
        await wait_until(lambda: first and second)
    # mosquitto sends one copy per matching subscription; each copy reaches both callbacks
    incoming = first[0]
    assert incoming.pending == 2
    client.ack(incoming)
    assert client.stats["acked"] == 0
    client.ack(incoming)
    assert client.stats["acked"] == 1
    await client.close()


async def test_payloads_of_every_length_encoding_arrive_whole(broker: Mosquitto) -> None:
    """Remaining lengths of one, two, three and four bytes, through our own encoder and framer."""
    client = await connected(BrokerSettings("127.0.0.1", broker.port))
    got: list[Incoming] = []
    client.subscribe("sizes/#", 1, got.append)
    await subscribed(client)
    payloads = [bytes([n % 251]) * size for n, size in enumerate([0, 1, 100, 127, 128, 5_000, 16_383, 16_384, 300_000, 2_100_000])]
    done: list[Any] = []
    for n, payload in enumerate(payloads):
        assert client.publish(f"sizes/{n}", payload, 1, False, done.append)
    # our own messages may come back before their PUBACKs: wait for both
    await wait_until(lambda: len(got) == len(payloads) and len(done) == len(payloads), timeout=20)
    assert [(m.topic, m.payload) for m in got] == [(f"sizes/{n}", p) for n, p in enumerate(payloads)]
    assert done == [None] * len(payloads)
    await client.close()
