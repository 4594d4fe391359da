"""The runtime through documents: fan-out, backpressure, redeploy, draining, errors, delivery."""

import asyncio
import logging
import time
from typing import ClassVar

import pytest

from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.testing import flow_document, running
from flowengine.validation import InvalidDocument


class Counter(Node):
    """Test source: sends ``count`` messages numbered 0.. with ``interval`` seconds between them."""

    type = "test-counter"
    category = "source"
    inputs = 0
    schema: ClassVar = {"type": "object", "properties": {"count": {"type": "integer", "default": 10}, "interval": {"type": "number", "default": 0}}}

    async def start(self) -> None:
        self.sent_all = asyncio.Event()
        self.spawn(self._run(), "count")

    async def _run(self) -> None:
        for number in range(self.config["count"]):
            await self.send(Message({"n": number}))
            if self.config["interval"]:
                await asyncio.sleep(self.config["interval"])
        self.sent_all.set()


class Recorder(Node):
    """Test sink: keeps every payload it gets; optionally slow."""

    type = "test-recorder"
    category = "sink"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {"delay": {"type": "number", "default": 0}, "tag": {"type": "string", "default": ""}}}

    async def start(self) -> None:
        self.payloads: list = []

    async def on_message(self, msg: Message) -> None:
        if self.config["delay"]:
            await asyncio.sleep(self.config["delay"])
        self.payloads.append(msg.payload)


class Tagger(Node):
    """Test transform: writes its ``tag`` into the payload."""

    type = "test-tagger"
    schema: ClassVar = {"type": "object", "properties": {"tag": {"type": "string", "default": "a"}}}

    async def on_message(self, msg: Message) -> Message:
        msg.payload["tag"] = self.config["tag"]
        return msg


class Flaky(Node):
    """Test node: fails to start ``failures`` times; on_message raises for odd numbers; stop may hang."""

    type = "test-flaky"
    schema: ClassVar = {"type": "object", "properties": {"failures": {"type": "integer", "default": 0}, "hang": {"type": "boolean", "default": False}}}
    attempts: ClassVar[dict[str, int]] = {}

    async def start(self) -> None:
        done = Flaky.attempts.get(self.id, 0)
        Flaky.attempts[self.id] = done + 1
        if done < self.config["failures"]:
            raise ConnectionError(f"attempt {done + 1} refused")

    async def on_message(self, msg: Message) -> Message:
        if msg.payload["n"] % 2:
            raise ValueError(f"odd number {msg.payload['n']}")
        return msg

    async def stop(self) -> None:
        if self.config["hang"]:
            await asyncio.sleep(3600)


class SyncTagger(Node):
    """Test transform with a plain ``def`` handler: appends its ``tag``; raises on a multiple of ``fail_every``."""

    type = "test-sync-tagger"
    schema: ClassVar = {"type": "object", "properties": {"tag": {"type": "string", "default": "a"}, "fail_every": {"type": "integer", "default": 0},
                                                         "failures": {"type": "integer", "default": 0}}}
    attempts: ClassVar[dict[str, int]] = {}

    async def start(self) -> None:
        done = SyncTagger.attempts.get(self.id, 0)
        SyncTagger.attempts[self.id] = done + 1
        if done < self.config["failures"]:
            raise ConnectionError("not yet")

    def on_message(self, msg: Message) -> Message:
        every = self.config["fail_every"]
        if every and msg.payload["n"] % every == 0:
            raise ValueError(f"{self.config['tag']} refuses {msg.payload['n']}")
        msg.payload.setdefault("tags", []).append(self.config["tag"])
        return msg


TYPES = (Counter, Recorder, Tagger, Flaky, SyncTagger)


