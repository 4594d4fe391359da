"""Wall-clock time and sleeping, behind one small interface so tests can control time.

Nodes that act at a time of day (the FTP upload at 05:00), judge age (uplink time validity,
"Inactive after 2 days") or wait between retries use ``self.clock`` instead of ``datetime.now``
and ``asyncio.sleep``. :class:`ManualClock` is the controllable clock the tests use.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        return datetime.now(UTC)

    def time(self) -> float:
        """Seconds since the epoch."""
        return self.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until the wall-clock time ``when`` (re-checking, so clock jumps are honoured)."""
        while (remaining := (when - self.now()).total_seconds()) > 0:
            await self.sleep(min(remaining, 60.0))


class ManualClock(Clock):
    """A clock that only moves when told to: ``advance()`` wakes every sleeper whose time came."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timedelta(seconds=seconds), next(self._order), future))
        await future

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self._now).total_seconds())

    async def advance(self, delta: timedelta | float) -> None:
        """Move time forward, waking sleepers in order, and let them run."""
        target = self._now + (delta if isinstance(delta, timedelta) else timedelta(seconds=delta))
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not future.done():
                future.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)

    def set(self, when: datetime) -> None:
        """Jump to ``when`` without waking anyone (use :meth:`advance` to wake sleepers)."""
        self._now = when
