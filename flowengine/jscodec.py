"""Running LoRa Alliance TS013 payload codecs (JavaScript) in a sandbox.

A device vendor publishes a script defining some of::

    function decodeUplink(input)   // {bytes: [0..255], fPort, recvTime: Date, variables} -> {data, warnings, errors}
    function encodeDownlink(input) // {data, variables} -> {bytes, fPort, warnings, errors}
    function decodeDownlink(input) // {bytes, fPort, variables} -> {data, warnings, errors}

:class:`JsCodec` compiles such a script once in an embedded QuickJS engine (the ``quickjs-ng`` wheel)
and calls it per message. The sandbox:

- has only the ECMAScript built-ins: no ``require``, module loader, file system, network, process
  or timers; ``console.log``/``warn``/``error``/``info``/``debug`` exist and do nothing (vendor
  codecs call them);
- limits each call to ``time_limit_ms`` of CPU time (an infinite loop or a catastrophic regular
  expression is interrupted; QuickJS measures it with C's ``clock()``, the CPU time of the whole
  process, so a busy process interrupts a little early and a descheduled one a little late), the heap to
  ``memory_limit`` bytes (a huge allocation fails with "out of memory") and the JavaScript stack to
  ``stack_size`` bytes (deep recursion fails with a RangeError, long before the native stack is in
  danger);
- turns ``undefined`` into ``null``, typed arrays into lists, BigInts into numbers and dates into
  ISO text, because results go through ``JSON.stringify``.

Every failure raises :class:`CodecError` and the codec keeps working for the next call (after an
out-of-memory the script is recompiled, so global state it leaked is gone). For older scripts, a
The Things Network v2 ``Decoder(bytes, port)`` or ChirpStack v3 ``Decode(fPort, bytes, variables)``
stands in for a missing ``decodeUplink`` (and ``Encoder``/``Encode`` for ``encodeDownlink``).

A QuickJS context must only be used from the thread that created it (its stack limit is measured
from that thread's stack); :class:`JsCodec` checks this. Calls run on the caller's thread, so a
call blocks the event loop for at most ``time_limit_ms``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import quickjs

DEFAULT_TIME_LIMIT_MS = 100
DEFAULT_MEMORY_LIMIT = 16 * 1024 * 1024
DEFAULT_STACK_SIZE = 256 * 1024
GC_EVERY = 1000
"""Run QuickJS's cycle collector every this many calls (reference counting frees the rest at once;
a collection costs about a millisecond, so not after every call)."""
FUNCTIONS = ("decodeUplink", "encodeDownlink", "decodeDownlink")

_PRELUDE = """
(function () {
  var noop = function () {};
  globalThis.console = {log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop};
})();
"""

# Evaluated after the user script, as an expression: its value is a closure that the user script
# cannot replace (it has no global name). JSON.parse/stringify are captured first.
_BRIDGE = """
(function () {
  var parse = JSON.parse, stringify = JSON.stringify, isView = ArrayBuffer.isView, from = Array.from;
  function replacer(key, value) {
    if (value === undefined) return null;
    if (typeof value === 'bigint') return Number(value);
    if (typeof value === 'function' || typeof value === 'symbol') return null;
    if (isView(value)) return from(value);
    return value;
  }
  function lookup(name) {
    try { return typeof globalThis[name] === 'function' ? globalThis[name] : eval(name); }
    catch (e) { return undefined; }
  }
  function legacyDecoder() {
    var ttn = lookup('Decoder'), cs = lookup('Decode');
    if (typeof ttn === 'function') return function (input) { return {data: ttn(input.bytes, input.fPort)}; };
    if (typeof cs === 'function') return function (input) { return {data: cs(input.fPort, input.bytes, input.variables)}; };
    return undefined;
  }
  function legacyEncoder() {
    var ttn = lookup('Encoder'), cs = lookup('Encode');
    if (typeof ttn === 'function') return function (input) { return {bytes: ttn(input.data, input.fPort)}; };
    if (typeof cs === 'function') return function (input) { return {bytes: cs(input.fPort, input.data, input.variables)}; };
    return undefined;
  }
  var table = {
    decodeUplink: lookup('decodeUplink'),
    encodeDownlink: lookup('encodeDownlink'),
    decodeDownlink: lookup('decodeDownlink')
  };
  if (typeof table.decodeUplink !== 'function') table.decodeUplink = legacyDecoder();
  if (typeof table.encodeDownlink !== 'function') table.encodeDownlink = legacyEncoder();
  var names = [];
  for (var name in table) if (typeof table[name] === 'function') names.push(name);
  return function (name, text) {
    if (name === '') return names.join(',');
    var input = parse(text);
    if (input.recvTime !== undefined) input.recvTime = new Date(input.recvTime);
    var result = table[name](input);
    return stringify(result === undefined ? null : result, replacer);
  };
})()
"""


class CodecError(Exception):
    """A codec call failed. ``kind`` is one of ``compile``, ``missing``, ``timeout``, ``memory``,
    ``stack``, ``exception``, ``output`` or ``errors`` (the codec returned a non-empty ``errors``)."""

    def __init__(self, message: str, kind: str = "exception", errors: list[str] | None = None,
                 warnings: list[str] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = errors or []
        self.warnings = warnings or []


@dataclass
class CodecResult:
    """What a decode or encode returned, checked: ``data`` (decoders), ``bytes`` and ``fPort`` (encoders)."""

    data: Any = None
    bytes: list[int] | None = None
    fPort: int | None = None
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.bytes is not None:
            result["bytes"] = self.bytes
            result["fPort"] = self.fPort
        else:
            result["data"] = self.data
        result["warnings"] = self.warnings
        result["errors"] = self.errors
        return result


class JsCodec:
    """One compiled TS013 codec script. Use it from one thread only (see the module docstring)."""

    def __init__(
        self,
        source: str,
        *,
        time_limit_ms: float = DEFAULT_TIME_LIMIT_MS,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        stack_size: int = DEFAULT_STACK_SIZE,
        name: str = "codec",
    ) -> None:
        self.source = source
        self.name = name
        self.time_limit_ms = time_limit_ms
        self.memory_limit = memory_limit
        self.stack_size = stack_size
        self._thread = threading.get_ident()
        self.calls = 0
        self.failures = 0
        self.recompiles = 0
        self._compile()

    # -- public API -----------------------------------------------------------------------------

    @property
    def functions(self) -> tuple[str, ...]:
        """The TS013 functions the script defines (legacy ``Decoder``/``Encode``... count as their TS013 name)."""
        return self._functions

    def has(self, function: str) -> bool:
        return function in self._functions

    def decode_uplink(self, data: bytes | list[int], f_port: int | None, recv_time: datetime | str | None = None,
                      variables: dict[str, Any] | None = None) -> CodecResult:
        """Call ``decodeUplink({bytes, fPort, recvTime, variables})``; raises :class:`CodecError`."""
        return self._decode("decodeUplink", data, f_port, recv_time, variables)

    def decode_downlink(self, data: bytes | list[int], f_port: int | None,
                        variables: dict[str, Any] | None = None) -> CodecResult:
        """Call ``decodeDownlink({bytes, fPort, variables})``; raises :class:`CodecError`."""
        return self._decode("decodeDownlink", data, f_port, None, variables)

    def encode_downlink(self, data: Any, f_port: int | None = None,
                        variables: dict[str, Any] | None = None) -> CodecResult:
        """Call ``encodeDownlink({data, fPort, variables})``: the result has ``bytes`` (0..255 each)
        and ``fPort`` (1..223, from the script or else the one given). Raises :class:`CodecError`."""
        payload: dict[str, Any] = {"data": data, "variables": variables or {}}
        if f_port is not None:
            payload["fPort"] = f_port
        raw = self._call("encodeDownlink", payload)
        warnings, errors = self._messages(raw, "encodeDownlink")
        if errors:
            raise CodecError(f"{self.name}: encodeDownlink: {'; '.join(errors)}", "errors", errors, warnings)
        raw_bytes = raw.get("bytes")
        if not isinstance(raw_bytes, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in raw_bytes
        ):
            raise CodecError(f"{self.name}: encodeDownlink: result.bytes must be a list of integers 0..255, "
                             f"got {_short(json.dumps(raw_bytes))}", "output")
        port = raw.get("fPort", f_port)
        if port is None:
            raise CodecError(f"{self.name}: encodeDownlink: result has no fPort and none was given", "output")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 223:
            raise CodecError(f"{self.name}: encodeDownlink: result.fPort must be an integer 1..223, got {port!r}", "output")
        return CodecResult(bytes=raw_bytes, fPort=port, warnings=warnings)

    def memory(self) -> dict[str, Any]:
        """QuickJS heap statistics (``memory_used_size`` and more)."""
        self._check_thread()
        stats: dict[str, Any] = self._context.memory()
        return stats

    # -- internals ------------------------------------------------------------------------------

    def _compile(self) -> None:
        context = quickjs.Context()
        context.set_memory_limit(self.memory_limit)
        context.set_max_stack_size(self.stack_size)
        context.set_time_limit(self.time_limit_ms / 1000)
        context.eval(_PRELUDE)
        try:
            context.eval(self.source)
        except quickjs.JSException as exc:
            if _first_line(exc) == "InternalError: interrupted":
                raise CodecError(f"{self.name}: the script's top level exceeded the time limit of "
                                 f"{self.time_limit_ms:g} ms", "compile") from None
            raise CodecError(f"{self.name}: {describe_compile_error(exc)}", "compile") from None
        try:
            bridge = context.eval(_BRIDGE)
        except quickjs.JSException as exc:  # the script broke a built-in the bridge needs
            raise CodecError(f"{self.name}: the script breaks the codec bridge: {_first_line(exc)}", "compile") from None
        self._context = context
        self._bridge = bridge
        names = bridge("", "")
        self._functions = tuple(n for n in str(names).split(",") if n)

    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise RuntimeError(f"{self.name}: a JsCodec must be used from the thread that created it")

    def _decode(self, function: str, data: bytes | list[int], f_port: int | None,
                recv_time: datetime | str | None, variables: dict[str, Any] | None) -> CodecResult:
        payload: dict[str, Any] = {"bytes": list(data), "fPort": f_port, "variables": variables or {}}
        if recv_time is not None:
            payload["recvTime"] = recv_time.isoformat() if isinstance(recv_time, datetime) else recv_time
        raw = self._call(function, payload)
        warnings, errors = self._messages(raw, function)
        if errors:
            raise CodecError(f"{self.name}: {function}: {'; '.join(errors)}", "errors", errors, warnings)
        return CodecResult(data=raw.get("data"), warnings=warnings)

    def _call(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._check_thread()
        if function not in self._functions:
            raise CodecError(f"{self.name}: the script defines no {function} function", "missing")
        self.calls += 1
        try:
            text = self._bridge(function, json.dumps(payload))
        except quickjs.StackOverflow as exc:
            self.failures += 1
            raise CodecError(f"{self.name}: {function}: stack overflow (recursion too deep, limit "
                             f"{self.stack_size // 1024} KiB): {_first_line(exc)}", "stack") from None
        except quickjs.JSException as exc:
            self.failures += 1
            first = _first_line(exc)
            if first == "InternalError: interrupted":
                raise CodecError(f"{self.name}: {function}: exceeded the time limit of {self.time_limit_ms:g} ms",
                                 "timeout") from None
            if first.startswith("InternalError: ") and ("out of memory" in first or "too long" in first):
                self._recover()
                raise CodecError(f"{self.name}: {function}: out of memory (limit {self.memory_limit // (1024 * 1024)} MiB): "
                                 f"{first}", "memory") from None
            if first.startswith("RangeError: Maximum call stack"):
                raise CodecError(f"{self.name}: {function}: stack overflow (recursion too deep): {first}", "stack") from None
            raise CodecError(f"{self.name}: {function} threw {describe_js_error(exc)}", "exception") from None
        finally:
            if self.calls % GC_EVERY == 0:
                self._context.gc()
        try:
            result = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            self.failures += 1
            raise CodecError(f"{self.name}: {function}: result is not JSON-able: {exc}", "output") from None
        if not isinstance(result, dict):
            self.failures += 1
            raise CodecError(f"{self.name}: {function} must return an object, got {_short(text)}", "output")
        return result

    def _messages(self, raw: dict[str, Any], function: str) -> tuple[list[str], list[str]]:
        lists: list[list[str]] = []
        for key in ("warnings", "errors"):
            value = raw.get(key)
            if value is None:
                lists.append([])
            elif isinstance(value, list):
                lists.append([v if isinstance(v, str) else json.dumps(v) for v in value])
            else:
                lists.append([str(value)])
        return lists[0], lists[1]

    def _recover(self) -> None:
        """After an out-of-memory, start from a fresh context so leaked globals cannot fail every call."""
        self.recompiles += 1
        self._compile()


_POSITION = re.compile(r"at (?:[^(]*\()?<input>:(\d+):(\d+)\)?")


def describe_compile_error(exc: BaseException) -> str:
    """``line L column C: SyntaxError: ...`` from a QuickJS exception of a script evaluation."""
    text = str(exc)
    first = _first_line(exc)
    match = _POSITION.search(text)
    if match:
        return f"line {match.group(1)} column {match.group(2)}: {first}"
    return first


def describe_js_error(exc: BaseException) -> str:
    """``TypeError: ... (line L column C)`` from a QuickJS exception raised during a call."""
    text = str(exc)
    first = _first_line(exc)
    match = _POSITION.search(text)
    return f"{first} (line {match.group(1)} column {match.group(2)})" if match else first


def check_source(source: str, required: tuple[str, ...] = ()) -> list[str]:
    """Problems of a codec script: a syntax error (with line and column), a top-level error, or a
    function of ``required`` that it does not define. Empty when it is fine."""
    try:
        codec = JsCodec(source, time_limit_ms=1000)
    except CodecError as exc:
        return [str(exc).removeprefix("codec: ")]
    return [f"the script defines no {name} function" for name in required if not codec.has(name)]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
