"""``inject``: emits a message once at start, every N seconds, on a cron schedule, or on demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from croniter import CroniterBadDateError, croniter

from flowengine.message import Message, copy_json
from flowengine.node import Node
from flowengine.types import JSONObject


class InjectNode(Node):
    """Emits ``payload`` (any JSON) with ``topic``: once after start (``once``), every ``repeat``
    seconds, at the times of a ``cron`` expression (five fields, UTC), and whenever its button is
    pressed (``POST /api/nodes/{id}/inject``, whose body may replace the payload).

    Writes: ``payload``, ``topic``; ``meta.injectedAt`` (ISO 8601)."""

    type = "inject"
    category = "source"
    inputs = 0
    injectable = True
    color = "#a6bbcf"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "payload": {"title": "Payload", "description": "The JSON value to send.", "default": None},
            "topic": {"title": "Topic", "type": "string", "description": "The message topic.", "default": ""},
            "once": {"title": "Inject once at start", "type": "boolean", "description": "Send one message when the flow starts.", "default": False},
            "onceDelay": {"title": "Delay before the first message (s)", "type": "number", "minimum": 0, "description": "Seconds to wait after start before the once-message.", "default": 0.1},
            "repeat": {"title": "Repeat every (s)", "type": "number", "minimum": 0, "description": "Interval in seconds; 0 turns repeating off.", "default": 0},
            "cron": {"title": "Cron", "type": "string", "description": "A five-field cron expression in UTC (e.g. '*/5 * * * *'); empty turns it off.", "default": ""},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        cron = config["cron"]
        if not cron:
            return []
        if not croniter.is_valid(cron):
            return [("/cron", f"not a valid cron expression: {cron!r}")]
        if not cron.strip().startswith("@") and len(cron.split()) != 5:
            return [("/cron", f"expected five fields (minute hour day month weekday), got {len(cron.split())}: {cron!r}")]
        try:
            croniter(cron, datetime.now(UTC)).get_next(datetime)
        except CroniterBadDateError:
            return [("/cron", f"{cron!r} never fires")]
        return []

    async def start(self) -> None:
        if self.config["once"]:
            self.spawn(self._once(), "once")
        if self.config["repeat"] > 0:
            self.spawn(self._repeat(), "repeat")
        if self.config["cron"]:
            self.spawn(self._cron(), "cron")

    async def inject(self, payload: Any = None) -> None:
        # a copy each time: the nodes downstream own (and may change) the message they receive
        await self.send(self._message(copy_json(self.config["payload"]) if payload is None else payload))

    def _message(self, payload: Any) -> Message:
        return Message(payload, self.config["topic"], {"injectedAt": self.clock.now().isoformat()})

    async def _once(self) -> None:
        await self.clock.sleep(self.config["onceDelay"])
        await self.inject()

    async def _repeat(self) -> None:
        while True:
            await self.clock.sleep(self.config["repeat"])
            await self.inject()

    async def _cron(self) -> None:
        schedule = croniter(self.config["cron"], self.clock.now())
        while True:
            await self.clock.sleep_until(schedule.get_next(type(self.clock.now())))
            await self.inject()
