"""Every node's input queue: bounded, FIFO, and waking waiting senders in batches."""

from __future__ import annotations

import asyncio

from flowengine.bounded_queue import BoundedQueue


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_waiting_sender_resumes_once_the_queue_is_down_to_half() -> None:
    queue: BoundedQueue[int] = BoundedQueue(8)
    for n in range(8):
        assert queue.try_put(n)
    assert not queue.try_put(99)
    sender = asyncio.create_task(queue.put(8))
    await settle()
    assert queue.statistics().waiting_senders == 1
    taken = [queue.try_get() for _ in range(3)]
    await settle()
    assert len(queue) == 5 and not sender.done()  # above half: the sender still waits
    taken.append(queue.try_get())
    await settle()
    assert sender.done() and len(queue) == 5  # down to 4, then the sender's message
    while (item := queue.try_get()) is not None:
        taken.append(item)
    assert taken == list(range(9))
    assert queue.peak == 8


async def test_a_cancelled_sender_passes_its_wake_up_on() -> None:
    queue: BoundedQueue[str] = BoundedQueue(2)
    queue.try_put("a")
    queue.try_put("b")
    first = asyncio.create_task(queue.put("first"))
    second = asyncio.create_task(queue.put("second"))
    await settle()
    assert await queue.get() == "a"  # down to 1 (= half): wakes the first sender
    first.cancel()
    await settle()
    assert first.cancelled() and second.done()
    assert [await queue.get(), await queue.get()] == ["b", "second"]
