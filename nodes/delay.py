"""``delay``: holds each message for a fixed time before passing it on."""

from __future__ import annotations

from typing import ClassVar

from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject


class DelayNode(Node):
    """Waits ``milliseconds`` per message, one message at a time, so it also paces a stream
    (at most 1000/milliseconds messages per second). Upstream waits while its queue is full."""

    type = "delay"
    category = "transform"
    color = "#e6e0f8"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "milliseconds": {"title": "Delay (ms)", "type": "number", "minimum": 0, "description": "How long to hold each message.", "default": 1000},
        },
    }

    async def on_message(self, msg: Message) -> Message:
        await self.clock.sleep(self.config["milliseconds"] / 1000)
        return msg
