"""Type aliases shared across the engine."""

from __future__ import annotations

from typing import Any, Literal

JSON = Any
"""A JSON-able value: dict, list, str, int, float, bool or None."""

JSONObject = dict[str, Any]
Document = dict[str, Any]
"""A flow document as plain data (see :mod:`flowengine.document`)."""

Category = Literal["source", "codec", "transform", "filter", "sink", "config"]
"""Where a node type sits in the palette. ``config`` nodes (a shared broker connection) are not
drawn on the canvas; other nodes refer to them by id."""

CATEGORIES: tuple[str, ...] = ("source", "codec", "transform", "filter", "sink", "config")
