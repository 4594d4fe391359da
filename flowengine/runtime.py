"""The runtime: runs a validated document, redeploys changes, stops gracefully.

The message path, in order (one place to read for metrics and tracing):

1. a node calls ``send(msg, port)`` or returns a message from ``on_message``;
2. ``_send`` counts it, attaches the current delivery, and gives each target of the port its own
   copy (the first target gets the original) before queueing any of them;
3. each copy waits in the target's bounded queue (a full queue makes the sender wait);
4. the target's worker takes it and calls ``on_message``; a raised exception goes to
   ``_handle_error`` (catch nodes of the flow, else the log);
5. the worker releases the copy's delivery, so a source learns when all copies are done.

One shortcut keeps order and saves a queue hop: when a worker's result goes to a single target
whose ``on_message`` is a plain ``def`` and that target has nothing queued and is not busy, the
worker runs the target's handler itself (``_forward``), counted and error-handled as the target.

Lifecycle: a deploy starts nodes downstream first and sources last; config nodes (shared
connections) before everything that refers to them. Stopping goes the other way: sources first,
then each node once its queue has drained, all bounded by ``stop_timeout``. A redeploy touches
only the nodes that were added, removed or changed (and the nodes that refer to a changed config
node); messages bound for a replaced node wait in its successor's queue meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from flowengine import document as doc
from flowengine.bounded_queue import BoundedQueue
from flowengine.clock import Clock
from flowengine.events import EventBus
from flowengine.message import Message, current_delivery
from flowengine.node import Node, NodeContext
from flowengine.registry import Registry
from flowengine.routes import RouteTable
from flowengine.schema import node_refs, redact
from flowengine.store import Store
from flowengine.types import Document, JSONObject
from flowengine.validation import InvalidDocument, Problem, validate, wire_graph

log = logging.getLogger("flowengine.runtime")

FAIR_SHARE = 64
"""A worker hands the event loop over after this many messages taken without waiting."""

MAX_ERROR_DEPTH = 10
"""An error raised while handling an error message this many times over goes to the log only."""


@dataclass
class Counters:
    received: int = 0
    sent: int = 0
    errors: int = 0
    dropped: int = 0


@dataclass(eq=False)
class NodeHandle:
    """The runtime's side of one running node: its queue, wiring, counters and status."""

    spec: JSONObject
    node: Node
    queue: BoundedQueue[Message] | None
    targets: list[list[NodeHandle]] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    state: str = "created"
    """created, starting, running, failed (start keeps failing; retried), stopping, stopped."""
    status: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    busy: bool = False
    synchronous: bool = False
    """``on_message`` is a plain ``def``: it never awaits, so it may run in a predecessor's worker."""
    accepting: bool = True
    """False while the node paused its input (:meth:`Node.pause_input`)."""
    reopened: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    first_attempt: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return self.node.id

    def source(self) -> dict[str, str]:
        return {"id": self.node.id, "type": self.node.type, "name": self.node.name}

    def accept(self, flag: bool) -> None:
        self.accepting = flag
        if flag:
            self.reopened.set()
        else:
            self.reopened.clear()

    def idle(self) -> bool:
        return not self.busy and (self.queue is None or (len(self.queue) == 0 and not self.queue.statistics().waiting_senders))


def _identity(spec: JSONObject, config: JSONObject) -> tuple[Any, ...]:
    """What makes a running node the same node: a change here restarts it (wires and position do not)."""
    return (spec["type"], spec.get("flow"), spec.get("name", ""), json.dumps(config, sort_keys=True))


