"""Helpers for testing flows and node types in-process (used by flowengine's own tests).

    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("n1")
        events = await debug.wait_for("n3", count=1)
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from flowengine.clock import Clock
from flowengine.deployer import Deployer
from flowengine.events import Event, EventBus
from flowengine.node import Node
from flowengine.registry import Registry
from flowengine.runtime import Runtime
from flowengine.server import create_app
from flowengine.store import Store
from flowengine.types import Document


class DebugCollector:
    """Collects ``debug`` (and ``status``/``error``) events, by node id."""

    def __init__(self) -> None:
        self.debug: dict[str, list[Event]] = defaultdict(list)
        self.status: dict[str, list[Event]] = defaultdict(list)
        self.errors: dict[str, list[Event]] = defaultdict(list)
        self._changed = asyncio.Event()

    def values(self, node_id: str) -> list[Any]:
        return [event["value"] for event in self.debug[node_id]]

    def take(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "debug":
            self.debug[event["node"]].append(event)
        elif kind == "status":
            self.status[event["node"]].append(event)
        elif kind == "error":
            self.errors[event["node"]].append(event)
        self._changed.set()

    async def wait_for(self, node_id: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """Wait until node ``node_id`` showed at least ``count`` debug messages; return their values."""
        async with asyncio.timeout(timeout):
            while len(self.debug[node_id]) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.values(node_id)

    async def wait_status(self, node_id: str, text: str, timeout: float = 10.0) -> Event:
        """Wait until node ``node_id`` shows a status whose text contains ``text``."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.status[node_id]:
                    if text in event["status"]["text"]:
                        return event
                self._changed.clear()
                await self._changed.wait()


def flow_document(*nodes: dict[str, Any], flows: list[dict[str, Any]] | None = None) -> Document:
    """A document with one flow ``f1`` (unless ``flows`` is given) holding ``nodes``; each node
    gets ``flow: f1``, empty ``config`` and no ``wires`` unless it says otherwise."""
    return {
        "version": 1,
        "flows": flows or [{"id": "f1", "label": "test"}],
        "nodes": [{"flow": "f1", "config": {}, "wires": [], **node} for node in nodes],
    }


def registry_with(*extra: type[Node]) -> Registry:
    """The installed node types plus ``extra`` (test-only node types)."""
    registry = Registry.from_entry_points()
    for node_type in extra:
        registry.register(node_type)
    return registry


@asynccontextmanager
async def running(
    document: Document | None,
    data_dir: str | Path,
    *,
    registry: Registry | None = None,
    extra_types: Iterable[type[Node]] = (),
    clock: Clock | None = None,
    **runtime_options: Any,
) -> AsyncIterator[tuple[Runtime, DebugCollector]]:
    """A runtime over a store in ``data_dir`` running ``document``, and a collector of its events."""
    registry = registry or registry_with(*extra_types)
    store = Store(data_dir)
    events = EventBus(capacity=100_000)
    collector = DebugCollector()
    try:
        async with events.subscribe() as subscription, Runtime(registry, store, clock=clock, events=events, **runtime_options) as runtime:
            async def pump() -> None:
                while True:
                    collector.take(await subscription.get())

            pump_task = asyncio.create_task(pump())
            try:
                if document is not None:
                    await runtime.deploy(document)
                yield runtime, collector
            finally:
                pump_task.cancel()
                await asyncio.gather(pump_task, return_exceptions=True)
    finally:
        store.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for peers that must be told a port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on a free 127.0.0.1 port; yields its base URL, stops it after."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    await task
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(10):
                await task
        except TimeoutError:
            task.cancel()
        sock.close()


@dataclass
class Served:
    """What :func:`serving` yields."""

    url: str
    runtime: Runtime
    debug: DebugCollector
    deployer: Deployer

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:]


@asynccontextmanager
async def serving(
    document: Document | None,
    data_dir: str | Path,
    *,
    editor: bool = True,
    token: str | None = None,
    **options: Any,
) -> AsyncIterator[Served]:
    """``flowengine serve`` in-process: the runtime deployed with ``document`` (as revision 1 when
    given) behind the real HTTP server on a free port."""
    async with running(None, data_dir, **options) as (runtime, debug):
        deployer = Deployer(runtime, runtime.store)
        if document is not None:
            await deployer.deploy(document, None)
        async with serve_app(create_app(deployer, editor=editor, token=token)) as url:
            yield Served(url, runtime, debug, deployer)
