"""Validation of a flow document: every problem at once, each naming its place.

A problem names the node id, its type, a JSON pointer into the node and the reason::

    node n3 (mqtt-out): /config/qos: 3 is not one of [0, 1, 2]

Nothing starts from a document with problems; ``run`` refuses it and ``serve`` keeps the
running flows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import networkx as nx

from flowengine import document as doc
from flowengine.registry import Registry
from flowengine.schema import apply_defaults, node_refs
from flowengine.types import Document, JSONObject


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document."""

    where: str
    """``node n3 (mqtt-out)``, ``flow f1`` or ``document``."""
    pointer: str
    reason: str
    node_id: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.pointer or '/'}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node_id, "where": self.where, "pointer": self.pointer, "reason": self.reason, "text": str(self)}


@dataclass
class Validation:
    """The outcome: the problems, and for a valid document each node's ready-to-run config."""

    problems: list[Problem] = field(default_factory=list)
    configs: dict[str, JSONObject] = field(default_factory=dict)
    """Node id -> config with ``${ENV}`` substituted and schema defaults filled in."""

    @property
    def ok(self) -> bool:
        return not self.problems


class InvalidDocument(Exception):
    """Raised where a document must be valid; carries every problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def validate(document: Document, registry: Registry, environ: Mapping[str, str] | None = None) -> Validation:
    """Check ``document`` against the format, the registry's node types and the environment."""
    environ = os.environ if environ is None else environ
    result = Validation()
    problems = result.problems

    if document.get("version") != doc.VERSION:
        problems.append(Problem("document", "/version", f"unknown version {document.get('version')!r}; expected {doc.VERSION}"))

    flows = _list_of_objects(document, "flows", problems)
    nodes = _list_of_objects(document, "nodes", problems)
    flow_ids: set[str] = set()
    for index, flow in flows:
        flow_id = flow.get("id")
        if not isinstance(flow_id, str) or not flow_id:
            problems.append(Problem("document", f"/flows/{index}/id", "a flow needs a non-empty string id"))
        elif flow_id in flow_ids:
            problems.append(Problem(f"flow {flow_id}", f"/flows/{index}/id", "duplicate flow id"))
        else:
            flow_ids.add(flow_id)

    by_id: dict[str, JSONObject] = {}
    for index, node in nodes:
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id:
            problems.append(Problem("document", f"/nodes/{index}/id", "a node needs a non-empty string id"))
        elif node_id in by_id:
            problems.append(Problem(_where(node), "/id", f"duplicate node id (also at /nodes/{index})", node_id))
        else:
            by_id[node_id] = node

    for node in by_id.values():
        _check_node(node, registry, flow_ids, by_id, environ, result)

    _check_cycles(by_id, problems)
    return result


def _list_of_objects(document: Document, key: str, problems: list[Problem]) -> list[tuple[int, JSONObject]]:
    """The objects of ``document[key]`` with their positions; anything else is a problem."""
    items = document.get(key, [])
    if not isinstance(items, list):
        problems.append(Problem("document", f"/{key}", f"expected a list, got {type(items).__name__}"))
        return []
    good = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            good.append((index, item))
        else:
            problems.append(Problem("document", f"/{key}/{index}", f"expected an object, got {type(item).__name__}"))
    return good


def _where(node: JSONObject) -> str:
    return f"node {node.get('id')} ({node.get('type')})"


