"""Finds node types through the entry-point group ``flowengine.nodes``.

An entry point names either one :class:`~flowengine.node.Node` subclass
(``my-node = "mypkg.mynode:MyNode"``) or a package whose modules define node types
(``builtin = "nodes"``, which is how flowengine's own ``nodes/`` registers). The engine never
imports a node module by name; a third party adds a node type exactly the same way.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from types import ModuleType

from flowengine.node import Node
from flowengine.types import CATEGORIES

ENTRY_POINT_GROUP = "flowengine.nodes"


class RegistryError(Exception):
    """A node type that cannot be registered (duplicate name, missing schema, bad category)."""


class Registry:
    """The node types known to this process, by type name."""

    def __init__(self, node_types: Iterable[type[Node]] = ()) -> None:
        self._types: dict[str, type[Node]] = {}
        for node_type in node_types:
            self.register(node_type)

    @classmethod
    def from_entry_points(cls) -> Registry:
        """A registry of every node type installed in this Python environment."""
        registry = cls()
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            for node_type in _node_types_in(entry_point.load()):
                registry.register(node_type)
        return registry

    def register(self, node_type: type[Node]) -> None:
        name = node_type.type
        if not name:
            raise RegistryError(f"{node_type.__qualname__} has no type name")
        if node_type.category not in CATEGORIES:
            raise RegistryError(f"node type {name}: category {node_type.category!r} is not one of {CATEGORIES}")
        if node_type.schema.get("type") != "object":
            raise RegistryError(f"node type {name}: schema must describe an object")
        known = self._types.get(name)
        if known is not None and known is not node_type:
            raise RegistryError(
                f"node type {name} is registered twice: {known.__module__} and {node_type.__module__}"
            )
        self._types[name] = node_type

    def get(self, name: str) -> type[Node] | None:
        return self._types.get(name)

    def __getitem__(self, name: str) -> type[Node]:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[type[Node]]:
        return iter(sorted(self._types.values(), key=lambda t: (CATEGORIES.index(t.category), t.type)))

    def __len__(self) -> int:
        return len(self._types)


def _node_types_in(target: object) -> list[type[Node]]:
    """The node classes an entry point designates: the class itself, or those defined in a package."""
    if inspect.isclass(target) and issubclass(target, Node):
        return [target]
    if not isinstance(target, ModuleType):
        raise RegistryError(f"entry point {target!r} is neither a Node subclass nor a module")
    modules = [target]
    if hasattr(target, "__path__"):
        for info in pkgutil.iter_modules(target.__path__, target.__name__ + "."):
            modules.append(importlib.import_module(info.name))
    found = []
    for module in modules:
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Node)
                and value.__module__ == module.__name__
                and value.type
            ):
                found.append(value)
    return found
