"""The durable outbox and its dispatcher: order, back-off, dead letters, restarts."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import sqlite_utils

from flowengine.clock import Clock, ManualClock
from flowengine.outbox import Backoff, Dispatcher, Item, Outbox, Outcome, Result, dead_letters


def db_in(tmp_path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(tmp_path / "flowengine.db")
    db.execute("PRAGMA journal_mode=WAL")
    return db


def test_enqueue_peek_in_order_and_delivered(tmp_path) -> None:
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink-a", ManualClock())
    other = Outbox(db, "sink-b", ManualClock())
    ids = [outbox.enqueue({"n": n}) for n in range(5)]
    other.enqueue({"n": "other"})
    assert ids == sorted(ids)
    assert len(outbox) == 5 and len(other) == 1
    assert [i.item["n"] for i in outbox.due(limit=3)] == [0, 1, 2]
    outbox.delivered(ids[0])
    assert [i.item["n"] for i in outbox.due(limit=10)] == [1, 2, 3, 4]
    assert [i.item["n"] for i in outbox.due(limit=10, exclude={ids[1]})] == [2, 3, 4]
    db.close()


def test_survives_reopening_the_database(tmp_path) -> None:
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", Clock())
    outbox.enqueue_many([{"n": n} for n in range(100)])
    db.close()
    reopened = db_in(tmp_path)
    again = Outbox(reopened, "sink", Clock())
    assert [i.item["n"] for i in again.items(limit=1000)] == list(range(100))
    reopened.close()


def test_ordered_head_blocks_while_backing_off(tmp_path) -> None:
    clock = ManualClock()
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", clock)
    first = outbox.enqueue("a")
    outbox.enqueue("b")
    outbox.reschedule(first, 10, "HTTP 500")
    assert outbox.due(limit=5) == []
    assert [i.item for i in outbox.due(limit=5, ordered=False)] == ["b"]
    assert outbox.next_due() == clock.time() + 10
    clock.set(clock.now() + timedelta(seconds=10))
    head = outbox.due()[0]
    assert head.item == "a" and head.attempts == 1 and head.last_error == "HTTP 500"
    db.close()


def test_dead_letter_keeps_the_response_and_can_be_requeued(tmp_path) -> None:
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", ManualClock())
    item_id = outbox.enqueue({"x": 1})
    outbox.dead_letter(item_id, "HTTP 400", {"status": 400, "body": "bad field"})
    assert len(outbox) == 0
    [dead] = outbox.dead_letters()
    assert dead["item"] == {"x": 1} and dead["reason"] == "HTTP 400" and dead["response"]["body"] == "bad field"
    assert dead_letters(db)[0]["sink"] == "sink"
    outbox.requeue_dead(dead["id"])
    assert len(outbox) == 1 and outbox.dead_count() == 0
    db.close()


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    backoff = Backoff(initial=1, maximum=30, jitter=0.5)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(1, 10)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(30, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert Backoff(initial=1, maximum=30, jitter=0).delay(100) == 30


async def test_dispatcher_retries_in_order_then_dead_letters_old_items(tmp_path) -> None:
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", Clock())
    seen: list[str] = []
    failures = {"a": 2}

    async def attempt(item: Item) -> Result:
        seen.append(item.item)
        if item.item == "bad":
            return Result.reject("HTTP 400", {"status": 400})
        if failures.get(item.item, 0) > 0:
            failures[item.item] -= 1
            return Result.retry("HTTP 500")
        return Result.delivered()

    outcomes: list[Outcome] = []
    dispatcher = Dispatcher(outbox, attempt, backoff=Backoff(initial=0.01, maximum=0.05),
                            observe=lambda item, result: outcomes.append(result.outcome))
    task = asyncio.create_task(dispatcher.run())
    for value in ("a", "b", "bad", "c"):
        outbox.enqueue(value)
        dispatcher.notify()
    async with asyncio.timeout(5):
        await dispatcher.drained()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert seen == ["a", "a", "a", "b", "bad", "c"]
    assert outcomes.count(Outcome.RETRY) == 2 and outcomes.count(Outcome.REJECT) == 1
    assert dispatcher.stats.delivered == 3 and dispatcher.stats.dead == 1
    assert outbox.dead_letters()[0]["item"] == "bad"
    db.close()


async def test_dispatcher_gives_up_after_max_age_and_honours_retry_after(tmp_path) -> None:
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", Clock())
    times: list[float] = []

    async def attempt(item: Item) -> Result:
        times.append(asyncio.get_running_loop().time())
        return Result.retry("HTTP 429", retry_after=0.2, response={"status": 429})

    dispatcher = Dispatcher(outbox, attempt, max_age=0.5)
    task = asyncio.create_task(dispatcher.run())
    outbox.enqueue("x")
    dispatcher.notify()
    async with asyncio.timeout(5):
        await dispatcher.drained()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(times) == 3  # at 0, 0.2, 0.4; the next retry would be older than 0.5 s
    assert all(b - a >= 0.19 for a, b in zip(times, times[1:], strict=False))
    [dead] = outbox.dead_letters()
    assert dead["reason"].startswith("gave up after 3 attempt(s)") and dead["response"] == {"status": 429}
    db.close()


async def test_dispatcher_concurrency_and_cancel_keeps_unfinished_items(tmp_path) -> None:
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", Clock())
    active = 0
    peak = 0
    release = asyncio.Event()

    async def attempt(item: Item) -> Result:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        return Result.delivered()

    dispatcher = Dispatcher(outbox, attempt, concurrency=4)
    task = asyncio.create_task(dispatcher.run())
    outbox.enqueue_many(list(range(10)))
    dispatcher.notify()
    async with asyncio.timeout(5):
        while peak < 4:
            await asyncio.sleep(0.01)
    task.cancel()  # a stop mid-delivery: nothing in flight is lost
    await asyncio.gather(task, return_exceptions=True)
    assert peak == 4 and len(outbox) == 10
    release.set()
    task = asyncio.create_task(dispatcher.run())
    async with asyncio.timeout(5):
        await dispatcher.drained()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(outbox) == 0 and dispatcher.stats.delivered == 10
    db.close()


async def test_dispatcher_waits_on_a_manual_clock(tmp_path) -> None:
    clock = ManualClock()
    db = db_in(tmp_path)
    outbox = Outbox(db, "sink", clock)
    calls = 0

    async def attempt(item: Item) -> Result:
        nonlocal calls
        calls += 1
        return Result.retry("down") if calls == 1 else Result.delivered()

    dispatcher = Dispatcher(outbox, attempt, backoff=Backoff(initial=60, jitter=0))
    task = asyncio.create_task(dispatcher.run())
    outbox.enqueue("x")
    dispatcher.notify()
    for _ in range(20):
        await asyncio.sleep(0)
    assert calls == 1 and len(outbox) == 1
    await clock.advance(59)
    assert calls == 1
    await clock.advance(1)
    async with asyncio.timeout(5):
        await dispatcher.drained()
    assert calls == 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    db.close()