async def test_fan_out_gives_each_branch_its_own_copy(tmp_path):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 3}, "wires": [["t1", "t2"]]},
        {"id": "t1", "type": "test-tagger", "config": {"tag": "one"}, "wires": [["r1"]]},
        {"id": "t2", "type": "test-tagger", "config": {"tag": "two"}, "wires": [["r2"]]},
        {"id": "r1", "type": "test-recorder"},
        {"id": "r2", "type": "test-recorder"},
    )
    async with running(document, tmp_path, extra_types=TYPES) as (runtime, _):
        await runtime.node("src").sent_all.wait()
        assert await runtime.drained()
        assert runtime.node("r1").payloads == [{"n": n, "tag": "one"} for n in range(3)]
        assert runtime.node("r2").payloads == [{"n": n, "tag": "two"} for n in range(3)]
        snapshot = runtime.snapshot()
        assert snapshot["src"]["counters"]["sent"] == 3
        assert snapshot["t1"]["counters"] == {"received": 3, "sent": 3, "errors": 0, "dropped": 0}


async def test_backpressure_bounds_every_queue(tmp_path):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 2000}, "wires": [["t"]]},
        {"id": "t", "type": "test-tagger", "wires": [["slow"]]},
        {"id": "slow", "type": "test-recorder", "config": {"delay": 0.0005}},
    )
    async with running(document, tmp_path, extra_types=TYPES, queue_size=16) as (runtime, _):
        await asyncio.sleep(0.2)
        # the source is held back: it cannot have sent more than what was handled plus what the two
        # queues hold, the message each worker has in hand and the one the source waits to queue
        handled = len(runtime.node("slow").payloads)
        sent = runtime.snapshot()["src"]["counters"]["sent"]
        assert sent <= handled + 16 * 2 + 3
        await asyncio.wait_for(runtime.node("src").sent_all.wait(), 30)
        assert await runtime.drained()
        snapshot = runtime.snapshot()
        assert snapshot["slow"]["queue"]["peak"] <= 16
        assert snapshot["t"]["queue"]["peak"] <= 16
        assert [p["n"] for p in runtime.node("slow").payloads] == list(range(2000))


async def test_redeploy_one_node_while_streaming_loses_nothing(tmp_path):
    def document(tag: str, recorder_delay: float = 0.0) -> dict:
        return flow_document(
            {"id": "src", "type": "test-counter", "config": {"count": 600, "interval": 0.001}, "wires": [["t"]]},
            {"id": "t", "type": "test-tagger", "config": {"tag": tag}, "wires": [["sink"]]},
            {"id": "sink", "type": "test-recorder", "config": {"delay": recorder_delay}},
        )

    async with running(document("old"), tmp_path, extra_types=TYPES, queue_size=8) as (runtime, _):
        source, sink = runtime.node("src"), runtime.node("sink")
        await asyncio.sleep(0.15)
        changes = await runtime.deploy(document("new"))
        assert changes["started"] == ["t"] and changes["stopped"] == ["t"]
        assert runtime.node("src") is source and runtime.node("sink") is sink  # untouched
        await asyncio.wait_for(source.sent_all.wait(), 30)
        assert await runtime.drained()
        numbers = [p["n"] for p in sink.payloads]
        assert sorted(numbers) == list(range(600))  # none lost, none duplicated
        tags = [p["tag"] for p in sink.payloads]
        assert tags[0] == "old" and tags[-1] == "new"


async def test_graceful_stop_drains_in_flight_messages(tmp_path):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 50}, "wires": [["sink"]]},
        {"id": "sink", "type": "test-recorder", "config": {"delay": 0.002}},
    )
    async with running(document, tmp_path, extra_types=TYPES, queue_size=100) as (runtime, _):
        sink = runtime.node("sink")
        await runtime.node("src").sent_all.wait()
        assert len(sink.payloads) < 50
        await runtime.stop()
        assert len(sink.payloads) == 50
        assert runtime.snapshot() == {}


async def test_failing_stop_cannot_hang_shutdown(tmp_path, caplog):
    document = flow_document({"id": "f", "type": "test-flaky", "config": {"hang": True}})
    async with running(document, tmp_path, extra_types=TYPES, stop_timeout=0.2) as (runtime, _):
        began = time.monotonic()
        await runtime.stop()
        assert time.monotonic() - began < 2
    assert "node f (test-flaky) in flow f1: stop failed: timed out" in caplog.text


