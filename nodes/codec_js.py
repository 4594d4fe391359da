"""``codec-js``: decodes uplinks and encodes downlinks with a TS013 JavaScript payload codec."""

from __future__ import annotations

from typing import Any, ClassVar

from flowengine import uplink
from flowengine.jscodec import CodecError, JsCodec, check_source
from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

_REQUIRED = {
    "decodeUplink": ("decodeUplink",),
    "encodeDownlink": ("encodeDownlink",),
    "decodeDownlink": ("decodeDownlink",),
}


class CodecJsNode(Node):
    """Runs a device codec written to the LoRa Alliance TS013 API (``decodeUplink``,
    ``encodeDownlink``, ``decodeDownlink``; TTN v2 ``Decoder`` and ChirpStack v3 ``Decode`` also work)
    in a sandboxed QuickJS engine: no ``require``, files, network or timers, a no-op ``console``,
    ``timeoutMs`` of CPU time and ``memoryLimitMb`` of heap per call. The script is compiled once at
    start; a syntax error fails validation. A call that throws, loops, recurses too deep or runs out of
    memory fails only that message (to catch), and the next message is decoded as usual.

    Uplinks (a canonical payload, see ``uplink-normalise``): reads ``payload.bytes`` (hex),
    ``payload.fPort`` and ``payload.receivedAt``; writes the codec's ``data`` to ``payload.decoded``
    (``undefined`` becomes ``null``) and ``{warnings, errors}`` to ``meta.codec``.

    Downlinks: a payload ``{"type": "downlink", "devEui", "fPort"?, "data"}`` without ``bytes`` goes
    through ``encodeDownlink``; the node writes ``payload.bytes`` (hex), ``payload.fPort`` (the codec's,
    else the payload's) and defaults ``confirmed`` (false) and ``reference`` (null), giving a canonical
    downlink. A downlink with ``bytes`` goes through ``decodeDownlink`` when the script has it.
    Join and gateway-alive events pass unchanged.

    A codec that returns ``errors`` fails the message (``meta.codec.errors`` says why) or, with
    ``onErrors: forward``, passes it on with ``payload.decoded`` null."""

    type = "codec-js"
    category = "codec"
    color = "#fdd0a2"
    label = "JavaScript codec"
    schema: ClassVar[JSONObject] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["script"],
        "properties": {
            "script": {"title": "Codec script", "type": "string", "format": "code", "x-language": "javascript",
                       "description": "TS013 codec: function decodeUplink(input) { return {data, warnings, errors}; } and optionally encodeDownlink/decodeDownlink."},
            "function": {"title": "Function", "enum": ["auto", "decodeUplink", "encodeDownlink", "decodeDownlink"],
                         "description": "Which function to call; auto decodes uplinks and encodes downlinks that have data but no bytes.",
                         "default": "auto"},
            "timeoutMs": {"title": "Time limit (ms)", "type": "number", "minimum": 1, "maximum": 5000,
                          "description": "CPU time one call may take before it is interrupted.", "default": 100},
            "memoryLimitMb": {"title": "Memory limit (MiB)", "type": "integer", "minimum": 1, "maximum": 1024,
                              "description": "Heap the script may use.", "default": 16},
            "variables": {"title": "Variables", "type": "object",
                          "description": "Passed to the codec as input.variables (ChirpStack style device variables).", "default": {}},
            "onErrors": {"title": "When the codec returns errors", "enum": ["fail", "forward"],
                         "description": "fail: the message goes to catch; forward: it goes on with payload.decoded null and meta.codec.errors.",
                         "default": "fail"},
        },
    }

    @classmethod
    def check(cls, config: JSONObject) -> list[tuple[str, str]]:
        function = config.get("function", "auto")
        problems = check_source(config["script"], _REQUIRED.get(function, ()))
        if not problems and function == "auto":
            codec = JsCodec(config["script"], time_limit_ms=1000)
            if not (codec.has("decodeUplink") or codec.has("encodeDownlink")):
                problems.append("the script defines neither decodeUplink nor encodeDownlink")
        return [("/script", problem) for problem in problems]

    async def start(self) -> None:
        try:
            self._codec: JsCodec | None = JsCodec(
                self.config["script"],
                time_limit_ms=self.config["timeoutMs"],
                memory_limit=self.config["memoryLimitMb"] * 1024 * 1024,
                name="script",
            )
        except CodecError as exc:
            raise ValueError(f"config.script: {exc}") from None

    async def stop(self) -> None:
        self._codec = None

    async def on_message(self, msg: Message) -> Message:
        codec = self._codec
        if codec is None:
            raise RuntimeError("the codec is stopped")
        payload = msg.payload
        if not isinstance(payload, dict):
            raise ValueError(f"payload: expected a canonical uplink or downlink object, got {type(payload).__name__} "
                             "(put uplink-normalise before codec-js)")
        function = self._function(payload, codec)
        if function is None:
            return msg
        variables = self.config["variables"]
        try:
            if function == "encodeDownlink":
                if "data" not in payload:
                    raise ValueError("payload.data: missing: encodeDownlink needs the values to encode")
                encoded = codec.encode_downlink(payload["data"], payload.get("fPort"), variables)
                payload["type"] = "downlink"
                payload["bytes"] = bytes(encoded.bytes or []).hex()
                payload["fPort"] = encoded.fPort
                payload.setdefault("confirmed", False)
                payload.setdefault("reference", None)
                msg.meta["codec"] = {"function": function, "warnings": encoded.warnings, "errors": []}
                return msg
            if "bytes" not in payload:
                raise ValueError("payload.bytes: missing (put uplink-normalise before codec-js)")
            data = uplink.payload_bytes(payload["bytes"], "hex", "payload.bytes")
            if function == "decodeDownlink":
                result = codec.decode_downlink(data, payload.get("fPort"), variables)
            else:
                result = codec.decode_uplink(data, payload.get("fPort"), payload.get("receivedAt"), variables)
        except CodecError as exc:
            msg.meta["codec"] = {"function": function, "warnings": exc.warnings, "errors": exc.errors or [str(exc)]}
            if exc.kind == "errors" and self.config["onErrors"] == "forward":
                payload["decoded"] = None
                return msg
            raise
        payload["decoded"] = result.data
        msg.meta["codec"] = {"function": function, "warnings": result.warnings, "errors": []}
        return msg

    def _function(self, payload: dict[str, Any], codec: JsCodec) -> str | None:
        chosen = self.config["function"]
        if chosen != "auto":
            return str(chosen)
        kind = payload.get("type", "uplink")
        if kind == "downlink":
            if "data" in payload and not payload.get("bytes"):
                return "encodeDownlink"
            return "decodeDownlink" if codec.has("decodeDownlink") else None
        if kind in ("join", "gwalive"):
            return None
        return "decodeUplink"
