"""change: set / delete / move / copy message fields by dotted path, rules applied in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

REGISTRY = Registry.from_entry_points()
PAYLOAD = {"decoded": {"temperature": 21.5, "humidity": 40}, "rx": [{"rssi": -80}], "devEui": "70b3d57ed0000001"}


def change_flow(*rules: dict[str, Any]) -> dict[str, Any]:
    return flow_document(
        {"id": "in", "type": "inject", "config": {"payload": PAYLOAD, "topic": "up"}, "wires": [["c"]]},
        {"id": "c", "type": "change", "name": "reshape", "config": {"rules": list(rules)}, "wires": [["out"]]},
        {"id": "out", "type": "debug", "config": {"property": ""}},
        {"id": "catch", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "debug", "config": {"property": ""}},
    )


async def apply(tmp_path: Path, *rules: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    async with running(change_flow(*rules), tmp_path) as (runtime, debug):
        await runtime.inject("in", payload)
        (message,) = await debug.wait_for("out", 1)
        return message  # type: ignore[no-any-return]


async def test_set_fields_of_any_json_type(tmp_path: Path) -> None:
    message = await apply(
        tmp_path,
        {"action": "set", "path": "payload.decoded.temperature", "value": 22},
        {"action": "set", "path": "payload.unit", "value": "C"},
        {"action": "set", "path": "payload.tags", "value": ["a", {"b": None}]},
        {"action": "set", "path": "payload.flag", "value": False},
        {"action": "set", "path": "payload.nothing", "value": None},
        {"action": "set", "path": "topic", "value": "devices/1"},
        {"action": "set", "path": "meta.source", "value": {"kind": "test"}},
    )
    assert message["payload"]["decoded"] == {"temperature": 22, "humidity": 40}
    assert message["payload"]["unit"] == "C"
    assert message["payload"]["tags"] == ["a", {"b": None}]
    assert message["payload"]["flag"] is False
    assert message["payload"]["nothing"] is None
    assert message["topic"] == "devices/1"
    assert message["meta"]["source"] == {"kind": "test"}


async def test_set_creates_nested_objects(tmp_path: Path) -> None:
    message = await apply(tmp_path, {"action": "set", "path": "payload.a.b.c", "value": 1}, {"action": "set", "path": "meta.x.y", "value": 2})
    assert message["payload"]["a"] == {"b": {"c": 1}}
    assert message["meta"]["x"] == {"y": 2}


async def test_set_on_a_null_payload_makes_an_object(tmp_path: Path) -> None:
    document = change_flow({"action": "set", "path": "payload.a.b", "value": 1})
    document["nodes"][0]["config"]["payload"] = None
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (message,) = await debug.wait_for("out", 1)
        assert message["payload"] == {"a": {"b": 1}}


async def test_set_value_is_copied_per_message(tmp_path: Path) -> None:
    document = change_flow(
        {"action": "set", "path": "payload.obj", "value": {}},
        {"action": "copy", "from": "payload.obj", "path": "payload.before"},
        {"action": "set", "path": "payload.obj.n", "value": 1},
    )
    async with running(document, tmp_path) as (runtime, debug):
        for _ in range(2):
            await runtime.inject("in", {})
        assert [m["payload"] for m in await debug.wait_for("out", 2)] == [{"obj": {"n": 1}, "before": {}}] * 2


async def test_delete(tmp_path: Path) -> None:
    message = await apply(
        tmp_path,
        {"action": "delete", "path": "payload.decoded.humidity"},
        {"action": "delete", "path": "payload.rx.0"},
        {"action": "delete", "path": "payload.not.there"},
        {"action": "delete", "path": "meta.injectedAt"},
    )
    assert message["payload"] == {"decoded": {"temperature": 21.5}, "rx": [], "devEui": "70b3d57ed0000001"}
    assert message["meta"] == {}


async def test_move(tmp_path: Path) -> None:
    message = await apply(
        tmp_path,
        {"action": "move", "from": "payload.decoded.temperature", "path": "payload.temp"},
        {"action": "move", "from": "payload.devEui", "path": "topic"},
    )
    assert message["payload"] == {"decoded": {"humidity": 40}, "rx": [{"rssi": -80}], "temp": 21.5}
    assert message["topic"] == "70b3d57ed0000001"


async def test_move_the_payload_under_itself(tmp_path: Path) -> None:
    message = await apply(tmp_path, {"action": "move", "from": "payload", "path": "payload.original"}, payload=[1, 2])
    assert message["payload"] == {"original": [1, 2]}


async def test_copy_is_independent_of_the_original(tmp_path: Path) -> None:
    message = await apply(
        tmp_path,
        {"action": "copy", "from": "payload.decoded", "path": "meta.decoded"},
        {"action": "set", "path": "payload.decoded.temperature", "value": 0},
    )
    assert message["meta"]["decoded"] == {"temperature": 21.5, "humidity": 40}
    assert message["payload"]["decoded"]["temperature"] == 0


async def test_rules_apply_in_order(tmp_path: Path) -> None:
    message = await apply(
        tmp_path,
        {"action": "set", "path": "payload.a", "value": 1},
        {"action": "copy", "from": "payload.a", "path": "payload.b"},
        {"action": "set", "path": "payload.a", "value": 2},
        {"action": "move", "from": "payload.b", "path": "payload.c"},
        payload={},
    )
    assert message["payload"] == {"a": 2, "c": 1}


@pytest.mark.parametrize("action", ["move", "copy"])
async def test_moving_or_copying_a_missing_field_fails_naming_the_rule(tmp_path: Path, action: str) -> None:
    document = change_flow({"action": "set", "path": "payload.ok", "value": 1},
                           {"action": action, "from": "payload.decoded.pressure", "path": "payload.p"})
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (failed,) = await debug.wait_for("caught", 1)
        error = failed["meta"]["error"]
        assert error["message"] == f"rule 1 ({action}): payload.decoded.pressure does not exist"
        assert error["source"] == {"id": "c", "type": "change", "name": "reshape"}
        assert debug.values("out") == []
        assert runtime.snapshot()["c"]["counters"]["errors"] == 1


async def test_setting_below_a_string_fails(tmp_path: Path) -> None:
    async with running(change_flow({"action": "set", "path": "payload.x", "value": 1}), tmp_path) as (runtime, debug):
        await runtime.inject("in", "just text")
        (failed,) = await debug.wait_for("caught", 1)
        assert "payload" in failed["meta"]["error"]["message"]
        assert failed["payload"] == "just text"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"action": "move", "path": "payload.b"}, "node c (change): /config/rules/0: 'from' is a required property"),
        ({"action": "copy", "path": "payload.b"}, "node c (change): /config/rules/0: 'from' is a required property"),
        ({"action": "set", "path": "payload.b"}, "node c (change): /config/rules/0: 'value' is a required property"),
        ({"action": "delete"}, "node c (change): /config/rules/0: 'path' is a required property"),
        ({"action": "delete", "path": ""}, "node c (change): /config/rules/0/path: '' should be non-empty"),
        ({"action": "rename", "path": "x"}, "node c (change): /config/rules/0/action: 'rename' is not one of ['set', 'delete', 'move', 'copy']"),
        ({"action": "delete", "path": "x", "extra": 1}, "node c (change): /config/rules/0: unknown field(s) ('extra' was unexpected)"),
    ],
)
def test_schema_problems(rule: dict[str, Any], expected: str) -> None:
    problems = [str(p) for p in validate(change_flow(rule), REGISTRY, {}).problems]
    assert problems == [expected]


def test_rules_are_required() -> None:
    document = change_flow()
    del document["nodes"][1]["config"]["rules"]
    problems = [str(p) for p in validate(document, REGISTRY, {}).problems]
    assert problems == ["node c (change): /config: 'rules' is a required property"]