async def test_start_is_retried_with_back_off(tmp_path):
    Flaky.attempts.clear()
    document = flow_document({"id": "f", "type": "test-flaky", "config": {"failures": 1}})
    async with running(document, tmp_path, extra_types=TYPES) as (runtime, debug):
        entry = runtime.snapshot()["f"]
        assert entry["state"] == "failed"
        assert entry["last_error"] == "attempt 1 refused"
        assert "start failed: attempt 1 refused" in entry["status"]["text"]
        for _ in range(300):
            if runtime.snapshot()["f"]["state"] == "running":
                break
            await asyncio.sleep(0.01)
        assert runtime.snapshot()["f"]["state"] == "running"


async def test_errors_go_to_catch_with_source_and_the_flow_goes_on(tmp_path):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 4}, "wires": [["f"]]},
        {"id": "f", "type": "test-flaky", "name": "odd hater", "wires": [["ok"]]},
        {"id": "ok", "type": "test-recorder"},
        {"id": "c", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "debug", "config": {"property": ""}},
    )
    async with running(document, tmp_path, extra_types=TYPES) as (runtime, debug):
        caught = await debug.wait_for("caught", 2)
        assert await runtime.drained()
        assert runtime.node("ok").payloads == [{"n": 0}, {"n": 2}]
        assert [m["payload"]["n"] for m in caught] == [1, 3]
        assert caught[0]["meta"]["error"]["source"] == {"id": "f", "type": "test-flaky", "name": "odd hater"}
        assert caught[0]["meta"]["error"]["message"] == "odd number 1"
        entry = runtime.snapshot()["f"]
        assert entry["counters"]["errors"] == 2 and entry["last_error"] == "odd number 3"


async def test_errors_without_catch_are_logged_with_the_message(tmp_path, caplog):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 2}, "wires": [["f"]]},
        {"id": "f", "type": "test-flaky"},
    )
    with caplog.at_level(logging.ERROR, "flowengine.runtime"):
        async with running(document, tmp_path, extra_types=TYPES) as (runtime, _):
            await runtime.node("src").sent_all.wait()
            assert await runtime.drained()
    assert "node f (test-flaky) in flow f1: odd number 1; message: {'id'" in caplog.text


async def test_disabled_nodes_and_flows_do_not_run(tmp_path):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 3}, "wires": [["off", "on"]]},
        {"id": "off", "type": "test-tagger", "disabled": True, "wires": [["r1"]]},
        {"id": "on", "type": "test-recorder"},
        {"id": "r1", "type": "test-recorder"},
        {"id": "other", "type": "test-counter", "flow": "f2"},
        flows=[{"id": "f1"}, {"id": "f2", "disabled": True}],
    )
    async with running(document, tmp_path, extra_types=TYPES) as (runtime, _):
        await runtime.node("src").sent_all.wait()
        assert await runtime.drained()
        assert runtime.node("off") is None and runtime.node("other") is None
        assert len(runtime.node("on").payloads) == 3
        assert runtime.node("r1").payloads == []
        snapshot = runtime.snapshot()
        assert snapshot["off"]["state"] == "disabled" and snapshot["other"]["state"] == "disabled"


async def test_invalid_deploy_changes_nothing(tmp_path):
    good = flow_document({"id": "a", "type": "inject"})
    async with running(good, tmp_path) as (runtime, _):
        node = runtime.node("a")
        with pytest.raises(InvalidDocument) as error:
            await runtime.deploy(flow_document({"id": "a", "type": "inject", "config": {"repeat": "often"}}))
        assert "node a (inject): /config/repeat: 'often' is not of type 'number'" in str(error.value)
        assert runtime.node("a") is node


class Holder(Node):
    """Test sink that confirms later, like an MQTT PUBACK."""

    type = "test-holder"
    category = "sink"
    outputs = 0

    async def start(self) -> None:
        self.held: list = []

    async def on_message(self, msg: Message) -> None:
        self.held.append(msg.delivery.hold())


async def test_delivery_completes_once_after_every_branch(tmp_path):
    document = flow_document(
        {"id": "a", "type": "inject", "wires": [["t", "h"]]},
        {"id": "t", "type": "test-tagger", "wires": [["r"]]},
        {"id": "r", "type": "test-recorder"},
        {"id": "h", "type": "test-holder"},
    )
    async with running(document, tmp_path, extra_types=(*TYPES, Holder)) as (runtime, _):
        completions: list = []
        delivery = Delivery(on_complete=completions.append)
        delivery.hold()
        await runtime.node("a").send(Message({"n": 0}, delivery=delivery))
        delivery.release()
        assert await runtime.drained()
        assert runtime.node("r").payloads == [{"n": 0, "tag": "a"}]
        assert completions == []  # the holder has not confirmed yet
        runtime.node("h").held[0].release()
        assert completions == [None]


