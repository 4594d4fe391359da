"""``rate-limit``: at most N messages per second, minute or hour, for the node or per device."""

from __future__ import annotations

import collections
from typing import Any, ClassVar

from flowengine import paths
from flowengine.message import Delivery, Message
from flowengine.node import Node
from flowengine.types import JSONObject
from nodes.time_validity import StatusThrottle

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
PRUNE_EVERY = 1000
"""Every this many messages, buckets that are full again (idle keys) are forgotten."""


class _Bucket:
    """A token bucket holding up to ``rate`` tokens, refilled at ``rate`` per period."""

    __slots__ = ("tokens", "stamp", "queue", "draining")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.stamp = now
        self.queue: collections.deque[tuple[Message, Delivery | None]] = collections.deque()
        self.draining = False


class RateLimitNode(Node):
    """Lets through at most ``rate`` messages per ``per`` (second, minute or hour), counted for the
    whole node or, with ``scope: device``, separately for each value of ``key`` (by default the
    canonical ``payload.devEui``; seed 004's uplink rate limiter). A token bucket: up to ``rate``
    messages may pass at once, then one every ``per``/``rate``.

    With ``action: drop`` a message over the limit is dropped and counted. With ``action: delay`` it
    waits (per key, in order) until it may pass; at most ``maxQueued`` messages wait in all, more are
    dropped. A waiting message keeps its delivery open, so a source acknowledges it only once it is
    sent; messages still waiting when the node stops are not acknowledged (the broker redelivers).

    Reads: ``key`` (device scope). Writes nothing; messages pass unchanged. Status (at most once a second):
    ``N passed, M dropped, Q waiting``."""

    type = "rate-limit"
    category = "filter"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "rate": {"title": "Messages", "type": "integer", "minimum": 1, "description": "How many messages may pass per period.", "default": 10},
            "per": {"title": "Per", "enum": list(PERIODS), "description": "The period.", "default": "minute"},
            "scope": {"title": "Counted", "enum": ["node", "device"],
                      "description": "node: one limit for all messages; device: one limit per value of key.", "default": "node"},
            "key": {"title": "Device key", "type": "string", "minLength": 1,
                    "description": "Dotted path of the value that tells devices apart (device scope).", "default": "payload.devEui"},
            "action": {"title": "Over the limit", "enum": ["drop", "delay"],
                       "description": "drop the message, or delay it until it may pass.", "default": "drop"},
            "maxQueued": {"title": "Most waiting messages", "type": "integer", "minimum": 1,
                          "description": "delay: messages that may wait in all; more are dropped.", "default": 1000},
        },
    }

    async def start(self) -> None:
        self._rate = float(self.config["rate"])
        self._interval = PERIODS[self.config["per"]] / self._rate
        self._buckets: dict[Any, _Bucket] = {}
        self._queued = 0
        self._seen = 0
        self.passed = 0
        self.dropped = 0
        self._status = StatusThrottle(self, self._render)

    @property
    def waiting(self) -> int:
        """How many messages wait (delay mode)."""
        return self._queued

    async def stop(self) -> None:
        for bucket in self._buckets.values():
            while bucket.queue:
                msg, delivery = bucket.queue.popleft()
                self._queued -= 1
                self.drop(msg, "node stopped while the message waited")
                if delivery is not None:
                    delivery.abandon()
        self._buckets = {}

    async def on_message(self, msg: Message) -> Message | None:
        key = paths.get(msg, self.config["key"], None) if self.config["scope"] == "device" else None
        if isinstance(key, (dict, list)):
            key = repr(key)
        now = self.clock.time()
        self._seen += 1
        if self._seen % PRUNE_EVERY == 0:
            self._prune(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._rate, now)
        self._refill(bucket, now)
        if not bucket.queue and bucket.tokens >= 1:
            bucket.tokens -= 1
            self.passed += 1
            self._show()
            return msg
        if self.config["action"] == "drop" or self._queued >= self.config["maxQueued"]:
            self.dropped += 1
            self.drop(msg, f"over {self.config['rate']} per {self.config['per']}" + ("" if key is None else f" for {key}"))
            self._show()
            return None
        held = msg.delivery.hold() if msg.delivery is not None else None
        bucket.queue.append((msg, held))
        self._queued += 1
        if not bucket.draining:
            bucket.draining = True
            self.spawn(self._drain(key, bucket), f"rate-limit queue {key}")
        self._show()
        return None

    def _refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = now - bucket.stamp
        if elapsed > 0:
            bucket.tokens = min(self._rate, bucket.tokens + elapsed / self._interval)
        bucket.stamp = now

    async def _drain(self, key: Any, bucket: _Bucket) -> None:
        try:
            while bucket.queue:
                now = self.clock.time()
                self._refill(bucket, now)
                if bucket.tokens < 1:
                    await self.clock.sleep((1 - bucket.tokens) * self._interval)
                    continue
                bucket.tokens -= 1
                msg, held = bucket.queue.popleft()
                self._queued -= 1
                self.passed += 1
                try:
                    await self.send(msg)
                finally:
                    if held is not None:
                        held.release()
                self._show()
        finally:
            bucket.draining = False

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if not b.queue and not b.draining and b.tokens + (now - b.stamp) / self._interval >= self._rate]:
            del self._buckets[key]

    def _show(self) -> None:
        self._status.update()

    def _render(self) -> tuple[str, str, dict[str, Any]]:
        return (f"{self.passed} passed, {self.dropped} dropped, {self._queued} waiting",
                "yellow" if self.dropped or self._queued else "green",
                {"passed": self.passed, "dropped": self.dropped, "waiting": self._queued})
