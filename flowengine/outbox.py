"""A durable, ordered outbox per sink in the store's SQLite database, and the loop that drains it.

A sink that must not lose a message (``http-out``) stores it here inside ``on_message`` and returns:
from then on the message is the outbox's responsibility, so the source may acknowledge it and the
flow goes on even while the peer is down. A background :class:`Dispatcher` takes items in order,
hands each to the sink's ``attempt`` callback and, depending on the :class:`Outcome`,

- deletes it (``DELIVERED``);
- reschedules it with exponential back-off and jitter, or after the peer's ``Retry-After``
  (``RETRY``), until the item is older than ``max_age``;
- moves it to the dead-letter list together with the peer's response (``REJECT``, or a retry
  past ``max_age``).

Tables (shared by every sink, keyed by the sink's node id so a redeploy keeps the backlog):

``outbox``
    ``id`` (insertion order), ``sink``, ``item`` (JSON), ``created`` and ``due`` (epoch seconds
    of the node's clock), ``attempts``, ``last_error``.
``dead_letters``
    ``id``, ``sink``, ``item``, ``created``, ``failed`` (epoch seconds), ``attempts``,
    ``reason``, ``response`` (JSON: status, headers, body excerpt; null for a network error).

Order: with ``concurrency`` 1 the head item blocks those behind it while it backs off, so items
reach the peer in the order they were stored (at least once: an item whose answer was lost is
sent again). With more than one in flight, items still start in order but a backing-off item
does not hold back the others.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlite_utils

from flowengine.clock import Clock
from flowengine.types import JSON

OUTBOX_TABLE = "outbox"
DEAD_TABLE = "dead_letters"


@dataclass(frozen=True)
class Item:
    """One stored message as the outbox hands it to a sender."""

    id: int
    sink: str
    item: JSON
    created: float
    due: float
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: attempt n waits ``initial * 2**(n-1)``, at most
    ``maximum``, multiplied by a random factor in ``[1 - jitter, 1]`` so that many sinks that
    failed together do not retry together."""

    initial: float = 1.0
    maximum: float = 300.0
    jitter: float = 0.5

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        base = min(self.maximum, self.initial * 2 ** max(0, min(attempts - 1, 60)))
        factor = 1.0 - self.jitter * (rng or random).random()
        return float(base * factor)