def _check_node(
    node: JSONObject,
    registry: Registry,
    flow_ids: set[str],
    by_id: dict[str, JSONObject],
    environ: Mapping[str, str],
    result: Validation,
) -> None:
    problems = result.problems
    node_id = node["id"]
    where = _where(node)

    def problem(pointer: str, reason: str) -> None:
        problems.append(Problem(where, pointer, reason, node_id))

    node_type = registry.get(node.get("type"))  # type: ignore[arg-type]
    if node_type is None:
        problem("/type", f"unknown node type {node.get('type')!r}")

    flow_id = node.get("flow")
    is_config = node_type is not None and node_type.category == "config"
    if flow_id is None and not is_config:
        problem("/flow", "missing; every node but a config node belongs to a flow")
    elif flow_id is not None and flow_id not in flow_ids:
        problem("/flow", f"no flow with id {flow_id!r}")

    for key, kinds, label in (("name", (str,), "a string"), ("disabled", (bool,), "true or false"),
                              ("x", (int, float), "a number"), ("y", (int, float), "a number")):
        if key in node and not isinstance(node[key], kinds):
            problem(f"/{key}", f"expected {label}, got {node[key]!r}")

    config = node.get("config", {})
    if not isinstance(config, dict):
        problem("/config", f"expected an object, got {type(config).__name__}")
        config = {}
    config, missing = doc.substitute_env(config, environ, "/config")
    for pointer, variable in missing:
        problem(pointer, f"environment variable {variable} is not set")

    outputs = 0
    if node_type is not None:
        config = apply_defaults(node_type.schema, config)
        validator = jsonschema.Draft202012Validator(node_type.schema)
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
            pointer = "/config" + "".join(f"/{part}" for part in error.absolute_path)
            problem(pointer, _reason(error))
        if not problems or all(p.node_id != node_id for p in problems):
            for pointer, reason in node_type.check(config):
                problem("/config" + pointer, reason)
        for prop, ref_type in node_refs(node_type.schema).items():
            ref = config.get(prop)
            if ref in (None, ""):
                continue
            target = by_id.get(ref)
            if target is None:
                problem(f"/config/{prop}", f"no node with id {ref!r}")
            elif target.get("type") != ref_type:
                problem(f"/config/{prop}", f"node {ref} is a {target.get('type')}, expected a {ref_type}")
        try:
            outputs = node_type.output_count(config)
        except (KeyError, TypeError, ValueError):
            outputs = node_type.outputs
        result.configs[node_id] = config

    wires = node.get("wires", [])
    if not isinstance(wires, list) or not all(isinstance(port, list) for port in wires):
        problem("/wires", "expected a list of lists of node ids")
        return
    for port, targets in enumerate(wires):
        if node_type is not None and port >= outputs and targets:
            problem(f"/wires/{port}", f"output port {port} does not exist; the node has {outputs} output(s)")
        for index, target_id in enumerate(targets):
            pointer = f"/wires/{port}/{index}"
            target = by_id.get(target_id) if isinstance(target_id, str) else None
            if target is None:
                problem(pointer, f"wire to missing node {target_id!r}")
                continue
            if target.get("flow") != flow_id:
                problem(pointer, f"wire to node {target_id} in another flow ({target.get('flow')})")
            target_type = registry.get(target.get("type"))  # type: ignore[arg-type]
            if target_type is not None and target_type.inputs == 0:
                problem(pointer, f"wire to node {target_id} ({target_type.type}), which has no input")


def _reason(error: jsonschema.ValidationError) -> str:
    message = str(error.message)
    if error.validator == "additionalProperties":
        return message.replace("Additional properties are not allowed", "unknown field(s)")
    return message


def _check_cycles(by_id: dict[str, JSONObject], problems: list[Problem]) -> None:
    graph = wire_graph(by_id.values())
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            (only,) = component
            if not graph.has_edge(only, only):
                continue
        cycle = nx.find_cycle(graph.subgraph(component))
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
        first = by_id[cycle[0][0]]
        problems.append(Problem(_where(first), "/wires", f"cycle: {path}", first["id"]))


def wire_graph(nodes: Any) -> nx.DiGraph:
    """The directed graph of wires between existing nodes."""
    graph = nx.DiGraph()
    ids = set()
    for node in nodes:
        ids.add(node["id"])
        graph.add_node(node["id"])
    for node in nodes:
        wires = node.get("wires", [])
        if not isinstance(wires, list):
            continue
        for port in wires:
            if not isinstance(port, list):
                continue
            for target in port:
                if isinstance(target, str) and target in ids:
                    graph.add_edge(node["id"], target)
    return graph
