"""``debug``: shows messages in the editor's debug sidebar (the event stream) and optionally the log."""

from __future__ import annotations

import json
from typing import ClassVar

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject


class DebugNode(Node):
    """Publishes each message (or the field at ``property``) as a ``debug`` event on
    ``/api/events``, and writes it to the log when ``log`` is on. Ends the message's path."""

    type = "debug"
    category = "sink"
    outputs = 0
    color = "#87a980"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "property": {"title": "Output", "type": "string", "description": "Dotted path to show (e.g. 'payload'); empty shows the whole message.", "default": "payload"},
            "log": {"title": "Also to the log", "type": "boolean", "description": "Write each message to the process log at INFO level.", "default": False},
        },
    }

    async def on_message(self, msg: Message) -> None:
        path = self.config["property"]
        value = msg.to_json() if not path else paths.get(msg, path, None)
        self.context.events.publish({
            "type": "debug",
            "node": self.id,
            "name": self.name,
            "flow": self.context.flow_id,
            "time": self.clock.now().isoformat(),
            "topic": msg.topic,
            "property": path or "msg",
            "value": value,
            "meta": msg.meta,
        })
        if self.config["log"]:
            self.log.info("%s", json.dumps(value, default=str))