class Shared(Node):
    """Test config node: a shared connection."""

    type = "test-shared"
    category = "config"
    inputs = 0
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {"host": {"type": "string", "default": "a"}}}


class User(Node):
    """Test node that uses a test-shared config node."""

    type = "test-user"
    category = "sink"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {"shared": {"type": "string", "x-node-type": "test-shared"}}, "required": ["shared"]}

    async def start(self) -> None:
        self.shared = self.config_node(self.config["shared"])


async def test_users_of_a_config_node_restart_with_it(tmp_path):
    def document(host: str, disabled: bool = False) -> dict:
        return flow_document(
            {"id": "conn", "type": "test-shared", "flow": None, "config": {"host": host}, "disabled": disabled},
            {"id": "user", "type": "test-user", "config": {"shared": "conn"}},
        )

    async with running(document("a"), tmp_path, extra_types=(Shared, User)) as (runtime, _):
        assert runtime.node("user").shared is runtime.node("conn")
        changes = await runtime.deploy(document("b"))
        assert changes["started"] == ["conn", "user"]
        assert runtime.node("user").shared is runtime.node("conn")
        await runtime.deploy(document("b", disabled=True))
        entry = runtime.snapshot()["user"]
        assert entry["state"] == "failed"
        assert entry["last_error"] == "node user (test-user): referenced node conn is not running"


class Leaky(Node):
    """Test node whose errors and status quote its own secret."""

    type = "test-leaky"
    schema: ClassVar = {"type": "object", "properties": {"password": {"type": "string", "writeOnly": True, "default": ""}}}

    async def on_message(self, msg: Message) -> None:
        self.status(f"login as admin:{self.config['password']} refused", color="red")
        raise PermissionError(f"broker refused password {self.config['password']!r}")


async def test_no_secret_reaches_errors_statuses_or_the_log(tmp_path, caplog):
    document = flow_document(
        {"id": "a", "type": "inject", "wires": [["leak"]]},
        {"id": "leak", "type": "test-leaky", "config": {"password": "hunter2"}},
        {"id": "c", "type": "catch", "wires": [["seen"]]},
        {"id": "seen", "type": "debug", "config": {"property": ""}},
    )
    async with running(document, tmp_path, extra_types=(Leaky,)) as (runtime, debug):
        await runtime.inject("a")
        caught = await debug.wait_for("seen")
        entry = runtime.snapshot()["leak"]
        assert entry["last_error"] == "broker refused password *****"
        assert entry["status"]["text"] == "login as admin:***** refused"
        assert caught[0]["meta"]["error"]["message"] == "broker refused password *****"
        assert "hunter2" not in str(debug.status) + str(debug.errors)
    assert "hunter2" not in caplog.text


def sync_chain(count: int, *, fail_every: int = 0, delay: float = 0.0, failures: int = 0) -> dict:
    return flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": count}, "wires": [["a"]]},
        {"id": "a", "type": "test-sync-tagger", "config": {"tag": "a"}, "wires": [["b"]]},
        {"id": "b", "type": "test-sync-tagger", "config": {"tag": "b", "fail_every": fail_every, "failures": failures}, "wires": [["c"]]},
        {"id": "c", "type": "test-sync-tagger", "config": {"tag": "c"}, "wires": [["sink"]]},
        {"id": "sink", "type": "test-recorder", "config": {"delay": delay}},
        {"id": "catch", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "debug", "config": {"property": ""}},
    )


