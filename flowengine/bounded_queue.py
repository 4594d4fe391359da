"""A bounded single-consumer queue with visible statistics: every node's input.

``put`` waits while the queue is full, which is how backpressure travels upstream to the
sources; waiting senders are woken once the queue is down to half (``resume_at``), so that a
full queue moves in batches instead of waking a sender for every message taken.
``statistics()`` reports the depth, the peak and how many senders wait. It is leaner than
:class:`asyncio.Queue` on the hot path (no ``await`` when there is room or an item ready).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class QueueStatistics:
    size: int
    capacity: int
    peak: int
    waiting_senders: int


class BoundedQueue(Generic[T]):
    """FIFO of at most ``capacity`` items, for one consumer and any number of producers."""

    __slots__ = ("capacity", "resume_at", "peak", "_items", "_getter", "_putters")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.resume_at = capacity // 2
        """Waiting senders are woken when the queue is down to this many items."""
        self.peak = 0
        self._items: deque[T] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def try_put(self, item: T) -> bool:
        """Append without waiting; False when the queue is full."""
        items = self._items
        if len(items) >= self.capacity:
            return False
        items.append(item)
        if len(items) > self.peak:
            self.peak = len(items)
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)
        return True

    def try_get(self) -> T | None:
        """Take the oldest item without waiting; None when the queue is empty."""
        if not self._items:
            return None
        item = self._items.popleft()
        if self._putters and len(self._items) <= self.resume_at:
            self._wake_putter()
        return item

    async def put(self, item: T) -> None:
        while len(self._items) >= self.capacity:
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._putters:
                    self._putters.remove(waiter)
                elif len(self._items) < self.capacity:
                    self._wake_putter()
                raise
        self._items.append(item)
        if len(self._items) > self.peak:
            self.peak = len(self._items)
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self) -> T:
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item = self._items.popleft()
        if self._putters and len(self._items) <= self.resume_at:
            self._wake_putter()
        return item

    def _wake_putter(self) -> None:
        while self._putters:
            waiter = self._putters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def drain(self) -> list[T]:
        """Take every item out at once (used when a node is removed and its queue abandoned)."""
        items = list(self._items)
        self._items.clear()
        while self._putters:
            self._wake_putter()
        return items

    def statistics(self) -> QueueStatistics:
        return QueueStatistics(len(self._items), self.capacity, self.peak, len(self._putters))
