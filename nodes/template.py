"""``template``: renders a Jinja2 template (sandboxed, time-limited) into a message field."""

from __future__ import annotations

import functools
import json
import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from jinja2 import TemplateError, TemplateRuntimeError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from flowengine import paths
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

MAX_OUTPUT = 1_000_000
"""Characters a rendering may produce before it is stopped."""
MAX_WIDTH = 10_000
"""The widest field a format (``%10d``, ``{:>10}``, ``center(10)``, ``str.ljust(10)``) may ask for."""
WIDE_FILTERS = frozenset(["center", "indent", "slice", "format"])
"""Filters whose arguments are widths or counts that size what they build."""


class TemplateTimeout(Exception):
    """A rendering ran past its time limit."""


class TemplateLimitError(TemplateRuntimeError):
    """A rendering asked for more than the limits allow (a huge repeat, width or output)."""


class TemplateRenderError(ValueError):
    """Rendering failed for one message; the text names the template line when known."""


def _line(exc: BaseException) -> str:
    """`` line N`` of the template where ``exc`` was raised (Jinja2 maps its frames to template lines)."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return "" if line is None else f" line {line}"


def _check_widths(numbers: Iterable[Any], what: str) -> None:
    for number in numbers:
        if number == "*" or (isinstance(number, int) and not isinstance(number, bool) and abs(number) > MAX_WIDTH) or (
            isinstance(number, str) and number.isdigit() and int(number) > MAX_WIDTH
        ):
            raise TemplateLimitError(f"{what}: {number} is wider than {MAX_WIDTH}")


def _check_printf(text: str) -> None:
    for match in re.finditer(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?", text):
        _check_widths(match.groups(), f"format {match.group(0)!r}")


def _check_format(text: str) -> None:
    for _, _, spec, _ in string.Formatter().parse(text):
        if spec and "{" in spec:
            raise TemplateLimitError(f"format spec {spec!r}: nested fields are not allowed")
        _check_widths(re.findall(r"\d+", spec or ""), f"format spec {spec!r}")


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses huge widths up front and results past :data:`MAX_OUTPUT` afterwards
    (so chains like ``replace`` cannot grow without bound)."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if name in WIDE_FILTERS:
            _check_widths([*args[1:], *kwargs.values()], f"filter {name}")
            if name == "format":
                value = next((a for a in args if isinstance(a, str)), "")
                _check_printf(value)
        result = function(*args, **kwargs)
        if isinstance(result, (str, list)) and len(result) > MAX_OUTPUT:
            raise TemplateLimitError(f"filter {name} built more than {MAX_OUTPUT} items")
        return result

    return bounded


class _LimitedEnvironment(SandboxedEnvironment):
    """Jinja2's sandbox with bounds on time and size.

    Time: a deadline, checked on every call, attribute and item lookup and on every step of every
    ``for`` loop (an empty loop body has no other place to check). Size: ``*`` and ``**`` are
    intercepted and bounded, as are format widths (``%``, ``str.format``, ``format``, ``center``,
    ``ljust``...) and what a filter returns. Nothing is evaluated at compile time (Jinja folds
    constant expressions while compiling, and compiling is what validation does), so a template
    like ``{{ "x" | center(10**10) }}`` fails when rendered instead of exhausting memory in ``check``.
    """

    deadline = float("inf")
    intercepted_binops = frozenset(["*", "**", "%"])

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("guard_loop"), [loop.iter], [], None, None, lineno=loop.lineno)
        # a setting that is only known at run time makes the whole template "volatile": no folding
        volatile = nodes.EvalContextModifier([nodes.Keyword("autoescape", nodes.EnvironmentAttribute("autoescape"))], lineno=1)
        tree.body.insert(0, volatile)
        return tree

    def guard_loop(self, iterable: Iterable[Any], **_frame: Any) -> Iterator[Any]:
        """What every ``for`` loop iterates over: ``iterable``, checking the deadline at each step."""
        for item in iterable:
            self._check()
            yield item

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(times, int) and len(sequence) * times > MAX_OUTPUT:
                    raise TemplateLimitError(f"repeating a sequence {times} times exceeds {MAX_OUTPUT} items")
            return operator.mul(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                _check_printf(left)
            return operator.mod(left, right)
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 and right * abs(left).bit_length() > 10_000:
            raise TemplateLimitError(f"{left} ** {right} is too large")
        return super().call_binop(context, operator_name, left, right)

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateTimeout("rendering exceeded its time limit")

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self._check()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            if getattr(method, "__name__", "") in ("format", "format_map"):
                _check_format(owner)
            else:
                _check_widths([*args, *kwargs.values()], f"str.{getattr(method, '__name__', '?')}")
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self._check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self._check()
        return super().getitem(obj, argument)


def _environment() -> _LimitedEnvironment:
    environment = _LimitedEnvironment(autoescape=False, keep_trailing_newline=True, optimized=False)
    environment.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    environment.filters = {name: _bounded(name, function) for name, function in environment.filters.items()}
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
        except TemplateTimeout as exc:
            raise TemplateTimeout(f"template{_line(exc)}: rendering exceeded its time limit of {self.config['timeoutMs']} ms") from None
        except Exception as exc:  # anything the template does wrong fails this message, named as such
            reason = str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
            raise TemplateRenderError(f"template{_line(exc)}: {reason}") from None
        finally:
            self._environment.deadline = float("inf")
        if self.config["output"] == "json":
            try:
                value: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TemplateRenderError(f"template output is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
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
                raise TemplateLimitError(f"output exceeds {MAX_OUTPUT} characters")
            chunks.append(chunk)
        return "".join(chunks)
