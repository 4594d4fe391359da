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


def get(msg: Message, path: str, default: Any = MISSING) -> Any:
    """The value at ``path``, or ``default`` when any part is missing."""
    parts = split(path)
    value: Any = getattr(msg, parts[0])
    for part in parts[1:]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and _index(part, value) is not None:
            value = value[_index(part, value)]  # type: ignore[index]
        else:
            return default
    return value


def set(msg: Message, path: str, value: Any) -> None:  # noqa: A001 - mirrors get()
    """Set ``path`` to ``value``, creating objects on the way."""
    parts = split(path)
    if len(parts) == 1:
        setattr(msg, parts[0], value)
        return
    container: Any = getattr(msg, parts[0])
    if container is None and parts[0] == "payload":
        container = msg.payload = {}
    for at, part in enumerate(parts[1:-1], start=1):
        container = _child(container, part, ".".join(parts[: at + 1]))
    last = parts[-1]
    if isinstance(container, list) and _index(last, container) is not None:
        container[_index(last, container)] = value  # type: ignore[index]
    elif isinstance(container, dict):
        container[last] = value
    else:
        raise PathError(f"cannot set {path}: {'.'.join(parts[:-1])} is {type(container).__name__}, not an object")


def delete(msg: Message, path: str) -> Any:
    """Remove ``path`` and return what was there (or :data:`MISSING`)."""
    parts = split(path)
    if len(parts) == 1:
        old = getattr(msg, parts[0])
        setattr(msg, parts[0], {} if parts[0] == "meta" else None if parts[0] == "payload" else "")
        return old
    container = get(msg, ".".join(parts[:-1]))
    if isinstance(container, dict):
        return container.pop(parts[-1], MISSING)
    if isinstance(container, list) and _index(parts[-1], container) is not None:
        return container.pop(_index(parts[-1], container))  # type: ignore[arg-type]
    return MISSING


def _child(container: Any, part: str, where: str) -> Any:
    """The object or list at ``part`` of ``container`` (``where`` is its dotted path), created when absent."""
    if isinstance(container, dict):
        child = container.get(part)
        if child is None:
            child = container[part] = {}
        elif not isinstance(child, (dict, list)):
            raise PathError(f"cannot set below {where}: it is {type(child).__name__}, not an object")
        return child
    if isinstance(container, list) and _index(part, container) is not None:
        return container[_index(part, container)]  # type: ignore[index]
    parent = where.rsplit(".", 1)[0]
    raise PathError(f"cannot set below {parent}: it is {type(container).__name__}, not an object")


def _index(part: str, value: list[Any]) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        if -len(value) <= index < len(value):
            return index
    return None