class Outbox:
    """The stored backlog of one sink. Every method commits before it returns, so a process
    killed at any moment keeps every item that :meth:`enqueue` returned for."""

    def __init__(self, db: sqlite_utils.Database, sink: str, clock: Clock | None = None) -> None:
        self.db = db
        self.sink = sink
        self.clock = clock or Clock()
        ensure_tables(db)

    # -- writing ----------------------------------------------------------------------------

    def enqueue(self, item: JSON) -> int:
        """Store ``item`` (JSON-able) at the end of the outbox; returns its id."""
        now = self.clock.time()
        with self.db.conn:
            cursor = self.db.conn.execute(
                f"insert into {OUTBOX_TABLE} (sink, item, created, due, attempts) values (?, ?, ?, ?, 0)",
                (self.sink, json.dumps(item), now, now),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def enqueue_many(self, items: list[JSON]) -> list[int]:
        """Store several items in one transaction (cheaper than one :meth:`enqueue` each)."""
        now = self.clock.time()
        ids = []
        with self.db.conn:
            for item in items:
                cursor = self.db.conn.execute(
                    f"insert into {OUTBOX_TABLE} (sink, item, created, due, attempts) values (?, ?, ?, ?, 0)",
                    (self.sink, json.dumps(item), now, now),
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
        return ids

    def delivered(self, item_id: int) -> None:
        """The item reached its peer: forget it."""
        with self.db.conn:
            self.db.conn.execute(f"delete from {OUTBOX_TABLE} where id = ? and sink = ?", (item_id, self.sink))

    def reschedule(self, item_id: int, delay: float, error: str) -> float:
        """Try the item again in ``delay`` seconds; records the attempt and its error. Returns the due time."""
        due = self.clock.time() + max(0.0, delay)
        with self.db.conn:
            self.db.conn.execute(
                f"update {OUTBOX_TABLE} set due = ?, attempts = attempts + 1, last_error = ? where id = ? and sink = ?",
                (due, error, item_id, self.sink),
            )
        return due

    def dead_letter(self, item_id: int, reason: str, response: JSON = None) -> None:
        """Move the item to the dead-letter list with why and what the peer answered."""
        row = self.db.conn.execute(
            f"select item, created, attempts from {OUTBOX_TABLE} where id = ? and sink = ?", (item_id, self.sink)
        ).fetchone()
        if row is None:
            return
        with self.db.conn:
            self.db.conn.execute(
                f"insert into {DEAD_TABLE} (sink, item, created, failed, attempts, reason, response)"
                " values (?, ?, ?, ?, ?, ?, ?)",
                (self.sink, row[0], row[1], self.clock.time(), row[2] + 1, reason,
                 None if response is None else json.dumps(response)),
            )
            self.db.conn.execute(f"delete from {OUTBOX_TABLE} where id = ? and sink = ?", (item_id, self.sink))

    def requeue_dead(self, dead_id: int) -> int:
        """Put a dead letter back at the end of the outbox (after the cause was fixed); returns the new id."""
        rows = list(self.db.query(f"select * from {DEAD_TABLE} where id = ? and sink = ?", [dead_id, self.sink]))
        if not rows:
            raise KeyError(f"sink {self.sink}: no dead letter {dead_id}")
        now = self.clock.time()
        with self.db.conn:
            cursor = self.db.conn.execute(
                f"insert into {OUTBOX_TABLE} (sink, item, created, due, attempts) values (?, ?, ?, ?, 0)",
                (self.sink, rows[0]["item"], now, now),
            )
            self.db.conn.execute(f"delete from {DEAD_TABLE} where id = ?", (dead_id,))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def clear_dead(self) -> int:
        """Forget this sink's dead letters; returns how many there were."""
        with self.db.conn:
            cursor = self.db.conn.execute(f"delete from {DEAD_TABLE} where sink = ?", (self.sink,))
        return cursor.rowcount

    # -- reading ----------------------------------------------------------------------------

    def due(self, limit: int = 1, exclude: set[int] | frozenset[int] = frozenset(), ordered: bool = True) -> list[Item]:
        """Up to ``limit`` items whose time has come, oldest first, leaving out ids in ``exclude``
        (those in flight). ``ordered``: stop at the first item that is not due yet, so nothing
        overtakes an item that is backing off."""
        now = self.clock.time()
        if ordered:
            rows = self.db.conn.execute(
                f"select * from {OUTBOX_TABLE} where sink = ? order by id limit ?",
                (self.sink, limit + len(exclude)),
            )
            items = []
            for row in rows:
                item = _item(row)
                if item.id in exclude:
                    continue
                if item.due > now:
                    break
                items.append(item)
                if len(items) >= limit:
                    break
            return items
        rows = self.db.conn.execute(
            f"select * from {OUTBOX_TABLE} where sink = ? and due <= ? order by id limit ?",
            (self.sink, now, limit + len(exclude)),
        )
        return [item for item in map(_item, rows) if item.id not in exclude][:limit]

    def next_due(self, exclude: set[int] | frozenset[int] = frozenset(), ordered: bool = True) -> float | None:
        """When the next item not in ``exclude`` is due (epoch seconds), or None when there is none."""
        if ordered:
            rows = self.db.conn.execute(
                f"select id, due from {OUTBOX_TABLE} where sink = ? order by id limit ?", (self.sink, len(exclude) + 1)
            )
            for item_id, due in rows:
                if item_id not in exclude:
                    return float(due)
            return None
        rows = self.db.conn.execute(
            f"select id, due from {OUTBOX_TABLE} where sink = ? order by due, id limit ?", (self.sink, len(exclude) + 1)
        )
        for item_id, due in rows:
            if item_id not in exclude:
                return float(due)
        return None

    def items(self, limit: int = 100) -> list[Item]:
        """The oldest ``limit`` items, due or not."""
        rows = self.db.conn.execute(f"select * from {OUTBOX_TABLE} where sink = ? order by id limit ?", (self.sink, limit))
        return [_item(row) for row in rows]

    def __len__(self) -> int:
        row = self.db.conn.execute(f"select count(*) from {OUTBOX_TABLE} where sink = ?", (self.sink,)).fetchone()
        return int(row[0])

    def oldest_age(self) -> float | None:
        """Seconds since the oldest waiting item was stored."""
        row = self.db.conn.execute(f"select min(created) from {OUTBOX_TABLE} where sink = ?", (self.sink,)).fetchone()
        return None if row[0] is None else max(0.0, self.clock.time() - float(row[0]))

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """This sink's dead letters, newest first."""
        return dead_letters(self.db, self.sink, limit)

    def dead_count(self) -> int:
        row = self.db.conn.execute(f"select count(*) from {DEAD_TABLE} where sink = ?", (self.sink,)).fetchone()
        return int(row[0])

    def stats(self) -> dict[str, Any]:
        """Depth, age of the oldest item and number of dead letters (for status and metrics)."""
        age = self.oldest_age()
        return {"pending": len(self), "oldestAge": None if age is None else round(age, 3), "dead": self.dead_count()}


def ensure_tables(db: sqlite_utils.Database) -> None:
    """Create the outbox and dead-letter tables if they are missing."""
    with db.conn:
        db.conn.execute(
            f"create table if not exists {OUTBOX_TABLE} (id integer primary key autoincrement, sink text not null,"
            " item text not null, created real not null, due real not null, attempts integer not null default 0,"
            " last_error text)"
        )
        db.conn.execute(f"create index if not exists {OUTBOX_TABLE}_sink on {OUTBOX_TABLE} (sink, id)")
        db.conn.execute(
            f"create table if not exists {DEAD_TABLE} (id integer primary key autoincrement, sink text not null,"
            " item text not null, created real not null, failed real not null, attempts integer not null,"
            " reason text not null, response text)"
        )
        db.conn.execute(f"create index if not exists {DEAD_TABLE}_sink on {DEAD_TABLE} (sink, id)")


def dead_letters(db: sqlite_utils.Database, sink: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Dead letters of one sink (or all), newest first, as plain data for the API."""
    ensure_tables(db)
    where, args = ("where sink = ?", [sink]) if sink is not None else ("", [])
    rows = db.query(f"select * from {DEAD_TABLE} {where} order by id desc limit ?", [*args, limit])
    return [
        {
            "id": row["id"], "sink": row["sink"], "item": json.loads(row["item"]), "created": row["created"],
            "failed": row["failed"], "attempts": row["attempts"], "reason": row["reason"],
            "response": None if row["response"] is None else json.loads(row["response"]),
        }
        for row in rows
    ]


def _item(row: Any) -> Item:
    # rows come from the plain connection: (id, sink, item, created, due, attempts, last_error)
    return Item(int(row[0]), row[1], json.loads(row[2]), float(row[3]), float(row[4]), int(row[5]), row[6])


# -- the sender ---------------------------------------------------------------------------------


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECT = "reject"


@dataclass
class Result:
    """What one attempt came to. ``retry_after`` (seconds) overrides the back-off (``Retry-After``);
    ``response`` is kept with a dead letter."""

    outcome: Outcome
    error: str = ""
    retry_after: float | None = None
    response: JSON = None

    @classmethod
    def delivered(cls) -> Result:
        return cls(Outcome.DELIVERED)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None, response: JSON = None) -> Result:
        return cls(Outcome.RETRY, error, retry_after, response)

    @classmethod
    def reject(cls, error: str, response: JSON = None) -> Result:
        return cls(Outcome.REJECT, error, None, response)


@dataclass
class DispatchStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    in_flight: int = 0
    last_error: str | None = None


Attempt = Callable[[Item], Awaitable[Result]]
Observer = Callable[[Item, Result], None]


class Dispatcher:
    """Drains one :class:`Outbox` through ``attempt``, ``concurrency`` items at a time.

    Run :meth:`run` as a task owned by the sink (``self.spawn(dispatcher.run(), "sender")``) and
    call :meth:`notify` after each enqueue. Cancelling the task leaves unfinished items in the
    outbox, to be sent again later (at least once). ``observe(item, result)`` is called after each
    attempt (the sink updates its status there). An ``attempt`` that raises counts as a retry.
    """

    def __init__(
        self,
        outbox: Outbox,
        attempt: Attempt,
        *,
        concurrency: int = 1,
        backoff: Backoff | None = None,
        max_age: float = 86400.0,
        observe: Observer | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.attempt = attempt
        self.concurrency = max(1, concurrency)
        self.backoff = backoff or Backoff()
        self.max_age = max_age
        self.observe = observe
        self.rng = rng or random.Random()
        self.stats = DispatchStats()
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._progress = asyncio.Event()

    @property
    def ordered(self) -> bool:
        return self.concurrency == 1

    def notify(self) -> None:
        """Something was enqueued: look again now."""
        self._wake.set()

    async def run(self) -> None:
        clock = self.outbox.clock
        try:
            while True:
                self._wake.clear()
                free = self.concurrency - len(self._in_flight)
                items = self.outbox.due(free, set(self._in_flight), self.ordered) if free > 0 else []
                for item in items:
                    self._in_flight[item.id] = asyncio.create_task(self._one(item), name=f"outbox {self.outbox.sink} #{item.id}")
                self.stats.in_flight = len(self._in_flight)
                if items:
                    await asyncio.sleep(0)
                    continue
                waiters: set[asyncio.Future[Any]] = set(self._in_flight.values())
                wake = asyncio.ensure_future(self._wake.wait())
                waiters.add(wake)
                timer: asyncio.Future[Any] | None = None
                if free > 0:
                    due = self.outbox.next_due(set(self._in_flight), self.ordered)
                    if due is not None:
                        timer = asyncio.ensure_future(clock.sleep(due - clock.time()))
                        waiters.add(timer)
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for helper in (wake, timer):
                        if helper is not None and not helper.done():
                            helper.cancel()
                    await asyncio.gather(*(h for h in (wake, timer) if h is not None), return_exceptions=True)
        finally:
            tasks = list(self._in_flight.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._in_flight.clear()

    async def drained(self) -> None:
        """Return once the outbox is empty and nothing is in flight (wrap in ``asyncio.timeout``)."""
        while self._in_flight or len(self.outbox):
            self._progress.clear()
            await self._progress.wait()

    async def _one(self, item: Item) -> None:
        try:
            try:
                result = await self.attempt(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing attempt is a transient failure: retry it
                result = Result.retry(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            self._settle(item, result)
        finally:
            self._in_flight.pop(item.id, None)
            self._wake.set()
            self._progress.set()

    def _settle(self, item: Item, result: Result) -> None:
        outbox = self.outbox
        if result.outcome is Outcome.DELIVERED:
            outbox.delivered(item.id)
            self.stats.delivered += 1
        elif result.outcome is Outcome.REJECT:
            outbox.dead_letter(item.id, result.error, result.response)
            self.stats.dead += 1
            self.stats.last_error = result.error
        else:
            delay = result.retry_after if result.retry_after is not None else self.backoff.delay(item.attempts + 1, self.rng)
            age_at_retry = outbox.clock.time() + delay - item.created
            self.stats.last_error = result.error
            if age_at_retry > self.max_age:
                reason = f"gave up after {item.attempts + 1} attempt(s) (older than {self.max_age:g} s): {result.error}"
                outbox.dead_letter(item.id, reason, result.response)
                self.stats.dead += 1
                result = Result.reject(reason, result.response)
            else:
                outbox.reschedule(item.id, delay, result.error)
                self.stats.retried += 1
        if self.observe is not None:
            self.observe(item, result)
