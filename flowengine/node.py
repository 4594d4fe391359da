"""The node SDK: the one base class every node type derives from.

A node type is one module in ``nodes/`` with a class like this::

    class UppercaseNode(Node):
        '''Upper-cases ``payload`` (a string).'''

        type = "uppercase"
        category = "transform"
        schema = {"type": "object", "properties": {}, "additionalProperties": False}

        async def on_message(self, msg: Message) -> Message | None:
            msg.payload = str(msg.payload).upper()
            return msg

registered under the entry-point group ``flowengine.nodes`` (see :mod:`flowengine.registry`).

The contract:

- ``schema`` is the JSON Schema of ``config``: every property has a ``description`` and either a
  ``default`` or is ``required``. Secret properties carry ``"writeOnly": true``; the API, exports
  and logs mask them. A string property that names another node carries ``"x-node-type": "<type>"``
  (for example an MQTT broker config node); the runtime starts that node first.
- ``start()`` connects; if it raises, the runtime shows the error in the node's status and retries
  with back-off. Messages wait in the node's bounded queue meanwhile.
- ``on_message(msg)`` handles one message. It may return a message, which is sent on port 0, or
  call ``await self.send(msg, port)`` any number of times. It is ``async def`` when it awaits
  anything, or a plain ``def`` for a transform that does not (cheaper per message). Raising sends the message and the error to
  the flow's ``catch`` nodes (or the log); the next message is handled as usual.
- ``stop()`` releases what ``start()`` took. The runtime drains the queue first, bounds ``stop()``
  with a timeout, and may call it when ``start()`` never succeeded.
- Each copy of a message the node receives is owned by the node: mutate it freely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flowengine.clock import Clock
from flowengine.message import Message
from flowengine.types import Category, JSONObject

if TYPE_CHECKING:
    from flowengine.events import EventBus
    from flowengine.routes import RouteTable
    from flowengine.store import Store


@dataclass
class NodeContext:
    """What the runtime hands a node: who it is and the services it may use."""

    node_id: str
    node_type: str
    flow_id: str
    name: str
    clock: Clock
    store: Store
    events: EventBus
    routes: RouteTable
    data_dir: Path
    send: Callable[[Message, int], Coroutine[Any, Any, None]]
    error: Callable[[Message | None, BaseException], Coroutine[Any, Any, None]]
    status: Callable[[dict[str, Any]], None]
    drop: Callable[[Message, str], None]
    accept: Callable[[bool], None]
    """Open (``True``) or close the node's input (see :meth:`Node.pause_input`)."""
    lookup: Callable[[str], Node | None]