async def test_plain_def_successors_keep_order_counters_and_backpressure(tmp_path):
    """Idle plain-``def`` successors run in their predecessor's worker; nothing overtakes, every
    node counts what it handled, and a slow sink still holds the source back."""
    SyncTagger.attempts.clear()
    async with running(sync_chain(400, delay=0.0005), tmp_path, extra_types=TYPES, queue_size=8) as (runtime, _):
        await asyncio.sleep(0.1)
        handled = len(runtime.node("sink").payloads)
        assert runtime.snapshot()["src"]["counters"]["sent"] <= handled + 8 * 4 + 5
        await asyncio.wait_for(runtime.node("src").sent_all.wait(), 30)
        assert await runtime.drained()
        assert runtime.node("sink").payloads == [{"n": n, "tags": ["a", "b", "c"]} for n in range(400)]
        snapshot = runtime.snapshot()
        for node_id in "abc":
            assert snapshot[node_id]["counters"] == {"received": 400, "sent": 400, "errors": 0, "dropped": 0}


async def test_a_plain_def_successor_fails_as_itself(tmp_path):
    SyncTagger.attempts.clear()
    async with running(sync_chain(10, fail_every=3), tmp_path, extra_types=TYPES) as (runtime, debug):
        caught = await debug.wait_for("caught", 4)
        assert await runtime.drained()
        assert [m["payload"]["n"] for m in caught] == [0, 3, 6, 9]
        assert {m["meta"]["error"]["source"]["id"] for m in caught} == {"b"}
        assert caught[1]["meta"]["error"]["message"] == "b refuses 3"
        assert [p["n"] for p in runtime.node("sink").payloads] == [1, 2, 4, 5, 7, 8]
        snapshot = runtime.snapshot()
        assert snapshot["b"]["counters"] == {"received": 10, "sent": 6, "errors": 4, "dropped": 0}
        assert snapshot["a"]["counters"]["sent"] == 10 and snapshot["c"]["counters"]["received"] == 6


async def test_messages_wait_for_a_plain_def_successor_that_has_not_started(tmp_path):
    """b fails its first start: what a sends meanwhile waits in b's queue, and what a sends while b
    works through that backlog does not overtake it."""
    SyncTagger.attempts.clear()
    document = sync_chain(400, failures=1, delay=0.0005)
    async with running(document, tmp_path, extra_types=TYPES, queue_size=8) as (runtime, _):
        await asyncio.sleep(0.3)
        assert runtime.snapshot()["b"]["state"] == "failed"
        assert runtime.node("sink").payloads == []  # waiting in b's queue, not run by a
        assert runtime.snapshot()["b"]["queue"]["size"] > 0
        await asyncio.wait_for(runtime.node("src").sent_all.wait(), 30)
        assert await runtime.drained()
        assert runtime.node("sink").payloads == [{"n": n, "tags": ["a", "b", "c"]} for n in range(400)]


class Gate(Node):
    """Test sink with a plain-def handler that pauses its input after every ``burst`` messages."""

    type = "test-gate"
    category = "sink"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {"burst": {"type": "integer", "default": 5}}}

    async def start(self) -> None:
        self.payloads: list = []

    def on_message(self, msg: Message) -> None:
        self.payloads.append(msg.payload["n"])
        if len(self.payloads) % self.config["burst"] == 0:
            self.pause_input()


async def test_a_node_that_pauses_its_input_holds_the_flow_back_until_it_resumes(tmp_path):
    document = flow_document(
        {"id": "src", "type": "test-counter", "config": {"count": 50}, "wires": [["a"]]},
        {"id": "a", "type": "test-sync-tagger", "wires": [["gate"]]},
        {"id": "gate", "type": "test-gate", "config": {"burst": 20}},
    )
    async with running(document, tmp_path, extra_types=(*TYPES, Gate), queue_size=8) as (runtime, _):
        gate = runtime.node("gate")
        for burst in (1, 2):
            await asyncio.sleep(0.1)
            assert len(gate.payloads) == 20 * burst  # paused after each burst
            snapshot = runtime.snapshot()
            assert snapshot["gate"]["queue"]["size"] >= 7  # the rest waits upstream (one may be in hand), not lost
            assert snapshot["src"]["counters"]["sent"] <= 20 * burst + 8 + 2  # the source is held back too
            assert not await runtime.drained(timeout=0.05)
            gate.resume_input()
        await asyncio.wait_for(runtime.node("src").sent_all.wait(), 10)
        assert await runtime.drained()
        assert gate.payloads == list(range(50))
