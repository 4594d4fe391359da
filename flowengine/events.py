"""The live event stream: debug messages and status changes for the editor and the API.

Publishing never blocks the flow: each subscriber has a bounded queue, and when a subscriber
falls behind its oldest events are dropped and counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

Event = dict[str, Any]


class Subscription:
    """One subscriber's bounded view of the stream."""

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(capacity)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()


class EventBus:
    """Fan-out of events to every current subscriber."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self._subscriptions: set[Subscription] = set()

    def publish(self, event: Event) -> None:
        for subscription in self._subscriptions:
            subscription.offer(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription(self.capacity)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
