"""``catch``: receives the messages that failed in other nodes of its flow, with the error."""

from __future__ import annotations

from typing import ClassVar

from flowengine.node import Node
from flowengine.types import JSONObject


class CatchNode(Node):
    """Emits every message on which a node of the same flow raised (or only the nodes listed in
    ``scope``), with ``meta.error = {message, type, source: {id, type, name}, depth}``. Without a
    catch node, failures go to the log."""

    type = "catch"
    category = "source"
    inputs = 0
    catches_errors = True
    color = "#e49191"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "scope": {
                "title": "Catch errors from",
                "type": "array",
                "items": {"type": "string"},
                "description": "Ids of the nodes to catch errors from; empty catches every node of the flow.",
                "default": [],
            }
        },
    }

    def catches(self, source_id: str) -> bool:
        scope = self.config["scope"]
        return not scope or source_id in scope
