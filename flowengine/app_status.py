"""The application status of a sink, as seed 000 defines it for application servers.

=============  ==========================================================================
Provisioned    active, but nothing was ever sent: neither a success nor an error
Running        the application answers with success (2xx) regularly; occasional errors allowed
Inactive       no successful delivery within the window (2 days by default), whether nothing
               was sent or every attempt failed (5xx, 4xx, timeout)
Disabled       the sink is switched off: nothing is sent
=============  ==========================================================================

The state is judged with the node's clock (``self.clock``), so tests move time with
``ManualClock``. :meth:`AppStatus.watch` republishes the status when it changes by time alone
(Running turns Inactive ``window`` after the last success). Any sink can use it: call
:meth:`success` and :meth:`failure` after each attempt and show :meth:`to_json` in its status.
The record can be saved to and restored from the store's database so that a restart keeps the
last success and failure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlite_utils

from flowengine.clock import Clock

TABLE = "app_status"
DEFAULT_WINDOW = timedelta(days=2)


class AppState(StrEnum):
    PROVISIONED = "Provisioned"
    RUNNING = "Running"
    INACTIVE = "Inactive"
    DISABLED = "Disabled"


COLORS = {AppState.PROVISIONED: "blue", AppState.RUNNING: "green", AppState.INACTIVE: "red", AppState.DISABLED: "grey"}


@dataclass
class Counters:
    delivered: int = 0
    failed: int = 0
    """Failed attempts (each retry counts)."""
    rejected: int = 0
    """Messages given up on (dead letters)."""
    dropped: int = 0
    """Messages not sent because the sink is disabled."""


@dataclass
class AppStatus:
    """The status record of one sink. Times are timezone-aware datetimes from ``clock``."""

    clock: Clock = field(default_factory=Clock)
    window: timedelta = DEFAULT_WINDOW
    enabled: bool = True
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_error: str | None = None
    counters: Counters = field(default_factory=Counters)
    _changed: asyncio.Event | None = field(default=None, repr=False)

    # -- events -----------------------------------------------------------------------------

    def success(self) -> None:
        self.last_success = self.clock.now()
        self.counters.delivered += 1
        self._notify()

    def failure(self, error: str, rejected: bool = False) -> None:
        """One failed attempt (``rejected``: the message is given up on, not retried)."""
        self.last_failure = self.clock.now()
        self.last_error = error
        self.counters.failed += 1
        if rejected:
            self.counters.rejected += 1
        self._notify()

    def dropped(self) -> None:
        self.counters.dropped += 1
        self._notify()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self._notify()

    # -- judging ----------------------------------------------------------------------------

    def state(self) -> AppState:
        if not self.enabled:
            return AppState.DISABLED
        if self.last_success is None and self.last_failure is None:
            return AppState.PROVISIONED
        if self.last_success is not None and self.clock.now() - self.last_success < self.window:
            return AppState.RUNNING
        return AppState.INACTIVE

    def next_change(self) -> datetime | None:
        """When the state changes if nothing else happens (Running -> Inactive), or None."""
        if self.state() is AppState.RUNNING and self.last_success is not None:
            return self.last_success + self.window
        return None

    def degraded(self) -> bool:
        """The latest attempt failed (Running with errors shows in yellow)."""
        return self.last_failure is not None and (self.last_success is None or self.last_failure > self.last_success)

    def color(self) -> str:
        state = self.state()
        if state is AppState.RUNNING and self.degraded():
            return "yellow"
        return COLORS[state]

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state().value,
            "lastSuccess": _iso(self.last_success),
            "lastFailure": _iso(self.last_failure),
            "lastError": self.last_error,
            "counters": vars(self.counters).copy(),
            "inactiveAfter": self.window.total_seconds(),
        }

    # -- watching ---------------------------------------------------------------------------

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def watch(self, publish: Callable[[AppStatus], None], min_interval: float = 0.0) -> None:
        """Call ``publish(self)`` now, after every change (at most every ``min_interval`` seconds)
        and when time alone changes the state. Runs until cancelled."""
        self._changed = asyncio.Event()
        try:
            while True:
                self._changed.clear()
                published = self.state()
                publish(self)
                if min_interval:
                    await asyncio.sleep(min_interval)
                if self._changed.is_set() or self.state() is not published:
                    continue
                change = self.next_change()
                waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._changed.wait())}
                if change is not None:
                    waiters.add(asyncio.ensure_future(self.clock.sleep_until(change)))
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                    await asyncio.gather(*waiters, return_exceptions=True)
        finally:
            self._changed = None

    # -- persistence ------------------------------------------------------------------------

    def save(self, db: sqlite_utils.Database, key: str) -> None:
        data = {
            "lastSuccess": _iso(self.last_success),
            "lastFailure": _iso(self.last_failure),
            "lastError": self.last_error,
            "counters": vars(self.counters),
        }
        with db.conn:
            db.conn.execute(f"create table if not exists {TABLE} (key text primary key, data text not null)")
            db.conn.execute(f"insert or replace into {TABLE} (key, data) values (?, ?)", (key, json.dumps(data)))

    def restore(self, db: sqlite_utils.Database, key: str) -> bool:
        """Load what :meth:`save` stored under ``key``; False when there is nothing."""
        with db.conn:
            db.conn.execute(f"create table if not exists {TABLE} (key text primary key, data text not null)")
        row = db.conn.execute(f"select data from {TABLE} where key = ?", (key,)).fetchone()
        if row is None:
            return False
        data = json.loads(row[0])
        self.last_success = _parse(data.get("lastSuccess"))
        self.last_failure = _parse(data.get("lastFailure"))
        self.last_error = data.get("lastError")
        self.counters = Counters(**{k: int(v) for k, v in data.get("counters", {}).items() if k in vars(Counters())})
        return True


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
