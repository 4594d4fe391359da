"""The flow document: loading, normalising, saving, and ``${ENV}`` substitution.

A document is plain JSON::

    {"version": 1,
     "flows": [{"id": "f1", "label": "Uplinks", "disabled": false}],
     "nodes": [{"id": "n1", "type": "inject", "flow": "f1", "name": "", "config": {},
                "wires": [["n2"]], "x": 120, "y": 80, "disabled": false}]}

It stays a dict everywhere in the engine (the dict is the truth); this module only reads it,
fills in the optional fields and writes it back in a stable form, so that changing one node is a
small git diff: keys in a fixed order, nodes sorted by flow and id, targets of a port sorted,
two-space indentation, a newline at the end.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowengine.types import JSON, Document

VERSION = 1
NODE_KEYS = ("id", "type", "flow", "name", "disabled", "x", "y", "wires", "config")
FLOW_KEYS = ("id", "label", "disabled", "info")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DocumentError(Exception):
    """A document that cannot be read at all (not JSON, not an object)."""


def empty() -> Document:
    return {"version": VERSION, "flows": [], "nodes": []}


def parse(text: str) -> Document:
    """Parse JSON text; a syntax error names its line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"document: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise DocumentError(f"document: expected a JSON object, got {type(data).__name__}")
    return data


def load(path: str | Path) -> Document:
    """Read a document from a file (UTF-8)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(f"document: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DocumentError(f"document: {path} is not UTF-8 (byte offset {exc.start})") from None
    return parse(text)


def normalise(document: Document) -> Document:
    """A copy with every optional field filled in, keys ordered and nodes sorted.

    Assumes the shape was validated (:func:`flowengine.validation.check_shape`).
    """
    flows = []
    for flow in document.get("flows", []):
        filled = {"id": flow["id"], "label": flow.get("label", flow["id"]), "disabled": bool(flow.get("disabled", False))}
        if flow.get("info"):
            filled["info"] = flow["info"]
        flows.append(filled)
    flow_order = {flow["id"]: index for index, flow in enumerate(flows)}
    nodes = []
    for node in document.get("nodes", []):
        filled = {
            "id": node["id"],
            "type": node["type"],
            "flow": node.get("flow"),
            "name": node.get("name", ""),
            "disabled": bool(node.get("disabled", False)),
            "x": node.get("x", 0),
            "y": node.get("y", 0),
            "wires": [sorted(port) for port in node.get("wires", [])],
            "config": _sorted_keys(node.get("config", {})),
        }
        nodes.append(filled)
    nodes.sort(key=lambda n: (flow_order.get(n["flow"], -1), str(n["id"])))
    return {"version": document.get("version", VERSION), "flows": flows, "nodes": nodes}


def dumps(document: Document) -> str:
    """The stable text form of a document."""
    return json.dumps(normalise(document), indent=2, ensure_ascii=False) + "\n"


def save(document: Document, path: str | Path) -> None:
    """Write a document atomically (a temporary file renamed over the target)."""
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(dumps(document), encoding="utf-8")
    os.replace(temporary, target)


def _sorted_keys(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def substitute_env(value: JSON, environ: Mapping[str, str], pointer: str = "") -> tuple[JSON, list[tuple[str, str]]]:
    """Replace ``${NAME}`` in every string of ``value`` from ``environ``.

    Returns the new value and the ``(pointer, variable)`` pairs that were missing.
    """
    missing: list[tuple[str, str]] = []

    def walk(item: JSON, at: str) -> JSON:
        if isinstance(item, str):
            def replace(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in environ:
                    missing.append((at, name))
                    return match.group(0)
                return environ[name]
            return _ENV.sub(replace, item)
        if isinstance(item, dict):
            return {key: walk(sub, f"{at}/{_escape(key)}") for key, sub in item.items()}
        if isinstance(item, list):
            return [walk(sub, f"{at}/{index}") for index, sub in enumerate(item)]
        return item

    return walk(value, pointer), missing


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def nodes_by_id(document: Document) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in document.get("nodes", [])}
