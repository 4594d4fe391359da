"""``dedup``: drops the copies of an uplink that several gateways (or a replay) deliver."""

from __future__ import annotations

import collections
from typing import Any, ClassVar

from flowengine import paths, uplink
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject
from nodes.time_validity import StatusThrottle


class DedupNode(Node):
    """Passes the first message for each key (by default the canonical ``payload.devEui`` +
    ``payload.fCnt``) and drops the others seen within ``window`` of it: the copies of one uplink that
    several gateways or network-server integrations forward. The memory is bounded: at most
    ``maxKeys`` keys are kept, the oldest forgotten first. A message missing a key field passes
    (nothing to compare); join, gateway-alive and downlink events are compared like uplinks only
    when they have the key fields.

    Reads: the ``keys`` paths. Writes nothing; messages pass unchanged. Dropped copies are counted
    (the node's ``dropped`` counter and its status ``N passed, M duplicates``, at most once a second)."""

    type = "dedup"
    category = "filter"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "keys": {"title": "Key fields", "type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                     "description": "Dotted paths whose values together identify a message.",
                     "default": ["payload.devEui", "payload.fCnt"]},
            "window": {"title": "Window", "type": "string", "pattern": uplink.DURATION_PATTERN,
                       "description": "How long after the first copy others are dropped (e.g. 10s, 5m).", "default": "30s"},
            "maxKeys": {"title": "Most keys remembered", "type": "integer", "minimum": 1,
                        "description": "Bound on memory; the oldest keys are forgotten first.", "default": 100000},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        try:
            uplink.parse_duration(config["window"])
        except ValueError as exc:
            return [("/window", str(exc))]
        return []

    async def start(self) -> None:
        self._window = uplink.parse_duration(self.config["window"])
        self._seen: collections.OrderedDict[tuple[Any, ...], float] = collections.OrderedDict()
        self.passed = 0
        self.duplicates = 0
        self._status = StatusThrottle(self, lambda: (
            f"{self.passed} passed, {self.duplicates} duplicates", "yellow" if self.duplicates else "green",
            {"passed": self.passed, "dropped": self.duplicates}))

    @property
    def remembered(self) -> int:
        """How many keys are remembered now."""
        return len(self._seen)

    async def on_message(self, msg: Message) -> Message | None:
        values = []
        for path in self.config["keys"]:
            value = paths.get(msg, path)
            if value is paths.MISSING or value is None:
                self.passed += 1
                return msg
            values.append(value if not isinstance(value, (dict, list)) else repr(value))
        key = tuple(values)
        now = self.clock.time()
        seen = self._seen
        while seen:  # forget what left the window (oldest first)
            oldest, when = next(iter(seen.items()))
            if now - when <= self._window:
                break
            del seen[oldest]
        first = seen.get(key)
        if first is not None and now - first <= self._window:
            self.duplicates += 1
            self.drop(msg, f"duplicate of {key} seen {now - first:.1f} s ago")
            self._status.update()
            return None
        seen[key] = now
        while len(seen) > self.config["maxKeys"]:
            seen.popitem(last=False)
        self.passed += 1
        self._status.update()
        return msg
