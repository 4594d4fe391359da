"""Benchmark: ``http-out`` deliveries through the SQLite outbox to a local receiver.

    python bench/http_delivery.py            # ~1.5 minutes
    python bench/http_delivery.py --quick    # ~25 s

1. **Throughput.** N messages go from a source node into ``http-out`` as fast as the flow takes
   them; the receiver (a separate uvicorn process on 127.0.0.1, so it does not share the engine's
   event loop) answers 200. Reported: how fast messages are stored (acked to the source), and
   deliveries per second, for concurrency 1 (ordered) and 4.
2. **Outage.** 500 msg/s for the whole run; the receiver is stopped after 5 s and started again
   30 s later (10 s with ``--quick``). Reported every second: the outbox depth; then the peak, the
   time to drain after the receiver is back, and whether every message arrived, in order.

The receiver appends the ``n`` of each body to a file (one per receiver run), which is the
ground truth for "all delivered, in order". Back-off during the outage: 0.5 s doubling up to 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parent.parent
JSONObject = dict[str, Any]


def engine() -> tuple[Any, type]:
    """flowengine's ``running`` and a bench-only source node type (imported here, not at the top,
    so that the receiver process does not load the engine)."""
    sys.path.insert(0, str(REPO))
    from flowengine.message import Message
    from flowengine.node import Node
    from flowengine.testing import running

    class BenchSource(Node):
        """Bench-only source: ``emit(payload)``."""

        type = "bench-source"
        category = "source"
        inputs = 0
        schema: ClassVar[JSONObject] = {"type": "object", "additionalProperties": False, "properties": {}}

        async def emit(self, payload: Any) -> None:
            await self.send(Message(payload, "bench", {}))

    return running, BenchSource


# -- the receiver process ------------------------------------------------------------------------


def receiver_main(port: int, log_path: str) -> None:
    import uvicorn

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            event = await receive()
            body += event.get("body", b"")
            more = event.get("more_body", False)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            log.write(f"{json.loads(body)['n']}\n")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="error", lifespan="off", access_log=False, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


class ReceiverProcess:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self.runs += 1
        log = self.dir / f"received-{self.runs}.txt"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--receiver", str(self.port), str(log)], stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def received(self) -> list[int]:
        numbers: list[int] = []
        for run in range(1, self.runs + 1):
            path = self.dir / f"received-{run}.txt"
            if path.exists():
                numbers += [int(line) for line in path.read_text().split()]
        return numbers


# -- the runs --------------------------------------------------------------------------------------


def document(url: str, concurrency: int) -> JSONObject:
    return {
        "version": 1, "flows": [{"id": "f1", "label": "bench"}],
        "nodes": [
            {"id": "src", "type": "bench-source", "flow": "f1", "config": {}, "wires": [["out"]]},
            {"id": "out", "type": "http-out", "flow": "f1", "wires": [],
             "config": {"url": url, "concurrency": concurrency, "retryInitial": 0.5, "retryMax": 2, "timeout": 5}},
        ],
    }


async def throughput(directory: Path, count: int, concurrency: int) -> dict[str, Any]:
    receiver = ReceiverProcess(directory / f"receiver-c{concurrency}")
    receiver.start()
    try:
        running, source_type = engine()
        async with running(document(receiver.url, concurrency), directory / f"data-c{concurrency}",
                           extra_types=[source_type]) as (runtime, _):
            source = runtime.node("src")
            node = runtime.node("out")
            assert source is not None and node is not None
            started = time.perf_counter()
            for n in range(count):
                await source.emit({"n": n, "devEui": "70b3d57ed0000001", "temperature": 21.5})
            await runtime.drained(60)
            stored = time.perf_counter() - started
            async with asyncio.timeout(300):
                await node.dispatcher.drained()  # type: ignore[attr-defined]
            delivered = time.perf_counter() - started
    finally:
        receiver.stop()
    numbers = receiver.received()
    return {
        "concurrency": concurrency, "messages": count, "stored_per_s": count / stored,
        "delivered_per_s": count / delivered, "all": sorted(set(numbers)) == list(range(count)),
        "in_order": numbers == sorted(numbers),
    }


async def outage(directory: Path, rate: int, before: float, down: float, after: float) -> dict[str, Any]:
    receiver = ReceiverProcess(directory / "receiver-outage")
    receiver.start()
    samples: list[tuple[float, int, str]] = []
    sent = 0
    try:
        running, source_type = engine()
        async with running(document(receiver.url, 1), directory / "data-outage", extra_types=[source_type]) as (runtime, _):
            source = runtime.node("src")
            node = runtime.node("out")
            assert source is not None and node is not None
            outbox = node.outbox  # type: ignore[attr-defined]
            start = time.perf_counter()
            total = before + down + after
            stopped_at = restarted_at = None
            next_sample = 0.0
            tick = 0.01
            while (elapsed := time.perf_counter() - start) < total:
                due = int(elapsed * rate) + 1
                while sent < due:
                    await source.emit({"n": sent})
                    sent += 1
                if stopped_at is None and elapsed >= before:
                    await asyncio.to_thread(receiver.stop)
                    stopped_at = time.perf_counter() - start
                if restarted_at is None and stopped_at is not None and elapsed >= before + down:
                    await asyncio.to_thread(receiver.start)
                    restarted_at = time.perf_counter() - start
                if elapsed >= next_sample:
                    phase = "up" if stopped_at is None or restarted_at is not None else "down"
                    samples.append((elapsed, len(outbox), phase))
                    next_sample += 1.0
                await asyncio.sleep(tick)
            load_end = time.perf_counter() - start
            while len(outbox) and time.perf_counter() - start < load_end + 120:
                if time.perf_counter() - start >= next_sample:
                    samples.append((time.perf_counter() - start, len(outbox), "drain"))
                    next_sample += 1.0
                await asyncio.sleep(0.05)
            async with asyncio.timeout(120):
                await node.dispatcher.drained()  # type: ignore[attr-defined]
            drained_at = time.perf_counter() - start
    finally:
        receiver.stop()
    numbers = receiver.received()
    assert restarted_at is not None
    return {
        "rate": rate, "sent": sent, "down_s": down, "samples": samples, "peak": max(s[1] for s in samples),
        "drain_s": drained_at - restarted_at, "achieved_rate": sent / load_end,
        "all": sorted(set(numbers)) == list(range(sent)), "in_order": numbers == sorted(numbers),
        "duplicates": len(numbers) - len(set(numbers)),
    }


async def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="flowengine-bench-") as tmp:
        directory = Path(tmp)
        count = 2000 if quick else 5000
        print(f"## http-out throughput ({count} messages, receiver in its own process)\n")
        print("| concurrency | stored (acked) msg/s | delivered msg/s | all delivered | in order |")
        print("|---|---|---|---|---|")
        for concurrency in (1, 4):
            result = await throughput(directory, count, concurrency)
            print(f"| {concurrency} | {result['stored_per_s']:.0f} | {result['delivered_per_s']:.0f} | "
                  f"{result['all']} | {result['in_order']} |", flush=True)
        down = 10.0 if quick else 30.0
        result = await outage(directory, 500, 5.0, down, 5.0)
        print(f"\n## outage: 500 msg/s, receiver down for {down:.0f} s (after 5 s), load for 5 s more\n")
        print("| t (s) | receiver | outbox depth |")
        print("|---|---|---|")
        for elapsed, depth, phase in result["samples"]:
            print(f"| {elapsed:.0f} | {phase} | {depth} |")
        print(f"\nsent {result['sent']} at {result['achieved_rate']:.0f} msg/s; peak outbox {result['peak']}; "
              f"drained {result['drain_s']:.1f} s after the receiver came back; all delivered: {result['all']}; "
              f"in order: {result['in_order']}; duplicates: {result['duplicates']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--receiver":
        receiver_main(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages and a 10 s outage")
    args = parser.parse_args()
    os.environ.setdefault("FLOWENGINE_SECRET", "bench")
    asyncio.run(main(args.quick))
