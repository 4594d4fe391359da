"""``switch``: routes a message to the outputs of the rules it matches, or to "otherwise"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _kind(value: Any) -> str | None:
    """The JSON type name of ``value`` (booleans are not numbers)."""
    for name, is_type in JSON_TYPES.items():
        if is_type(value):
            return name
    return None


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: like ``==`` but ``true`` is not ``1`` and ``false`` is not ``0``."""
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == "array":
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if kind == "object":
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _compare(op: str) -> Callable[[Any, Any], bool]:
    """An ordering that only holds between two numbers or two strings; other pairs never match."""
    order = ORDERINGS[op]

    def compare(left: Any, right: Any) -> bool:
        kind = _kind(left)
        return kind in ("number", "string") and kind == _kind(right) and order(left, right)
    return compare


class SwitchNode(Node):
    """Reads the field at ``property`` and tests it against each rule in turn. Output ``i`` is for
    rule ``i``; the last output takes messages that matched no rule ("otherwise"). With
    ``checkAll`` a message goes to every rule it matches, otherwise to the first only.

    Operators: ``==``, ``!=`` (JSON equality: ``true`` is not ``1``), ``<``, ``<=``, ``>``, ``>=``
    (only between two numbers or two strings; a value of another type never matches an ordering),
    ``in`` (value is a list), ``regex`` (searched in the field, or in its JSON text if it is not a string),
    ``exists`` (value true: the field exists; false: it does not), ``type`` (value one of string,
    number, boolean, object, array, null)."""

    type = "switch"
    category = "filter"
    color = "#e2d96e"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["rules"],
        "properties": {
            "property": {"title": "Property", "type": "string", "description": "Dotted path of the field to test.", "default": "payload"},
            "rules": {
                "title": "Rules",
                "type": "array",
                "description": "One output per rule, in order, then one for 'otherwise'.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["op"],
                    "properties": {
                        "op": {"title": "Test", "enum": ["==", "!=", "<", "<=", ">", ">=", "in", "regex", "exists", "type"], "description": "The test."},
                        "value": {"title": "Value", "description": "What to compare with (a list for 'in', a pattern for 'regex', a type name for 'type')."},
                    },
                    "allOf": [
                        {"if": {"properties": {"op": {"const": "in"}}}, "then": {"required": ["value"], "properties": {"value": {"type": "array"}}}},
                        {"if": {"properties": {"op": {"const": "regex"}}}, "then": {"required": ["value"], "properties": {"value": {"type": "string"}}}},
                        {"if": {"properties": {"op": {"const": "type"}}}, "then": {"required": ["value"], "properties": {"value": {"enum": list(JSON_TYPES)}}}},
                        {"if": {"properties": {"op": {"enum": ["==", "!=", "<", "<=", ">", ">="]}}}, "then": {"required": ["value"]}},
                    ],
                },
            },
            "checkAll": {"title": "Send to every matching rule", "type": "boolean", "description": "Off: stop at the first match.", "default": False},
        },
    }

    @classmethod
    def output_count(cls, config: JSONObject) -> int:
        return len(config["rules"]) + 1

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        problems = []
        for index, rule in enumerate(config["rules"]):
            if rule["op"] == "regex":
                try:
                    re.compile(rule["value"])
                except re.error as exc:
                    problems.append((f"/rules/{index}/value", f"invalid regular expression: {exc}"))
        return problems

    async def start(self) -> None:
        self._tests = [self._test(rule) for rule in self.config["rules"]]

    def _test(self, rule: JSONObject) -> Callable[[Any], bool]:
        op: str = rule["op"]
        expected: Any = rule.get("value")
        if op == "==":
            return lambda v: v is not paths.MISSING and json_equal(v, expected)
        if op == "!=":
            return lambda v: v is paths.MISSING or not json_equal(v, expected)
        if op in ("<", "<=", ">", ">="):
            compare = _compare(op)
            return lambda v: v is not paths.MISSING and compare(v, expected)
        if op == "in":
            return lambda v: v is not paths.MISSING and any(json_equal(v, item) for item in expected)
        if op == "regex":
            pattern = re.compile(expected)
            return lambda v: v is not paths.MISSING and v is not None and pattern.search(v if isinstance(v, str) else json.dumps(v)) is not None
        if op == "exists":
            wanted = expected is not False
            return lambda v: (v is not paths.MISSING) == wanted
        is_type = JSON_TYPES[expected]
        return lambda v: v is not paths.MISSING and is_type(v)

    async def on_message(self, msg: Message) -> None:
        value = paths.get(msg, self.config["property"])
        matched = [port for port, test in enumerate(self._tests) if test(value)]
        if not self.config["checkAll"]:
            matched = matched[:1]
        if not matched:
            matched = [len(self._tests)]
        for position, port in enumerate(matched):
            await self.send(msg if position == len(matched) - 1 else msg.copy(), port)
