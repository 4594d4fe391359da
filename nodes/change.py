"""``change``: sets, deletes, moves and copies message fields by dotted path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flowengine import paths
from flowengine.message import Message, copy_json
from flowengine.node import Node
from flowengine.types import JSONObject


class ChangeNode(Node):
    """Applies ``rules`` in order. Each rule has an ``action``:

    - ``set``: write ``value`` (any JSON) to ``path``;
    - ``delete``: remove ``path``;
    - ``move``: move the value at ``from`` to ``path``;
    - ``copy``: copy the value at ``from`` to ``path``.

    Paths are dotted (``payload.decoded.temperature``, ``topic``, ``meta.source``). Moving or
    copying a field that does not exist fails that message with the path named."""

    type = "change"
    category = "transform"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["rules"],
        "properties": {
            "rules": {
                "title": "Rules",
                "type": "array",
                "description": "Applied in order.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["action", "path"],
                    "properties": {
                        "action": {"title": "Action", "enum": ["set", "delete", "move", "copy"], "description": "What to do."},
                        "path": {"title": "Field", "type": "string", "minLength": 1, "description": "The field to write or delete."},
                        "value": {"title": "Value", "description": "The value to set (set only)."},
                        "from": {"title": "From", "type": "string", "description": "The field to move or copy from (move and copy only)."},
                    },
                    "allOf": [
                        {"if": {"properties": {"action": {"enum": ["move", "copy"]}}}, "then": {"required": ["from"]}},
                        {"if": {"properties": {"action": {"const": "set"}}}, "then": {"required": ["value"]}},
                    ],
                },
            }
        },
    }

    async def start(self) -> None:
        self._rules = [_compile(index, rule) for index, rule in enumerate(self.config["rules"])]

    def on_message(self, msg: Message) -> Message:
        for apply in self._rules:
            apply(msg)
        return msg


def _compile(index: int, rule: JSONObject) -> Callable[[Message], Any]:
    """One rule as a function of the message, its paths split once."""
    action, target = rule["action"], paths.compile(rule["path"])
    if action == "set":
        value = rule["value"]
        return lambda msg: target.set(msg, copy_json(value))
    if action == "delete":
        return target.delete
    source = paths.compile(rule["from"])
    take = source.delete if action == "move" else source.get

    def move_or_copy(msg: Message) -> None:
        value = take(msg)
        if value is paths.MISSING:
            raise LookupError(f"rule {index} ({action}): {source.text} does not exist")
        target.set(msg, value if action == "move" else copy_json(value))

    return move_or_copy
