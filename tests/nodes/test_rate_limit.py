"""rate-limit: N per second/minute/hour, for the node or per device; drop or delay (delivery kept)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from flowengine.clock import ManualClock
from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.testing import flow_document, running
from flowengine.types import JSONObject


class AckingSource(Node):
    """Test source: each inject sends a message with a Delivery and records when it completes."""

    type = "test-acking-source"
    category = "source"
    inputs = 0
    injectable = True
    schema: ClassVar[JSONObject] = {"type": "object", "additionalProperties": False, "properties": {}}
    acked: ClassVar[list[Any]] = []

    async def inject(self, payload: Any = None) -> None:
        delivery = Delivery(on_complete=lambda error: AckingSource.acked.append(payload))
        delivery.hold()
        try:
            await self.send(Message(payload, delivery=delivery))
        finally:
            delivery.release()


def limit_flow(config: dict[str, Any], source: str = "inject") -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": source, "wires": [["rl"]]},
        {"id": "rl", "type": "rate-limit", "config": config, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": "payload"}},
    )


async def settle(runtime: Any) -> None:
    assert await runtime.drained(2)
    await asyncio.sleep(0.01)


async def test_drop_over_the_limit_for_the_node(tmp_path: Path) -> None:
    clock = ManualClock()
    async with running(limit_flow({"rate": 2, "per": "second"}), tmp_path, clock=clock) as (runtime, debug):
        for n in range(5):
            await runtime.inject("in", n)
        await settle(runtime)
        assert debug.values("out") == [0, 1]
        await clock.advance(0.5)  # half a period: one token back
        for n in range(5, 7):
            await runtime.inject("in", n)
        await settle(runtime)
        assert debug.values("out") == [0, 1, 5]
        await clock.advance(10)  # refills to the rate, not beyond
        for n in range(10, 14):
            await runtime.inject("in", n)
        await settle(runtime)
        assert debug.values("out") == [0, 1, 5, 10, 11]
        await clock.advance(1.0)  # the status shows at most once a second
        snapshot = runtime.snapshot()["rl"]
    assert snapshot["counters"]["dropped"] == 6
    assert snapshot["status"]["text"] == "5 passed, 6 dropped, 0 waiting"


async def test_per_device(tmp_path: Path) -> None:
    config = {"rate": 1, "per": "hour", "scope": "device"}
    async with running(limit_flow(config), tmp_path, clock=ManualClock()) as (runtime, debug):
        for dev in ("a", "a", "b", "b", "c"):
            await runtime.inject("in", {"devEui": dev})
        await settle(runtime)
    assert [p["devEui"] for p in debug.values("out")] == ["a", "b", "c"]


async def test_delay_keeps_order_and_the_delivery_open(tmp_path: Path) -> None:
    AckingSource.acked = []
    clock = ManualClock()
    config = {"rate": 1, "per": "second", "action": "delay"}
    async with running(limit_flow(config, AckingSource.type), tmp_path, clock=clock, extra_types=[AckingSource]) as (runtime, debug):
        for n in range(3):
            await runtime.inject("in", n)
        await settle(runtime)
        assert debug.values("out") == [0]
        assert AckingSource.acked == [0]  # the others wait, not acknowledged yet
        node: Any = runtime.node("rl")
        assert (node.passed, node.dropped, node.waiting) == (1, 0, 2)
        await clock.advance(1.0)
        await settle(runtime)
        assert debug.values("out") == [0, 1]
        assert AckingSource.acked == [0, 1]
        await clock.advance(1.0)
        await settle(runtime)
        assert debug.values("out") == [0, 1, 2]
        assert AckingSource.acked == [0, 1, 2]
        assert runtime.snapshot()["rl"]["counters"]["dropped"] == 0


async def test_delay_queue_is_bounded_and_stop_does_not_ack_waiting_messages(tmp_path: Path) -> None:
    AckingSource.acked = []
    config = {"rate": 1, "per": "minute", "action": "delay", "maxQueued": 2}
    async with running(limit_flow(config, AckingSource.type), tmp_path, clock=ManualClock(), stop_timeout=1,
                       extra_types=[AckingSource]) as (runtime, debug):
        for n in range(5):
            await runtime.inject("in", n)
        await settle(runtime)
        assert debug.values("out") == [0]
        node: Any = runtime.node("rl")
        assert (node.passed, node.dropped, node.waiting) == (1, 2, 2)
        assert sorted(AckingSource.acked) == [0, 3, 4]  # a dropped message is handled: it completes
        loop = asyncio.get_running_loop()
        started = loop.time()
        await runtime.stop()
        assert loop.time() - started < 1.0
    assert sorted(AckingSource.acked) == [0, 3, 4]  # 1 and 2 were still waiting: never acknowledged


async def test_idle_device_buckets_are_forgotten(tmp_path: Path) -> None:
    clock = ManualClock()
    config = {"rate": 1, "per": "second", "scope": "device"}
    async with running(limit_flow(config), tmp_path, clock=clock) as (runtime, debug):
        for n in range(999):
            await runtime.inject("in", {"devEui": f"d{n}"})
        await settle(runtime)
        node: Any = runtime.node("rl")
        assert len(node._buckets) == 999
        await clock.advance(2.0)  # every bucket is full again
        await runtime.inject("in", {"devEui": "d0"})  # the 1000th message prunes
        await settle(runtime)
        assert len(node._buckets) == 1
        assert node.passed == 1000
