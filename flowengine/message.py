"""Messages and the delivery tracking that makes at-least-once possible.

A :class:`Message` is plain data (``id``, ``payload``, ``topic``, ``meta``). A source that needs
to know when a message has been fully handled (an MQTT QoS 1 subscription acknowledging the
broker, an HTTP webhook answering its caller) attaches a :class:`Delivery`. Every copy and every
message derived from it while a node handles it shares that delivery; when the last of them has
been delivered, stored in an outbox, filtered out or handed to error handling, the delivery
completes and the source's callback runs exactly once.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowengine.types import JSON


def copy_json(value: JSON) -> JSON:
    """Deep-copy a JSON-able value; much faster than :func:`copy.deepcopy` for plain data."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


class Delivery:
    """Counts the live copies of one source message; runs ``on_complete`` when none are left.

    ``hold()`` adds a copy and ``release()`` drops one. The runtime holds a copy for every queue
    a message sits in; a sink that confirms later (an MQTT PUBACK) holds its own until then.
    ``on_complete`` receives ``None`` on success or the first error recorded with ``fail()``.
    """

    __slots__ = ("_pending", "_on_complete", "_error", "done")

    def __init__(self, on_complete: Callable[[BaseException | None], None] | None = None) -> None:
        self._pending = 0
        self._on_complete = on_complete
        self._error: BaseException | None = None
        self.done = False

    @property
    def pending(self) -> int:
        return self._pending

    def hold(self) -> Delivery:
        self._pending += 1
        return self

    def fail(self, error: BaseException) -> None:
        """Record that one copy could not be delivered (the source may choose not to ack)."""
        if self._error is None:
            self._error = error

    def abandon(self) -> None:
        """Never complete: a copy was lost before it was queued (cancelled), so the source must not ack."""
        self.done = True

    def release(self) -> None:
        self._pending -= 1
        if self._pending <= 0 and not self.done:
            self.done = True
            if self._on_complete is not None:
                self._on_complete(self._error)

    def settle(self, error: BaseException | None) -> None:
        """Release one copy, recording ``error`` if it failed: the callback for a sink that learns
        later whether its copy was delivered (an MQTT PUBACK)."""
        if error is not None:
            self.fail(error)
        self.release()

    def wait(self) -> asyncio.Future[BaseException | None]:
        """A future that resolves when the delivery completes (for sources that await it)."""
        future: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        previous = self._on_complete

        def complete(error: BaseException | None) -> None:
            if previous is not None:
                previous(error)
            if not future.done():
                future.set_result(error)

        self._on_complete = complete
        if self.done:
            future.set_result(self._error)
        return future


current_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar(
    "current_delivery", default=None
)
"""The delivery of the message a node is handling right now; new messages sent meanwhile join it."""


_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


def new_id() -> str:
    """A message id unique across processes and restarts (a random per-process prefix and a counter)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


@dataclass(slots=True)
class Message:
    """One message flowing through a flow.

    ``payload`` is JSON-able; ``topic`` is a free string (an MQTT topic, a route key);
    ``meta`` carries everything about the message that is not its content (the source's
    topic and QoS, codec warnings, ``error`` once a node failed on it).
    """

    payload: JSON = None
    topic: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    delivery: Delivery | None = field(default=None, repr=False, compare=False)

    def copy(self) -> Message:
        """An independent copy (fan-out gives every branch its own) sharing the delivery."""
        return Message(copy_json(self.payload), self.topic, copy_json(self.meta), self.id, self.delivery)

    def derive(self, payload: JSON, topic: str | None = None) -> Message:
        """A new message built from this one: new payload, same topic and meta (copied), same delivery."""
        return Message(
            payload, self.topic if topic is None else topic, copy_json(self.meta), new_id(), self.delivery
        )

    def to_json(self) -> dict[str, JSON]:
        """The message as plain data, as debug output and the event stream show it."""
        return {"id": self.id, "topic": self.topic, "payload": self.payload, "meta": self.meta}
