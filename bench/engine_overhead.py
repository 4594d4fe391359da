"""Engine overhead: messages per second through in-process chains of pass-through nodes.

    python bench/engine_overhead.py [--messages 200000]

Prints a table: a 5-node chain (source -> 5 pass-through -> sink; with ``async def`` and with plain
``def`` handlers) and a 1 -> 4 fan-out, on uvloop and with the collector tuned as ``flowengine serve`` and ``run`` have them,
with messages/s and microseconds per message per hop. Design target: >= 100,000 msg/s through
the 5-node chain on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import ClassVar

import uvloop

from flowengine.cli import tune_gc
from flowengine.message import Message
from flowengine.node import Node
from flowengine.testing import flow_document, running


class BenchSource(Node):
    """Sends ``count`` small messages as fast as the flow takes them."""

    type = "bench-source"
    category = "source"
    inputs = 0
    schema: ClassVar = {"type": "object", "properties": {"count": {"type": "integer"}}}

    async def start(self) -> None:
        self.began = 0.0
        self.spawn(self._run(), "send")

    async def _run(self) -> None:
        self.began = time.perf_counter()
        for number in range(self.config["count"]):
            await self.send(Message({"devEui": "0004a30b001c0530", "n": number}))


class PassThrough(Node):
    """Returns every message unchanged."""

    type = "bench-pass"

    async def on_message(self, msg: Message) -> Message:
        return msg


class SyncPassThrough(Node):
    """Returns every message unchanged, from a plain ``def`` (no coroutine per message)."""

    type = "bench-pass-sync"

    def on_message(self, msg: Message) -> Message:
        return msg


class BenchSink(Node):
    """Counts messages and notes when the last expected one arrived."""

    type = "bench-sink"
    category = "sink"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {"expect": {"type": "integer"}}}

    async def start(self) -> None:
        self.count = 0
        self.done = asyncio.Event()
        self.finished = 0.0

    async def on_message(self, msg: Message) -> None:
        self.count += 1
        if self.count == self.config["expect"]:
            self.finished = time.perf_counter()
            self.done.set()


def chain(count: int, length: int, kind: str = "bench-pass") -> dict:
    nodes = [{"id": "src", "type": "bench-source", "config": {"count": count}, "wires": [["p0"]]}]
    for index in range(length):
        target = f"p{index + 1}" if index + 1 < length else "sink"
        nodes.append({"id": f"p{index}", "type": kind, "wires": [[target]]})
    nodes.append({"id": "sink", "type": "bench-sink", "config": {"expect": count}})
    return flow_document(*nodes)


def fan_out(count: int, branches: int) -> dict:
    nodes = [{"id": "src", "type": "bench-source", "config": {"count": count}, "wires": [[f"s{i}" for i in range(branches)]]}]
    nodes += [{"id": f"s{i}", "type": "bench-sink", "config": {"expect": count}} for i in range(branches)]
    return flow_document(*nodes)


async def measure(document: dict, sinks: list[str]) -> float:
    with tempfile.TemporaryDirectory() as data:
        async with running(document, data, extra_types=(BenchSource, PassThrough, SyncPassThrough, BenchSink)) as (runtime, _):
            for sink in sinks:
                await runtime.node(sink).done.wait()
            finished = max(runtime.node(sink).finished for sink in sinks)
            return finished - runtime.node("src").began


async def main(count: int) -> None:
    rows = []
    elapsed = await measure(chain(count, 5), ["sink"])
    hops = 6  # source -> p0 -> ... -> p4 -> sink
    rows.append(("chain of 5 pass-through nodes", count, elapsed, hops))
    elapsed = await measure(chain(count, 5, "bench-pass-sync"), ["sink"])
    rows.append(("same, on_message a plain def", count, elapsed, hops))
    elapsed = await measure(fan_out(count, 4), [f"s{i}" for i in range(4)])
    rows.append(("fan-out 1 -> 4 (copies)", count, elapsed, 4))
    print(f"{'scenario':<32} {'messages':>9} {'seconds':>8} {'msg/s':>10} {'us/msg/hop':>11}")
    for name, messages, seconds, hop_count in rows:
        rate = messages / seconds
        print(f"{name:<32} {messages:>9} {seconds:>8.2f} {rate:>10,.0f} {seconds / messages / hop_count * 1e6:>11.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    tune_gc()  # as flowengine serve and run
    uvloop.run(main(parser.parse_args().messages))
