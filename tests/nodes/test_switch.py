"""switch: routes by rules on a field; one output per rule plus "otherwise"; first or all matches."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

REGISTRY = Registry.from_entry_points()
MISSING = object()
"""Stands for "the field is not there" in the tables below."""


def switch_flow(rules: list[dict[str, Any]], property: str = "payload.v", check_all: bool = False) -> dict[str, Any]:
    """inject -> switch; output i -> debug "out<i>", the last output is "otherwise"."""
    outputs = [f"out{i}" for i in range(len(rules) + 1)]
    return flow_document(
        {"id": "in", "type": "inject", "wires": [["s"]]},
        {"id": "s", "type": "switch", "config": {"property": property, "rules": rules, "checkAll": check_all},
         "wires": [[name] for name in outputs]},
        *({"id": name, "type": "debug", "config": {"property": "payload"}} for name in outputs),
    )


async def route(tmp_path: Path, document: dict[str, Any], payloads: list[Any]) -> list[list[Any]]:
    """Send each payload through the switch; return what each output received, in order."""
    outputs = [node["id"] for node in document["nodes"] if node["id"].startswith("out")]
    async with running(document, tmp_path) as (runtime, debug):
        for payload in payloads:
            await runtime.inject("in", payload)
        assert await runtime.drained(2)
        await until(lambda: sum(len(debug.values(o)) for o in outputs) >= runtime.snapshot()["s"]["counters"]["sent"])
        return [debug.values(o) for o in outputs]


async def until(done: Any) -> None:
    async with asyncio.timeout(2):
        while not done():
            await asyncio.sleep(0.005)


def wrap(value: Any) -> dict[str, Any]:
    return {} if value is MISSING else {"v": value}


CASES: list[tuple[str, Any, list[tuple[Any, bool]]]] = [
    ("==", 5, [(5, True), (5.0, True), (6, False), ("5", False), (True, False), (None, False), (MISSING, False)]),
    ("==", True, [(True, True), (1, False), ("true", False), (False, False)]),
    ("==", "on", [("on", True), ("ON", False), (["on"], False)]),
    ("==", None, [(None, True), (MISSING, False), (0, False), ("", False)]),
    ("==", {"a": [1, 2]}, [({"a": [1, 2]}, True), ({"a": [1, 2.0]}, True), ({"a": [2, 1]}, False), ({"a": [True, 2]}, False)]),
    ("!=", 5, [(5, False), (6, True), ("5", True), (None, True), (MISSING, True)]),
    ("!=", 0, [(False, True), (0, False), (0.0, False)]),
    ("<", 10, [(9, True), (9.99, True), (10, False), (11, False), (-1, True)]),
    ("<=", 10, [(10, True), (10.0, True), (10.5, False)]),
    (">", 10, [(11, True), (10, False), (1e9, True)]),
    (">=", 10, [(10, True), (9, False)]),
    ("<", "m", [("a", True), ("z", False), ("m", False)]),
    (">=", "b", [("b", True), ("c", True), ("a", False)]),
    ("in", [1, "a", None], [(1, True), ("a", True), (None, True), (2, False), (True, False), ("A", False), (MISSING, False)]),
    ("in", [[1], {"k": 1}], [([1], True), ({"k": 1}, True), ([True], False), (1, False)]),
    ("regex", "^up/[0-9a-f]{16}$", [("up/70b3d57ed0000001", True), ("up/70B3", False), ("xup/70b3d57ed0000001", False)]),
    ("regex", "temp", [("temperature", True), ("TEMP", False), (None, False), (MISSING, False)]),
    ("regex", "^4", [(42, True), (5, False)]),
    ("regex", "^true$", [(True, True), ("true", True), (False, False)]),
    ("exists", True, [(0, True), (None, True), ("", True), (MISSING, False)]),
    ("exists", False, [(0, False), (None, False), (MISSING, True)]),
    ("type", "string", [("x", True), ("", True), (1, False), (None, False), (MISSING, False)]),
    ("type", "number", [(1, True), (1.5, True), (True, False), ("1", False)]),
    ("type", "boolean", [(True, True), (False, True), (0, False)]),
    ("type", "object", [({}, True), ([], False), (None, False)]),
    ("type", "array", [([], True), ([1], True), ({}, False), ("[]", False)]),
    ("type", "null", [(None, True), (MISSING, False), (0, False), ("", False)]),
]


@pytest.mark.parametrize(("op", "value", "table"), CASES, ids=[f"{c[0]} {c[1]!r}" for c in CASES])
async def test_operator(tmp_path: Path, op: str, value: Any, table: list[tuple[Any, bool]]) -> None:
    matched, otherwise = await route(tmp_path, switch_flow([{"op": op, "value": value}]), [wrap(v) for v, _ in table])
    assert matched == [wrap(v) for v, hit in table if hit]
    assert otherwise == [wrap(v) for v, hit in table if not hit]


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
async def test_a_type_mismatch_never_matches_an_ordering(tmp_path: Path, op: str) -> None:
    others = ["5", "", True, False, None, [5], {"v": 5}, MISSING]
    matched, otherwise = await route(tmp_path, switch_flow([{"op": op, "value": 5}]), [wrap(v) for v in others])
    assert matched == []
    assert len(otherwise) == len(others)
    matched, _ = await route(tmp_path, switch_flow([{"op": op, "value": "5"}]), [wrap(v) for v in (4, 5, 6, True)])
    assert matched == []


async def test_first_match_only_by_default(tmp_path: Path) -> None:
    rules = [{"op": ">", "value": 10}, {"op": ">", "value": 0}, {"op": "type", "value": "number"}]
    outputs = await route(tmp_path, switch_flow(rules), [wrap(20), wrap(5), wrap(-1), wrap("x")])
    assert outputs == [[wrap(20)], [wrap(5)], [wrap(-1)], [wrap("x")]]


async def test_check_all_sends_to_every_matching_rule(tmp_path: Path) -> None:
    rules = [{"op": ">", "value": 10}, {"op": ">", "value": 0}, {"op": "type", "value": "number"}]
    outputs = await route(tmp_path, switch_flow(rules, check_all=True), [wrap(20), wrap(5), wrap(-1), wrap("x")])
    assert outputs == [[wrap(20)], [wrap(20), wrap(5)], [wrap(20), wrap(5), wrap(-1)], [wrap("x")]]


async def test_check_all_gives_each_output_its_own_copy(tmp_path: Path) -> None:
    document = switch_flow([{"op": "exists", "value": True}, {"op": "exists", "value": True}], check_all=True)
    document["nodes"][1]["wires"][0] = ["mutate"]
    document["nodes"].append({"id": "mutate", "type": "change", "flow": "f1", "wires": [["out0"]],
                              "config": {"rules": [{"action": "set", "path": "payload.v", "value": "changed"}]}})
    outputs = await route(tmp_path, document, [wrap(1)])
    assert outputs == [[wrap("changed")], [wrap(1)], []]


async def test_no_rules_sends_everything_to_otherwise(tmp_path: Path) -> None:
    assert await route(tmp_path, switch_flow([]), [wrap(1), {}]) == [[wrap(1), {}]]


async def test_property_can_be_the_topic(tmp_path: Path) -> None:
    document = switch_flow([{"op": "regex", "value": "^alarm/"}], property="topic")
    document["nodes"][0]["config"]["topic"] = "alarm/fire"
    matched, otherwise = await route(tmp_path, document, ["x"])
    assert (matched, otherwise) == (["x"], [])


async def test_counters(tmp_path: Path) -> None:
    document = switch_flow([{"op": "==", "value": 1}], check_all=True)
    async with running(document, tmp_path) as (runtime, debug):
        for value in (1, 2, 1):
            await runtime.inject("in", wrap(value))
        await debug.wait_for("out0", 2)
        await debug.wait_for("out1", 1)
        counters = runtime.snapshot()["s"]["counters"]
        assert counters == {"received": 3, "sent": 3, "errors": 0, "dropped": 0}


def problems(document: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate(document, REGISTRY, {}).problems]


def test_invalid_regex_is_a_validation_problem() -> None:
    found = problems(switch_flow([{"op": "==", "value": 1}, {"op": "regex", "value": "([a-z"}]))
    assert len(found) == 1
    assert found[0].startswith("node s (switch): /config/rules/1/value: invalid regular expression: ")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"op": "in", "value": "abc"}, "/config/rules/0/value: 'abc' is not of type 'array'"),
        ({"op": "regex", "value": 5}, "/config/rules/0/value: 5 is not of type 'string'"),
        ({"op": "type", "value": "integer"}, "/config/rules/0/value: 'integer' is not one of"),
        ({"op": "<"}, "/config/rules/0: 'value' is a required property"),
        ({"op": "~="}, "/config/rules/0/op: '~=' is not one of"),
    ],
)
def test_rule_schema_problems(rule: dict[str, Any], expected: str) -> None:
    found = problems(switch_flow([rule]))
    assert len(found) == 1, found
    assert found[0].startswith("node s (switch): " + expected), found


def test_output_count_is_rules_plus_otherwise() -> None:
    switch = REGISTRY["switch"]
    assert switch.output_count({"rules": []}) == 1
    assert switch.output_count({"rules": [{"op": "exists"}] * 3}) == 4


def test_a_wire_on_a_port_that_does_not_exist_is_a_validation_problem() -> None:
    document = switch_flow([{"op": "==", "value": 1}])
    document["nodes"][1]["wires"].append(["out0"])
    assert problems(document) == ["node s (switch): /wires/2: output port 2 does not exist; the node has 2 output(s)"]
    document["nodes"][1]["wires"][2] = []
    assert problems(document) == []  # an empty port list past the end is harmless