class Node:
    """Base class of all node types. Subclasses set the class attributes and override the hooks."""

    type: ClassVar[str] = ""
    """The name used in flow documents, e.g. ``"mqtt-out"``."""
    category: ClassVar[Category] = "transform"
    inputs: ClassVar[int] = 1
    """1 for nodes that receive messages on their input port, 0 for sources and config nodes."""
    outputs: ClassVar[int] = 1
    """Number of output ports (see :meth:`output_count` for nodes where config decides)."""
    schema: ClassVar[JSONObject] = {"type": "object", "properties": {}, "additionalProperties": False}
    label: ClassVar[str] = ""
    """A short human name for the palette; defaults to the type name."""
    color: ClassVar[str] = "#a6bbcf"
    """The colour of the node in the editor."""
    catches_errors: ClassVar[bool] = False
    """True for node types that receive the flow's errors (``catch``); see :meth:`catches`."""
    injectable: ClassVar[bool] = False
    """True when the node has a button in the editor and answers ``POST /api/nodes/{id}/inject``."""

    def __init__(self, config: JSONObject, context: NodeContext) -> None:
        self.config = config
        self.context = context
        self.id = context.node_id
        self.name = context.name
        self.clock = context.clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.log = logging.LoggerAdapter(
            logging.getLogger(f"flowengine.nodes.{self.type}"),
            {"node": self.id, "node_type": self.type, "flow": context.flow_id},
        )

    # -- hooks ------------------------------------------------------------------------------

    @classmethod
    def output_count(cls, config: JSONObject) -> int:
        """How many output ports a node with this config has (``switch`` has one per rule)."""
        return cls.outputs

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        """Problems the schema cannot express (a cron expression, a regex, template syntax), as
        ``(pointer inside config, reason)`` pairs. Called by validation before anything starts."""
        return []

    @classmethod
    def describe(cls) -> str:
        """The node type's documentation: its class docstring."""
        return (cls.__doc__ or "").strip()

    @classmethod
    def summary(cls) -> str:
        """The first sentence of the documentation, on one line."""
        paragraph = " ".join(cls.describe().split("\n\n")[0].split())
        sentence, dot, _ = paragraph.partition(". ")
        return sentence + ("." if dot else "")

    async def start(self) -> None:
        """Connect to whatever the node talks to. Raise to have the runtime retry with back-off."""

    def on_message(self, msg: Message) -> Message | None | Awaitable[Message | None]:
        """Handle one message; return a message to send it on port 0. Override it as ``async def``
        when handling awaits (a send, a request); as a plain ``def`` (a pure transform) it runs
        without a coroutine per message."""
        return None

    async def stop(self) -> None:
        """Release what :meth:`start` took. Must be safe to call twice and after a failed start."""

    async def inject(self, payload: Any = None) -> None:
        """Emit a message on demand (the editor's button); only for ``injectable`` node types."""
        raise NotImplementedError(f"node {self.id} ({self.type}) cannot be injected")

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a background task owned by this node; the runtime cancels it after :meth:`stop`.
        An exception in it is logged and shown in the node's status."""
        task = asyncio.create_task(self._guard(coro, name), name=f"node {self.id}: {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a crashed background task must be visible, not silent
            self.log.exception("task %s failed", name)
            self.status(f"{name} failed: {exc}", color="red")

    async def cancel_tasks(self) -> None:
        """Cancel and await every task started with :meth:`spawn` (the runtime calls this)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def catches(self, source_id: str) -> bool:
        """Whether this node wants the errors of node ``source_id`` (only for ``catches_errors`` types)."""
        return self.catches_errors

    # -- services ---------------------------------------------------------------------------

    def send(self, msg: Message, port: int = 0) -> Coroutine[Any, Any, None]:
        """Send ``msg`` to every node wired to output ``port``: ``await self.send(msg)``; waits
        while a target's queue is full."""
        return self.context.send(msg, port)

    async def error(self, msg: Message | None, exc: BaseException) -> None:
        """Report that handling ``msg`` failed: it goes with the error to the flow's catch nodes or the log."""
        await self.context.error(msg, exc)

    def drop(self, msg: Message, reason: str) -> None:
        """Count ``msg`` as deliberately dropped (a filter, a rate limit), with the reason logged at debug level."""
        self.context.drop(msg, reason)

    def pause_input(self) -> None:
        """Take no more messages until :meth:`resume_input`: they wait in the node's queue, and a
        full queue holds the senders back. For a node whose own buffer is full (a sink waiting for a
        broker) with an ``on_message`` that is a plain ``def`` and so cannot wait itself."""
        self.context.accept(False)

    def resume_input(self) -> None:
        """Take messages again after :meth:`pause_input`."""
        self.context.accept(True)

    def status(self, text: str, color: str = "grey", **details: Any) -> None:
        """Show a status under the node: ``color`` is green, yellow, red, blue or grey."""
        self.context.status({"text": text, "color": color, **details})

    def config_node(self, node_id: str) -> Node:
        """The running node with id ``node_id`` (a config node this node refers to)."""
        node = self.context.lookup(node_id)
        if node is None:
            raise LookupError(f"node {self.id} ({self.type}): referenced node {node_id} is not running")
        return node
