"""Working with node-type JSON Schemas: defaults, secrets and masking.

The schema is the single source of truth for a node's config. ``"writeOnly": true`` marks a
secret; such values are shown as ``*****`` by the API and left out of exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flowengine.types import JSON, JSONObject

MASK = "*****"


def apply_defaults(schema: JSONObject, value: JSON) -> JSON:
    """A copy of ``value`` with the schema's ``default`` filled in for absent object properties."""
    if not isinstance(value, dict) or schema.get("type") != "object":
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            return [apply_defaults(schema["items"], item) for item in value]
        return value
    result = dict(value)
    for name, sub in schema.get("properties", {}).items():
        if name not in result and "default" in sub:
            result[name] = _copy(sub["default"])
        if name in result:
            result[name] = apply_defaults(sub, result[name])
    return result


def _copy(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def secret_paths(schema: JSONObject, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths (property names) of every ``writeOnly`` property in nested objects of the schema."""
    for name, sub in schema.get("properties", {}).items():
        if sub.get("writeOnly"):
            yield (*prefix, name)
        elif sub.get("type") == "object":
            yield from secret_paths(sub, (*prefix, name))


def node_refs(schema: JSONObject) -> dict[str, str]:
    """Top-level properties that name another node: property name -> required node type."""
    return {
        name: sub["x-node-type"]
        for name, sub in schema.get("properties", {}).items()
        if isinstance(sub, dict) and "x-node-type" in sub
    }


def get_path(value: JSON, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
    return value


def set_path(value: JSONObject, path: tuple[str, ...], new: JSON) -> None:
    for name in path[:-1]:
        value = value.setdefault(name, {})
    value[path[-1]] = new


def mask(schema: JSONObject, config: JSONObject) -> JSONObject:
    """A copy of ``config`` with every secret that is set replaced by ``*****``."""
    masked: JSONObject = _copy(config)
    for path in secret_paths(schema):
        if get_path(masked, path) not in (None, ""):
            set_path(masked, path, MASK)
    return masked


def redact(text: str, schema: JSONObject, config: JSON) -> str:
    """``text`` (an error, a status) with every secret value of ``config`` replaced by ``*****``."""
    if not isinstance(config, dict):
        return text
    for path in secret_paths(schema):
        value = get_path(config, path)
        if value in (None, "", MASK):
            continue
        for form in sorted({repr(value), json.dumps(value), str(value)}, key=len, reverse=True):
            text = text.replace(form, MASK)
    return text


def strip(schema: JSONObject, config: JSONObject) -> JSONObject:
    """A copy of ``config`` without its secrets (for exports)."""
    stripped: JSONObject = _copy(config)
    for path in secret_paths(schema):
        parent = get_path(stripped, path[:-1]) if len(path) > 1 else stripped
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return stripped
