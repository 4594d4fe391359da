"""``time-validity``: drops uplinks older than a maximum age (seed 004's uplink time validity)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from flowengine import paths, uplink
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

STATUS_EVERY = 1.0
"""Seconds between two status updates of the filter nodes (time-validity, rate-limit, dedup)."""


class StatusThrottle:
    """Shows a node's counters as its status at most once per ``interval`` seconds of the node's
    clock, so a burst of drops does not flood the event stream; the last change is always shown
    (a trailing update is scheduled with ``node.spawn``). Shared by the filter nodes."""

    def __init__(self, node: Node, render: Callable[[], tuple[str, str, dict[str, Any]]], interval: float = STATUS_EVERY) -> None:
        self._node = node
        self._render = render
        self._interval = interval
        self._shown_at = float("-inf")
        self._pending = False

    def update(self) -> None:
        wait = self._shown_at + self._interval - self._node.clock.time()
        if wait <= 0:
            self._show()
        elif not self._pending:
            self._pending = True
            self._node.spawn(self._later(wait), "status")

    async def _later(self, wait: float) -> None:
        await self._node.clock.sleep(wait)
        self._pending = False
        self._show()

    def _show(self) -> None:
        self._shown_at = self._node.clock.time()
        text, color, details = self._render()
        self._node.status(text, color=color, **details)


class TimeValidityNode(Node):
    """Passes a message on only when the time at ``field`` (ISO 8601, by default the canonical
    ``payload.receivedAt``) is at most ``maxAge`` (``30s``, ``5m``, ``1h``...) before now, so stale
    uplinks that a network server or broker replays after an outage are not forwarded as fresh.
    A time in the future (clock skew) passes. Dropped messages are counted (the node's ``dropped``
    counter and its status, ``N passed, M too old``, updated at most once a second). A message without a readable time passes
    or is dropped as ``missing`` says.

    Reads: the field at ``field``. Writes nothing; the message is passed on unchanged."""

    type = "time-validity"
    category = "filter"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["maxAge"],
        "properties": {
            "maxAge": {"title": "Maximum age", "type": "string", "pattern": uplink.DURATION_PATTERN,
                       "description": "Oldest accepted message, e.g. 5m (units ms, s, m, h, d; 1h30m works)."},
            "field": {"title": "Time field", "type": "string", "minLength": 1,
                      "description": "Dotted path of the message's time (ISO 8601).", "default": "payload.receivedAt"},
            "missing": {"title": "Without a time", "enum": ["pass", "drop"],
                        "description": "What to do with a message whose time field is missing or unreadable.", "default": "pass"},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        try:
            uplink.parse_duration(config["maxAge"])
        except ValueError as exc:
            return [("/maxAge", str(exc))]
        return []

    async def start(self) -> None:
        self._max_age = uplink.parse_duration(self.config["maxAge"])
        self.passed = 0
        self.too_old = 0
        self.without_time = 0
        self._status = StatusThrottle(self, self._render)

    async def on_message(self, msg: Message) -> Message | None:
        value = paths.get(msg, self.config["field"], None)
        moment: datetime | None = None
        if isinstance(value, str):
            try:
                moment = uplink.parse_time(value)
            except ValueError:
                moment = None
        if moment is None:
            if self.config["missing"] == "drop":
                self.without_time += 1
                self.drop(msg, f"{self.config['field']}: no readable time")
                self._status.update()
                return None
            self.passed += 1
            self._status.update()
            return msg
        age = (self.clock.now() - moment).total_seconds()
        if age > self._max_age:
            self.too_old += 1
            self.drop(msg, f"too old: {age:.1f} s > {self.config['maxAge']}")
            self._status.update()
            return None
        self.passed += 1
        self._status.update()
        return msg

    def _render(self) -> tuple[str, str, dict[str, Any]]:
        text = f"{self.passed} passed, {self.too_old} too old"
        if self.without_time:
            text += f", {self.without_time} without time"
        dropped = self.too_old + self.without_time
        return text, "yellow" if dropped else "green", {"passed": self.passed, "dropped": dropped}
