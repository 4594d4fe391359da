"""Dotted paths into a message: ``payload.decoded.temperature``, ``topic``, ``meta.mqtt.qos``,
``payload.rx.0.rssi`` (a number indexes a list).

The first part names the message field (``payload``, ``topic``, ``meta`` or ``id``). These are the
paths that ``change``, ``switch``, topic templates and the formatters use.
"""

from __future__ import annotations

import functools
from typing import Any

from flowengine.message import Message

ROOTS = ("payload", "topic", "meta", "id")
MISSING: Any = object()
"""Returned by :func:`get` for a path that does not exist."""


class PathError(ValueError):
    """A path that cannot be set (it goes through a value that is not an object or list)."""


@functools.lru_cache(maxsize=4096)
def split(path: str) -> tuple[str, ...]:
    """The parts of ``path``, starting with a message field (``payload`` when it names none)."""
    parts = tuple(path.split("."))
    if parts[0] not in ROOTS:
        parts = ("payload", *parts)
    return parts


class Path:
    """One dotted path, split once: nodes that use a path for every message (``change``) keep one
    (see :func:`compile`) instead of splitting the text each time."""

    __slots__ = ("text", "root", "keys", "parents", "last")

    def __init__(self, text: str) -> None:
        parts = split(text)
        self.text = text
        self.root = parts[0]
        """The message field: ``payload``, ``topic``, ``meta`` or ``id``."""
        self.keys = parts[1:]
        self.parents = parts[1:-1]
        self.last = parts[-1]

    def get(self, msg: Message, default: Any = MISSING) -> Any:
        """The value at this path, or ``default`` when any part is missing."""
        value: Any = getattr(msg, self.root)
        for key in self.keys:
            if isinstance(value, dict):
                if key not in value:
                    return default
                value = value[key]
            elif isinstance(value, list) and (index := _index(key, value)) is not None:
                value = value[index]
            else:
                return default
        return value

    def set(self, msg: Message, value: Any) -> None:  # noqa: A003 - mirrors get()
        """Set the value at this path, creating objects on the way."""
        if not self.keys:
            setattr(msg, self.root, value)
            return
        container: Any = getattr(msg, self.root)
        try:  # the common case: objects all the way
            found = container
            for key in self.parents:
                found = found[key]
            if type(found) is dict:
                found[self.last] = value
                return
        except (LookupError, TypeError):
            pass
        if container is None and self.root == "payload":
            container = msg.payload = {}
        for depth, key in enumerate(self.parents):
            container = _child(container, key, self.root, self.keys[:depth + 1])
        last = self.last
        if isinstance(container, dict):
            container[last] = value
        elif isinstance(container, list) and (index := _index(last, container)) is not None:
            container[index] = value
        else:
            raise PathError(f"cannot set {self.text}: {'.'.join((self.root, *self.parents))} is {type(container).__name__}, not an object")

    def delete(self, msg: Message) -> Any:
        """Remove the value at this path and return it (or :data:`MISSING`)."""
        if not self.keys:
            old = getattr(msg, self.root)
            setattr(msg, self.root, {} if self.root == "meta" else None if self.root == "payload" else "")
            return old
        container: Any = getattr(msg, self.root)
        try:  # the common case: objects all the way
            found = container
            for key in self.parents:
                found = found[key]
            if type(found) is dict:
                return found.pop(self.last, MISSING)
        except (LookupError, TypeError):
            pass
        for key in self.parents:
            if isinstance(container, dict):
                container = container.get(key, MISSING)
            elif isinstance(container, list) and (index := _index(key, container)) is not None:
                container = container[index]
            else:
                return MISSING
        if isinstance(container, dict):
            return container.pop(self.last, MISSING)
        if isinstance(container, list) and (index := _index(self.last, container)) is not None:
            return container.pop(index)
        return MISSING


@functools.lru_cache(maxsize=4096)
def compile(path: str) -> Path:  # noqa: A001 - as re.compile
    """The :class:`Path` for ``path`` (cached)."""
    return Path(path)


def get(msg: Message, path: str, default: Any = MISSING) -> Any:
    """The value at ``path``, or ``default`` when any part is missing."""
    return compile(path).get(msg, default)


def set(msg: Message, path: str, value: Any) -> None:  # noqa: A001 - mirrors get()
    """Set ``path`` to ``value``, creating objects on the way."""
    compile(path).set(msg, value)


def delete(msg: Message, path: str) -> Any:
    """Remove ``path`` and return what was there (or :data:`MISSING`)."""
    return compile(path).delete(msg)


def _child(container: Any, key: str, root: str, keys: tuple[str, ...]) -> Any:
    """The object or list at ``key`` of ``container`` (reached by ``root`` + ``keys``), created when absent."""
    if isinstance(container, dict):
        child = container.get(key)
        if child is None:
            child = container[key] = {}
        elif not isinstance(child, (dict, list)):
            raise PathError(f"cannot set below {'.'.join((root, *keys))}: it is {type(child).__name__}, not an object")
        return child
    if isinstance(container, list) and (index := _index(key, container)) is not None:
        return container[index]
    raise PathError(f"cannot set below {'.'.join((root, *keys[:-1]))}: it is {type(container).__name__}, not an object")


def _index(part: str, value: list[Any]) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        if -len(value) <= index < len(value):
            return index
    return None
