"""``template``: renders a Jinja2 template (sandboxed, time-limited) into a message field."""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

MAX_OUTPUT = 1_000_000
"""Characters a rendering may produce before it is stopped."""


class TemplateTimeout(Exception):
    """A rendering ran past its time limit."""


class _LimitedEnvironment(SandboxedEnvironment):
    """Jinja2's sandbox plus a deadline, checked on every call, attribute and item lookup."""

    deadline = float("inf")

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateTimeout("template rendering exceeded its time limit")

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self._check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self._check()
        return super().getitem(obj, argument)


def _environment() -> _LimitedEnvironment:
    environment = _LimitedEnvironment(autoescape=False, keep_trailing_newline=True)
    environment.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    return environment


class TemplateNode(Node):
    """Renders ``template`` with ``payload``, ``topic``, ``meta`` and ``msg`` in scope and writes
    the result to ``field``: parsed as JSON when ``output`` is ``json``, as text otherwise. Runs in
    Jinja2's ``SandboxedEnvironment`` (no access to Python internals) with a time limit of
    ``timeoutMs`` per message; a syntax error fails validation, a rendering error or timeout fails
    only that message."""

    type = "template"
    category = "transform"
    color = "#e6e0f8"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["template"],
        "properties": {
            "template": {"title": "Template", "type": "string", "format": "template", "description": "Jinja2 template; e.g. {\"temp\": {{ payload.decoded.temperature | tojson }}}"},
            "output": {"title": "Output", "enum": ["json", "text"], "description": "Parse the rendering as JSON, or keep it as text.", "default": "json"},
            "field": {"title": "Write to", "type": "string", "description": "Dotted path of the field to write.", "default": "payload"},
            "timeoutMs": {"title": "Time limit (ms)", "type": "integer", "minimum": 1, "maximum": 10000, "description": "Longest a rendering may take.", "default": 100},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        try:
            _environment().from_string(config["template"])
        except TemplateSyntaxError as exc:
            return [("/template", f"line {exc.lineno}: {exc.message}")]
        return []

    async def start(self) -> None:
        self._environment = _environment()
        self._template = self._environment.from_string(self.config["template"])

    async def on_message(self, msg: Message) -> Message:
        self._environment.deadline = time.monotonic() + self.config["timeoutMs"] / 1000
        context = {"payload": msg.payload, "topic": msg.topic, "meta": msg.meta, "msg": msg.to_json()}
        try:
            text = self._render(context)
        except TemplateTimeout:
            raise
        except TemplateError as exc:
            raise ValueError(f"template: {exc}") from None
        finally:
            self._environment.deadline = float("inf")
        if self.config["output"] == "json":
            try:
                value: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"template output is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        else:
            value = text
        paths.set(msg, self.config["field"], value)
        return msg

    def _render(self, context: dict[str, Any]) -> str:
        chunks: list[str] = []
        size = 0
        for chunk in self._template.generate(context):
            self._environment._check()
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise ValueError(f"template output exceeds {MAX_OUTPUT} characters")
            chunks.append(chunk)
        return "".join(chunks)