class Runtime:
    """Runs flow documents. Use as ``async with Runtime(registry, store) as runtime:``."""

    def __init__(
        self,
        registry: Registry,
        store: Store,
        *,
        clock: Clock | None = None,
        events: EventBus | None = None,
        routes: RouteTable | None = None,
        queue_size: int = 1000,
        stop_timeout: float = 10.0,
        start_timeout: float = 30.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock or Clock()
        self.events = events or EventBus()
        self.routes = routes or RouteTable()
        self.queue_size = queue_size
        self.stop_timeout = stop_timeout
        self.start_timeout = start_timeout
        self.environ = os.environ if environ is None else environ
        self.document: Document = doc.empty()
        self._handles: dict[str, NodeHandle] = {}
        self._identities: dict[str, tuple[Any, ...]] = {}
        self._catchers: dict[str, list[NodeHandle]] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._deploy_lock = asyncio.Lock()

    # -- context manager ---------------------------------------------------------------------

    async def __aenter__(self) -> Runtime:
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self.stop()
        finally:
            assert self._tasks is not None
            await self._tasks.__aexit__(*exc_info)
            self._tasks = None

    # -- public API -------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    def check(self, document: Document) -> list[Problem]:
        """The problems of ``document``; empty when it can be deployed."""
        return validate(document, self.registry, self.environ).problems

    async def deploy(self, document: Document) -> dict[str, list[str]]:
        """Run ``document`` instead of the current one; raises :class:`InvalidDocument` and changes nothing
        when it has problems. Returns the ids of the nodes started, stopped and rewired."""
        validation = validate(document, self.registry, self.environ)
        if not validation.ok:
            raise InvalidDocument(validation.problems)
        document = doc.normalise(document)
        async with self._deploy_lock:
            return await self._apply(document, validation.configs)

    async def stop(self) -> None:
        """Stop every node: sources first, each after its queue drained; bounded by ``stop_timeout`` each."""
        async with self._deploy_lock:
            handles = list(self._handles.values())
            self._handles = {}
            self._catchers = {}
            self._identities = {}
            self.document = doc.empty()
            for handle in _stop_order(handles):
                await self._retire(handle)

    async def inject(self, node_id: str, payload: Any = None) -> None:
        """Trigger an injectable node (``POST /api/nodes/{id}/inject``)."""
        handle = self._handles.get(node_id)
        if handle is None:
            raise LookupError(f"node {node_id} is not running")
        if not handle.node.injectable:
            raise TypeError(f"node {node_id} ({handle.node.type}) cannot be injected")
        await handle.node.inject(payload)

    def node(self, node_id: str) -> Node | None:
        handle = self._handles.get(node_id)
        return None if handle is None else handle.node

    def snapshot(self) -> dict[str, JSONObject]:
        """State, status, counters and queue of every node in the document (disabled ones too)."""
        result: dict[str, JSONObject] = {}
        disabled_flows = {f["id"] for f in self.document["flows"] if f.get("disabled")}
        for spec in self.document["nodes"]:
            handle = self._handles.get(spec["id"])
            entry: JSONObject = {"type": spec["type"], "name": spec.get("name", ""), "flow": spec.get("flow")}
            if handle is None:
                disabled = spec.get("disabled") or spec.get("flow") in disabled_flows
                entry.update(state="disabled" if disabled else "stopped", status={"text": "Disabled" if disabled else "", "color": "grey"})
            else:
                entry.update(
                    state=handle.state,
                    status=handle.status,
                    last_error=handle.last_error,
                    counters=vars(handle.counters).copy(),
                )
                if handle.queue is not None:
                    stats = handle.queue.statistics()
                    entry["queue"] = {"size": stats.size, "capacity": stats.capacity, "peak": stats.peak, "waiting": stats.waiting_senders}
            result[spec["id"]] = entry
        return result

    async def drained(self, timeout: float = 10.0) -> bool:
        """Wait until no message is queued or being handled anywhere (tests and graceful stops)."""
        try:
            async with asyncio.timeout(timeout):
                while not all(h.idle() for h in self._handles.values()):
                    await asyncio.sleep(0.005)
        except TimeoutError:
            return False
        return True

    # -- deploy ------------------------------------------------------------------------------

    async def _apply(self, document: Document, configs: dict[str, JSONObject]) -> dict[str, list[str]]:
        disabled_flows = {f["id"] for f in document["flows"] if f["disabled"]}
        wanted = {
            spec["id"]: spec
            for spec in document["nodes"]
            if not spec["disabled"] and spec.get("flow") not in disabled_flows
        }
        identities = {node_id: _identity(spec, configs[node_id]) for node_id, spec in wanted.items()}
        changed = {node_id for node_id in wanted if self._identities.get(node_id) != identities[node_id]}
        gone = set(self._handles) - set(wanted)
        changed |= self._dependents(wanted, configs, changed | gone)
        retiring = [h for node_id, h in self._handles.items() if node_id not in wanted or node_id in changed]

        fresh = {node_id: self._create(wanted[node_id], configs[node_id]) for node_id in changed}
        handles = {node_id: h for node_id, h in self._handles.items() if node_id in wanted and node_id not in changed}
        handles.update(fresh)
        for handle in handles.values():
            handle.spec = wanted[handle.id]
            handle.targets = [
                [handles[target] for target in port if target in handles] for port in handle.spec["wires"]
            ]
        self._catchers = {}
        for handle in handles.values():
            if handle.node.catches_errors:
                self._catchers.setdefault(handle.spec["flow"], []).append(handle)

        self._handles = handles
        self._identities = identities
        self.document = document

        for handle in _stop_order(retiring):
            await self._retire(handle)
        for handle in _start_order(list(fresh.values())):
            self._launch(handle)
            await handle.first_attempt.wait()
        return {
            "started": sorted(fresh),
            "stopped": sorted(h.id for h in retiring),
            "rewired": sorted(set(handles) - set(fresh)),
        }

    def _dependents(self, wanted: dict[str, JSONObject], configs: dict[str, JSONObject], changed: set[str]) -> set[str]:
        """Wanted nodes that refer (through ``x-node-type`` config fields) to a changed or stopped node,
        transitively: they hold the old instance, so they restart too."""
        graph = nx.DiGraph()
        for node_id, spec in wanted.items():
            node_type = self.registry[spec["type"]]
            for prop in node_refs(node_type.schema):
                ref = configs[node_id].get(prop)
                if isinstance(ref, str) and ref:
                    graph.add_edge(ref, node_id)
        found: set[str] = set()
        for node_id in changed:
            if node_id in graph:
                found |= nx.descendants(graph, node_id)
        return found

    def _create(self, spec: JSONObject, config: JSONObject) -> NodeHandle:
        node_type = self.registry[spec["type"]]
        handle: NodeHandle
        context = NodeContext(
            node_id=spec["id"],
            node_type=spec["type"],
            flow_id=spec.get("flow") or "",
            name=spec.get("name", ""),
            clock=self.clock,
            store=self.store,
            events=self.events,
            routes=self.routes,
            data_dir=self.store.data_dir,
            send=lambda msg, port: self._deliver(handle, msg, port),
            error=lambda msg, exc: self._handle_error(handle, msg, exc),
            status=lambda status: self._set_status(handle, status),
            drop=lambda msg, reason: self._drop(handle, msg, reason),
            accept=lambda flag: handle.accept(flag),
            lookup=self.node,
        )
        node = node_type(config, context)
        queue: BoundedQueue[Message] | None = BoundedQueue(self.queue_size) if node_type.inputs else None
        handle = NodeHandle(spec=spec, node=node, queue=queue, synchronous=not inspect.iscoroutinefunction(node.on_message))
        context.send = functools.partial(self._deliver, handle)  # the hot one: no lambda frame per send
        return handle

    # -- running a node ---------------------------------------------------------------------

    def _launch(self, handle: NodeHandle) -> None:
        assert self._tasks is not None, "use the runtime as an async context manager"
        handle.task = self._tasks.create_task(self._run(handle), name=f"node {handle.id} ({handle.node.type})")

    async def _run(self, handle: NodeHandle) -> None:
        delay = 1.0
        handle.state = "starting"
        while True:
            try:
                async with asyncio.timeout(self.start_timeout):
                    await handle.node.start()
                break
            except Exception as exc:  # a node's start may fail in any way; it is retried
                handle.state = "failed"
                handle.last_error = self._describe(handle, exc)
                self._log(handle, logging.ERROR, "start failed (retrying in %.0f s): %s", delay, handle.last_error)
                self._set_status(handle, {"text": f"start failed: {handle.last_error}", "color": "red"})
                handle.first_attempt.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        handle.state = "running"
        handle.first_attempt.set()
        if handle.queue is not None:
            await self._work(handle, handle.queue)

    async def _work(self, handle: NodeHandle, queue: BoundedQueue[Message]) -> None:
        handler = handle.node.on_message
        synchronous = handle.synchronous  # a plain ``def`` costs no coroutine per message
        counters = handle.counters
        in_a_row = 0
        while True:
            msg = queue.try_get()
            if msg is None:
                msg = await queue.get()
                in_a_row = 0
            elif in_a_row >= FAIR_SHARE:
                handle.busy = True
                await asyncio.sleep(0)  # let other tasks (sockets, timers) run between batches
                in_a_row = 0
            in_a_row += 1
            handle.busy = True
            if not handle.accepting:  # the node paused its input: this message waits in hand
                await handle.reopened.wait()
            counters.received += 1
            delivery = msg.delivery
            result: Message | None
            try:
                if synchronous:
                    result = handler(msg)  # type: ignore[assignment]
                else:
                    token = None if delivery is None else current_delivery.set(delivery)
                    try:
                        result = await handler(msg)  # type: ignore[misc]
                    finally:
                        if token is not None:
                            current_delivery.reset(token)
                if result is not None:
                    if result.delivery is None:
                        result.delivery = delivery
                    pending = self._forward(handle, result)
                    if pending is not None:
                        await self._finish(*pending)
            except Exception as exc:  # any failure of a node on one message goes to error handling
                await self._handle_error(handle, msg, exc)
            finally:
                handle.busy = False
            if delivery is not None:
                delivery.release()

    def _forward(self, handle: NodeHandle, msg: Message) -> tuple[NodeHandle, Message, Exception | None] | None:
        """Send what ``handle``'s handler returned on port 0 without waiting, running idle plain-def
        successors here (nothing is queued for them, so order is kept). Returns what is left to
        await (:meth:`_finish`): a send that has to wait, or a successor's error to handle."""
        while True:
            targets = handle.targets[0] if handle.targets else ()
            if len(targets) == 1:
                target = targets[0]
                if target.synchronous and target.accepting and not target.busy and target.state == "running" and not len(target.queue):  # type: ignore[arg-type]
                    handle.counters.sent += 1
                    target.counters.received += 1
                    try:
                        result: Message | None = target.node.on_message(msg)  # type: ignore[assignment]
                    except Exception as exc:  # as in the successor's own worker
                        return target, msg, exc
                    if result is None:
                        return None
                    if result.delivery is None:
                        result.delivery = msg.delivery
                    handle, msg = target, result
                    continue
            return None if self._offer(handle, msg, 0) else (handle, msg, None)

    async def _deliver(self, handle: NodeHandle, msg: Message, port: int) -> None:
        """A node's ``send``: to one target as a returned message (an idle plain-def one runs here)."""
        if port or (handle.targets and len(handle.targets[0]) > 1):
            await self._send(handle, msg, port)
            return
        if msg.delivery is None:
            msg.delivery = current_delivery.get()
        pending = self._forward(handle, msg)
        if pending is not None:
            await self._finish(*pending)

    async def _finish(self, handle: NodeHandle, msg: Message, error: Exception | None) -> None:
        if error is not None:
            await self._handle_error(handle, msg, error)
        else:
            await self._send(handle, msg, 0)

    @staticmethod
    def _offer(handle: NodeHandle, msg: Message, port: int) -> bool:
        """The common case of :meth:`_send` without a coroutine: one target (or none) with room.
        ``False`` (nothing done) for a fan-out or a full queue, which :meth:`_send` handles."""
        targets = handle.targets[port] if port < len(handle.targets) else ()
        if targets:
            if len(targets) > 1 or not targets[0].queue.try_put(msg):  # type: ignore[union-attr]
                return False
            delivery = msg.delivery
            if delivery is None:
                delivery = msg.delivery = current_delivery.get()
            if delivery is not None:
                delivery.hold()  # try_put only scheduled the consumer's wake-up: still before it runs
        handle.counters.sent += 1
        return True

    async def _send(self, handle: NodeHandle, msg: Message, port: int) -> None:
        handle.counters.sent += 1
        targets = handle.targets[port] if port < len(handle.targets) else ()
        if not targets:
            return
        if msg.delivery is None:
            msg.delivery = current_delivery.get()
        if len(targets) == 1:
            await self._enqueue(targets[0], msg)
            return
        copies = [msg] + [msg.copy() for _ in range(len(targets) - 1)]
        for target, copy in zip(targets, copies, strict=True):
            await self._enqueue(target, copy)

    @staticmethod
    async def _enqueue(target: NodeHandle, msg: Message) -> None:
        queue = target.queue
        assert queue is not None, "validation refuses wires into nodes without an input"
        delivery = msg.delivery
        if delivery is not None:
            delivery.hold()
        if queue.try_put(msg):
            return
        try:
            await queue.put(msg)
        except BaseException:
            if delivery is not None:
                delivery.abandon()  # never acknowledge what was not queued
            raise

    async def _handle_error(self, handle: NodeHandle, msg: Message | None, exc: BaseException) -> None:
        handle.counters.errors += 1
        handle.last_error = self._describe(handle, exc)
        self.events.publish({"type": "error", "node": handle.id, "flow": handle.spec.get("flow"), "error": handle.last_error,
                             "time": self.clock.now().isoformat()})
        depth = 1
        if msg is not None and isinstance(msg.meta.get("error"), dict):
            depth = int(msg.meta["error"].get("depth", 0)) + 1
        catchers = [c for c in self._catchers.get(handle.spec.get("flow") or "", []) if c.node.catches(handle.id)]
        if msg is None or not catchers or depth > MAX_ERROR_DEPTH:
            self._log(handle, logging.ERROR, "%s; message: %s", handle.last_error, None if msg is None else msg.to_json())
            if msg is not None and msg.delivery is not None:
                msg.delivery.fail(exc)
            return
        self._log(handle, logging.WARNING, "%s (to catch)", handle.last_error)
        failed = msg.copy()
        failed.meta["error"] = {"message": handle.last_error, "type": type(exc).__name__, "source": handle.source(), "depth": depth}
        for catcher in catchers:
            await self._send(catcher, failed if catcher is catchers[-1] else failed.copy(), 0)

    def _describe(self, handle: NodeHandle, exc: BaseException) -> str:
        """The error's text, without any secret of the node's config."""
        return redact(_describe(exc), handle.node.schema, handle.node.config)

    def _set_status(self, handle: NodeHandle, status: dict[str, Any]) -> None:
        text = redact(str(status.get("text", "")), handle.node.schema, handle.node.config)
        status = {**status, "text": text, "time": self.clock.now().isoformat()}
        handle.status = status
        self.events.publish({"type": "status", "node": handle.id, "flow": handle.spec.get("flow"), "status": status})

    def _drop(self, handle: NodeHandle, msg: Message, reason: str) -> None:
        handle.counters.dropped += 1
        self._log(handle, logging.DEBUG, "dropped message %s: %s", msg.id, reason)

    def _log(self, handle: NodeHandle, level: int, text: str, *args: Any) -> None:
        log.log(level, "node %s (%s) in flow %s: " + text, handle.id, handle.node.type, handle.spec.get("flow"), *args)

    # -- stopping ---------------------------------------------------------------------------

    async def _retire(self, handle: NodeHandle) -> None:
        """Drain and stop one node; never takes longer than ``stop_timeout``."""
        handle.state = "stopping"
        try:
            async with asyncio.timeout(self.stop_timeout):
                if handle.queue is None:
                    await handle.node.stop()
                while not handle.idle() and handle.task is not None and not handle.task.done():
                    await asyncio.sleep(0.005)
        except TimeoutError:
            left = 0 if handle.queue is None else len(handle.queue)
            self._log(handle, logging.ERROR, "did not drain within %.1f s; %d queued message(s) not handled", self.stop_timeout, left)
        except Exception as exc:  # a failing stop() must not stop the others
            self._log(handle, logging.ERROR, "stop failed: %s", _describe(exc))
        if handle.task is not None:
            handle.task.cancel()
            try:
                await handle.task
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise
        try:
            async with asyncio.timeout(self.stop_timeout):
                if handle.queue is not None:
                    await handle.node.stop()
                await handle.node.cancel_tasks()
        except Exception as exc:  # includes TimeoutError: shutdown goes on
            self._log(handle, logging.ERROR, "stop failed: %s", _describe(exc))
        handle.state = "stopped"
        try:
            self.store.save_snapshot(handle.id, {"counters": vars(handle.counters), "status": handle.status, "last_error": handle.last_error})
        except Exception as exc:  # the snapshot is a convenience; stopping goes on
            self._log(handle, logging.WARNING, "snapshot not saved: %s", exc)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return text or type(exc).__name__


def _order(handles: list[NodeHandle]) -> list[NodeHandle]:
    """Upstream before downstream within the given handles."""
    by_id = {h.id: h for h in handles}
    graph = wire_graph([h.spec for h in handles])
    return [by_id[node_id] for node_id in nx.lexicographical_topological_sort(graph)]


def _start_order(handles: list[NodeHandle]) -> list[NodeHandle]:
    config = [h for h in handles if h.node.category == "config"]
    rest = [h for h in handles if h.node.category != "config"]
    return config + list(reversed(_order(rest)))


def _stop_order(handles: list[NodeHandle]) -> list[NodeHandle]:
    config = [h for h in handles if h.node.category == "config"]
    rest = [h for h in handles if h.node.category != "config"]
    return _order(rest) + config
