"""The conformance suite every node type passes, built-in or added by anyone.

Parametrised over ``Registry.from_entry_points()``, so a new node type is checked the moment its
module lands in ``nodes/`` (or another package registers it). The rules are the node SDK's contract
(``flowengine/node.py``) and the shared style: the schema is the single source of truth, so it must
describe every field well enough for validation, the editor form and the docs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import jsonschema
import pytest

from flowengine.node import Node
from flowengine.registry import Registry
from flowengine.schema import apply_defaults, node_refs
from flowengine.testing import flow_document, running
from flowengine.types import CATEGORIES, JSONObject
from flowengine.validation import validate

REGISTRY = Registry.from_entry_points()
TYPES = [node_type.type for node_type in REGISTRY]
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

MINIMAL_CONFIGS: dict[str, JSONObject] = {
    "change": {"rules": []},
    "switch": {"rules": []},
    "template": {"template": "{{ payload | tojson }}"},
    "mqtt-broker": {"host": "127.0.0.1"},
    "http-out": {"url": "http://127.0.0.1:9/"},
    "mqtt-in": {"topic": "conformance/#"},
    "websocket-in": {"url": "ws://127.0.0.1:9/"},
    "codec-binary": {"ports": []},
    "codec-js": {"script": "function decodeUplink(input) { return {data: {}}; }"},
    "time-validity": {"maxAge": "5m"},
    "ftp-csv": {"columns": [{"header": "t", "path": "payload.t"}], "host": "127.0.0.1"},
}
"""Configs for the required fields that have no default, for the node types this suite knows.
Other types get a config from their schema's defaults and the first of ``examples`` of a required
field without one; any ``x-node-type`` reference is pointed at a config node made the same way."""


def node_type_of(name: str) -> type[Node]:
    return REGISTRY[name]


def iter_properties(schema: JSONObject, pointer: str = "") -> Iterator[tuple[str, JSONObject, JSONObject]]:
    """(pointer, property schema, the object schema holding it) for every property, recursing into
    object properties and into array items that are objects."""
    for name, prop in schema.get("properties", {}).items():
        here = f"{pointer}/{name}"
        yield here, prop, schema
        if not isinstance(prop, dict):
            continue
        if "properties" in prop:
            yield from iter_properties(prop, here)
        items = prop.get("items")
        if isinstance(items, dict) and "properties" in items:
            yield from iter_properties(items, here + "/items")


def required_somewhere(schema: JSONObject) -> set[str]:
    """Names that ``schema`` requires, always or under a condition (``if``/``then``, ``allOf``...)."""
    names = set(schema.get("required", []))
    for key in ("then", "else"):
        if isinstance(schema.get(key), dict):
            names |= required_somewhere(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            if isinstance(sub, dict):
                names |= required_somewhere(sub)
    return names


def minimal_config(name: str) -> JSONObject | None:
    """A config that should validate: the known table, else one from defaults and examples (None if impossible)."""
    if name in MINIMAL_CONFIGS:
        return json.loads(json.dumps(MINIMAL_CONFIGS[name]))
    schema = node_type_of(name).schema
    properties = schema.get("properties", {})
    config: JSONObject = {}
    for field in schema.get("required", []):
        prop = properties.get(field, {})
        if "default" in prop or field in node_refs(schema):
            continue
        if not prop.get("examples"):
            return None
        config[field] = prop["examples"][0]
    return config


def minimal_document(name: str) -> tuple[JSONObject, str] | None:
    """A document running one node of type ``name`` (plus the config nodes it refers to)."""
    config = minimal_config(name)
    if config is None:
        return None
    node_type = node_type_of(name)
    nodes: list[JSONObject] = []
    for prop, ref_type in node_refs(node_type.schema).items():
        if prop not in node_type.schema.get("required", []) or prop in config:
            continue
        ref_config = minimal_config(ref_type) if ref_type in REGISTRY else None
        if ref_config is None:
            return None
        nodes.append({"id": f"ref-{prop}", "type": ref_type, "config": ref_config})
        config[prop] = f"ref-{prop}"
    nodes.append({"id": "under-test", "type": name, "config": config})
    return flow_document(*nodes), "under-test"


def skip_reason(name: str) -> str:
    schema = node_type_of(name).schema
    properties = schema.get("properties", {})
    refs = node_refs(schema)
    missing = [f for f in schema.get("required", []) if "default" not in properties.get(f, {}) and f not in refs]
    return (f"node type {name}: required field(s) {missing} have no default; add a minimal config for "
            f"it to MINIMAL_CONFIGS in tests/test_node_conformance.py")


@pytest.fixture(scope="module")
def cli_node_types() -> dict[str, JSONObject]:
    done = subprocess.run([sys.executable, "-m", "flowengine", "nodes", "--json"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return {entry["type"]: entry for entry in json.loads(done.stdout)}


def test_the_builtin_types_are_registered() -> None:
    assert {"inject", "debug", "template", "change", "switch", "catch", "delay"} <= set(TYPES)


# -- the static rules, as functions returning problems (so the suite can test itself, below) -----


def identity_problems(node_type: type[Node]) -> list[str]:
    name, problems = node_type.type, []
    if not (node_type.__doc__ or "").strip():
        problems.append("the class needs a docstring (what it does, which message fields it reads and writes)")
    if not KEBAB.match(name):
        problems.append(f"type name {name!r} is not lowercase-kebab")
    if node_type.category not in CATEGORIES:
        problems.append(f"category {node_type.category!r} is not one of {CATEGORIES}")
    module = "nodes." + name.replace("-", "_")
    if node_type.__module__.startswith("nodes.") and node_type.__module__ != module:
        problems.append(f"module should be {module}, is {node_type.__module__}")
    if node_type.inputs not in (0, 1):
        problems.append(f"inputs is {node_type.inputs!r}, not 0 or 1")
    return problems


def schema_shape_problems(node_type: type[Node]) -> list[str]:
    schema, problems = node_type.schema, []
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        problems.append(f"not a valid JSON Schema: {exc.message}")
    if schema.get("type") != "object":
        problems.append("the schema must be {\"type\": \"object\", ...}")
    if schema.get("additionalProperties") is not False:
        problems.append("the schema needs \"additionalProperties\": false")
    if not isinstance(schema.get("properties"), dict):
        problems.append("the schema needs \"properties\" (may be empty)")
    return problems


def property_problems(node_type: type[Node]) -> list[str]:
    """Every property has a title and a description, and a default or is required (in nested
    objects, required under a condition counts, e.g. ``from`` only for ``move``)."""
    schema, problems = node_type.schema, []
    for pointer, prop, holder in iter_properties(schema):
        if not isinstance(prop, dict):
            problems.append(f"{pointer}: not a schema object")
            continue
        for key in ("title", "description"):
            if not (isinstance(prop.get(key), str) and prop[key].strip()):
                problems.append(f"{pointer}: no {key}")
        field = pointer.rsplit("/", 1)[1]
        required = set(holder.get("required", [])) if holder is schema else required_somewhere(holder)
        if "default" not in prop and field not in required:
            problems.append(f"{pointer}: neither a default nor required")
    return problems


def default_problems(node_type: type[Node]) -> list[str]:
    problems = []
    for pointer, prop, _ in iter_properties(node_type.schema):
        if isinstance(prop, dict) and "default" in prop:
            for error in jsonschema.Draft202012Validator(prop).iter_errors(prop["default"]):
                problems.append(f"{pointer}: default {prop['default']!r}: {error.message}")
    return problems


def secret_problems(node_type: type[Node]) -> list[str]:
    problems = []
    for pointer, prop, _ in iter_properties(node_type.schema):
        if isinstance(prop, dict) and prop.get("writeOnly"):
            if prop.get("type") != "string":
                problems.append(f"{pointer}: a secret (writeOnly) must be a string")
            if prop.get("format") != "password":
                problems.append(f"{pointer}: a secret (writeOnly) needs \"format\": \"password\"")
    return problems


def reference_problems(node_type: type[Node], registry: Registry) -> list[str]:
    problems = []
    for prop, ref_type in node_refs(node_type.schema).items():
        if ref_type not in registry:
            problems.append(f"/{prop}: x-node-type {ref_type!r} is not a registered node type")
        elif registry[ref_type].category != "config":
            problems.append(f"/{prop}: x-node-type {ref_type} is a {registry[ref_type].category} node, not config")
        if node_type.schema["properties"][prop].get("type") != "string":
            problems.append(f"/{prop}: a reference to another node is a string (its id)")
    return problems


@pytest.mark.parametrize("name", TYPES)
def test_describes_itself(name: str) -> None:
    problems = identity_problems(node_type_of(name))
    assert not problems, f"node type {name}:\n  " + "\n  ".join(problems)
    assert node_type_of(name).describe() == (node_type_of(name).__doc__ or "").strip()


@pytest.mark.parametrize("name", TYPES)
def test_schema_is_a_closed_object(name: str) -> None:
    problems = schema_shape_problems(node_type_of(name))
    assert not problems, f"node type {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", TYPES)
def test_every_property_is_documented_and_defaulted_or_required(name: str) -> None:
    problems = property_problems(node_type_of(name))
    assert not problems, f"node type {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", TYPES)
def test_defaults_are_valid(name: str) -> None:
    problems = default_problems(node_type_of(name))
    assert not problems, f"node type {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", TYPES)
def test_secrets_are_write_only_strings(name: str) -> None:
    problems = secret_problems(node_type_of(name))
    assert not problems, f"node type {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", TYPES)
def test_references_name_config_node_types(name: str) -> None:
    problems = reference_problems(node_type_of(name), REGISTRY)
    assert not problems, f"node type {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", TYPES)
def test_minimal_config_validates_and_has_an_output_count(name: str) -> None:
    config = minimal_config(name)
    if config is None:
        pytest.skip(skip_reason(name))
    node_type = node_type_of(name)
    full = apply_defaults(node_type.schema, config)
    for ref in node_refs(node_type.schema):
        full.setdefault(ref, "ref")  # only the schema's type matters here
    errors = [e.message for e in jsonschema.Draft202012Validator(node_type.schema).iter_errors(full)]
    assert not errors, f"node type {name}: config {full} from defaults is invalid: {errors}"
    assert node_type.check(full) == [], f"node type {name}: check() rejects {full}"
    count = node_type.output_count(full)
    assert isinstance(count, int) and not isinstance(count, bool) and count >= 0, count
    if node_type.inputs == 0 and node_type.category == "config":
        assert count == 0, f"config node type {name} must not have outputs"


@pytest.mark.parametrize("name", TYPES)
async def test_a_runtime_instantiates_it(name: str, tmp_path: Any) -> None:
    built = minimal_document(name)
    if built is None:
        pytest.skip(skip_reason(name))
    document, node_id = built
    assert validate(document, REGISTRY, {}).problems == []
    async with running(document, tmp_path, registry=REGISTRY, start_timeout=2.0, stop_timeout=2.0) as (runtime, _):
        node = runtime.node(node_id)
        assert isinstance(node, node_type_of(name))
        entry = runtime.snapshot()[node_id]
        assert entry["state"] in ("running", "failed"), entry
        assert entry["counters"] == {"received": 0, "sent": 0, "errors": 0, "dropped": 0}
    assert runtime.node(node_id) is None


@pytest.mark.parametrize("name", TYPES)
def test_the_cli_lists_it(name: str, cli_node_types: dict[str, JSONObject]) -> None:
    assert name in cli_node_types, f"flowengine nodes --json does not list {name}"
    entry = cli_node_types[name]
    node_type = node_type_of(name)
    assert entry["schema"] == json.loads(json.dumps(node_type.schema))
    assert entry["category"] == node_type.category
    assert entry["description"] == node_type.describe()


# -- the suite checks itself: a node type breaking every rule is caught by every rule -------------


class BrokenNode(Node):
    type = "Broken_Node"
    category = "transform"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "properties": {
            "untitled": {"type": "integer", "description": "no title", "default": 1},
            "loose": {"title": "Loose", "type": "string", "description": "no default, not required"},
            "wrong": {"title": "Wrong", "type": "integer", "description": "bad default", "default": "x"},
            "password": {"title": "Password", "type": "integer", "writeOnly": True, "description": "x", "default": 0},
            "broker": {"title": "Broker", "type": "string", "description": "x", "default": "", "x-node-type": "debug"},
            "rules": {"title": "Rules", "type": "array", "description": "x", "default": [], "items": {
                "type": "object", "properties": {"op": {"title": "Op", "type": "string"}}}},
        },
    }


def test_the_rules_catch_a_broken_node_type() -> None:
    assert identity_problems(BrokenNode) == [
        "the class needs a docstring (what it does, which message fields it reads and writes)",
        "type name 'Broken_Node' is not lowercase-kebab",
    ]
    assert schema_shape_problems(BrokenNode) == ['the schema needs "additionalProperties": false']
    assert property_problems(BrokenNode) == [
        "/untitled: no title",
        "/loose: neither a default nor required",
        "/rules/items/op: no description",
        "/rules/items/op: neither a default nor required",
    ]
    assert default_problems(BrokenNode) == ["/wrong: default 'x': 'x' is not of type 'integer'"]
    assert secret_problems(BrokenNode) == [
        "/password: a secret (writeOnly) must be a string",
        '/password: a secret (writeOnly) needs "format": "password"',
    ]
    assert reference_problems(BrokenNode, REGISTRY) == ["/broker: x-node-type debug is a sink node, not config"]


def test_conditionally_required_nested_fields_count_as_required() -> None:
    holder = {"properties": {"a": {}, "b": {}}, "required": ["a"],
              "allOf": [{"if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["b"]}}]}
    assert required_somewhere(holder) == {"a", "b"}
