"""The sandboxed TS013 codec runner: ten vendor-style codecs, hostile scripts, the sandbox's edges."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from flowengine import codec_cli
from flowengine.jscodec import CodecError, JsCodec, check_source

FIXTURES = Path(__file__).parent / "fixtures" / "codecs"
DECODERS = sorted((FIXTURES / "decoders").glob("*.js"))


def hostile(name: str) -> str:
    return (FIXTURES / "hostile" / name).read_text()


def test_there_are_at_least_ten_decoders() -> None:
    assert len(DECODERS) >= 10


@pytest.mark.parametrize("script", DECODERS, ids=lambda p: p.stem)
def test_vendor_codec_passes_its_examples(script: Path) -> None:
    codec = JsCodec(script.read_text(), name=script.name)
    out = io.StringIO()
    status = codec_cli.run_examples(codec, script.with_suffix(".yaml"), out)
    assert status == 0, out.getvalue()
    assert " 0 failed" in out.getvalue()


def test_decode_result_shape() -> None:
    codec = JsCodec((FIXTURES / "decoders" / "environment_sensor.js").read_text())
    result = codec.decode_uplink(bytes.fromhex("ff38510a8c"), 1, "2026-01-01T00:00:00+00:00")
    assert result.data == {"temperature": -2, "humidity": 40.5, "battery": 2.7}
    assert result.warnings == ["low battery"]
    assert result.to_json() == {"data": result.data, "warnings": ["low battery"], "errors": []}
    with pytest.raises(CodecError) as info:
        codec.decode_uplink(b"\x00", 99)
    assert info.value.kind == "errors" and info.value.errors == ["unknown FPort 99"]


def test_encode_downlink_checks_the_result() -> None:
    codec = JsCodec((FIXTURES / "decoders" / "smart_plug.js").read_text())
    encoded = codec.encode_downlink({"relay": "on"})
    assert (encoded.bytes, encoded.fPort) == ([1, 1], 8)
    bad = JsCodec("function encodeDownlink(input) { return {bytes: [1, 300], fPort: 1}; }")
    with pytest.raises(CodecError, match="0..255") as info:
        bad.encode_downlink({})
    assert info.value.kind == "output"
    no_port = JsCodec("function encodeDownlink(input) { return {bytes: [1]}; }")
    assert no_port.encode_downlink({}, 5).fPort == 5
    with pytest.raises(CodecError, match="no fPort"):
        no_port.encode_downlink({})


def test_infinite_loop_is_interrupted_and_the_codec_goes_on() -> None:
    codec = JsCodec(hostile("infinite_loop.js"), time_limit_ms=50)
    for _ in range(2):
        started = time.perf_counter()
        with pytest.raises(CodecError, match="exceeded the time limit of 50 ms") as info:
            codec.decode_uplink(b"\x01", 1)
        assert info.value.kind == "timeout"
        assert time.perf_counter() - started < 2.0
        assert codec.decode_uplink(b"\x07", 2).data == {"first": 7}


def test_deep_recursion_is_a_per_call_error() -> None:
    codec = JsCodec(hostile("deep_recursion.js"))
    for _ in range(3):
        with pytest.raises(CodecError, match="stack overflow") as info:
            codec.decode_uplink(b"\x01\x02", 1)
        assert info.value.kind == "stack"
    assert codec.decode_uplink(b"\x05", 2).data == {"first": 5}


def test_deep_recursion_in_a_thread_with_a_small_stack() -> None:
    outcome: list[object] = []

    def work() -> None:
        codec = JsCodec(hostile("deep_recursion.js"))
        try:
            codec.decode_uplink(b"\x01", 1)
        except CodecError as exc:
            outcome.append(exc.kind)
        outcome.append(codec.decode_uplink(b"\x02", 2).data)

    previous = threading.stack_size(512 * 1024)
    try:
        thread = threading.Thread(target=work)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join(10)
    assert outcome == ["stack", {"first": 2}]


def test_one_gigabyte_allocation_fails_under_the_memory_limit() -> None:
    codec = JsCodec(hostile("memory_hog.js"), memory_limit=32 * 1024 * 1024)
    with pytest.raises(CodecError, match="out of memory") as info:
        codec.decode_uplink(b"\x01", 1)
    assert info.value.kind == "memory"
    assert codec.decode_uplink(b"\x03", 3).data == {"first": 3}


def test_a_leak_into_globals_is_cleared_after_out_of_memory() -> None:
    codec = JsCodec(hostile("memory_hog.js"), memory_limit=32 * 1024 * 1024, time_limit_ms=2000)
    with pytest.raises(CodecError) as info:
        codec.decode_uplink(b"\x01", 2)
    assert info.value.kind == "memory"
    assert codec.recompiles == 1
    assert codec.memory()["memory_used_size"] < 4 * 1024 * 1024
    assert codec.decode_uplink(b"\x04", 3).data == {"first": 4}


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(CodecError) as info:
        JsCodec(hostile("syntax_error.js"))
    assert info.value.kind == "compile"
    assert "line 4 column" in str(info.value) and "SyntaxError" in str(info.value)
    problems = check_source(hostile("syntax_error.js"))
    assert len(problems) == 1 and problems[0].startswith("line 4 column")


def test_top_level_loop_fails_compilation() -> None:
    with pytest.raises(CodecError, match="top level exceeded the time limit"):
        JsCodec("while (true) {}", time_limit_ms=20)


def test_exception_names_the_line() -> None:
    codec = JsCodec(hostile("throws.js"))
    with pytest.raises(CodecError, match=r"decodeUplink threw TypeError: .*\(line 11 column") as info:
        codec.decode_uplink(b"\x01", 1)
    assert info.value.kind == "exception"


def test_the_sandbox_has_no_require_process_files_timers_or_network() -> None:
    codec = JsCodec(hostile("throws.js"))
    assert codec.decode_uplink(b"\x01", 3).data == {
        "require": False, "process": False, "std": False, "timers": False, "fetch": False}
    with pytest.raises(CodecError, match="ReferenceError: require is not defined"):
        codec.decode_uplink(b"\x01", 2)


def test_undefined_becomes_null_and_odd_values_become_json() -> None:
    codec = JsCodec("""
      function decodeUplink(input) {
        return {data: {u: undefined, list: [undefined, 1], typed: new Uint8Array([1, 2]), big: 7n,
                       nan: NaN, date: input.recvTime, fn: function () {}}};
      }""")
    result = codec.decode_uplink(b"", 1, "2026-01-02T03:04:05+00:00")
    assert result.data == {"u": None, "list": [None, 1], "typed": [1, 2], "big": 7, "nan": None,
                           "date": "2026-01-02T03:04:05.000Z", "fn": None}
    assert JsCodec("function decodeUplink() { return {data: undefined}; }").decode_uplink(b"", 1).data is None


def test_input_is_ts013() -> None:
    codec = JsCodec("""
      function decodeUplink(input) {
        return {data: {isArray: Array.isArray(input.bytes), bytes: input.bytes, fPort: input.fPort,
                       isDate: input.recvTime instanceof Date, variables: input.variables}};
      }""")
    result = codec.decode_uplink(b"\x00\xff", 7, "2026-01-01T00:00:00Z", {"k": "v"})
    assert result.data == {"isArray": True, "bytes": [0, 255], "fPort": 7, "isDate": True, "variables": {"k": "v"}}


def test_compiled_once_and_state_persists_between_calls() -> None:
    codec = JsCodec("""
      var compilations = (typeof compilations === 'number' ? compilations : 0) + 1;
      var calls = 0;
      function decodeUplink(input) { calls += 1; return {data: {compilations: compilations, calls: calls}}; }""")
    assert [codec.decode_uplink(b"", 1).data["calls"] for _ in range(3)] == [1, 2, 3]
    assert codec.decode_uplink(b"", 1).data["compilations"] == 1


def test_result_must_be_an_object() -> None:
    with pytest.raises(CodecError, match="must return an object") as info:
        JsCodec("function decodeUplink() { return 42; }").decode_uplink(b"", 1)
    assert info.value.kind == "output"


def test_missing_function_and_let_declarations() -> None:
    codec = JsCodec("const decodeUplink = (input) => ({data: input.fPort});")
    assert codec.functions == ("decodeUplink",)
    assert codec.decode_uplink(b"", 4).data == 4
    with pytest.raises(CodecError, match="defines no encodeDownlink") as info:
        codec.encode_downlink({})
    assert info.value.kind == "missing"
    assert check_source("const decodeUplink = () => ({});", ("decodeUplink", "encodeDownlink")) == [
        "the script defines no encodeDownlink function"]


def test_legacy_ttn_v2_decoder() -> None:
    codec = JsCodec((FIXTURES / "legacy_ttn_v2.js").read_text())
    assert codec.decode_uplink(bytes.fromhex("08e701"), 1).data == {"temperature": 22.79, "led": True}


def test_a_script_cannot_replace_the_bridge() -> None:
    codec = JsCodec("""
      function decodeUplink(input) { JSON.stringify = function () { return '"hacked"'; }; return {data: 1}; }""")
    assert codec.decode_uplink(b"", 1).data == 1
    assert codec.decode_uplink(b"", 1).data == 1


def test_only_the_creating_thread_may_call() -> None:
    codec = JsCodec("function decodeUplink() { return {data: 1}; }")
    errors: list[BaseException] = []

    def other() -> None:
        try:
            codec.decode_uplink(b"", 1)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert len(errors) == 1 and "thread that created it" in str(errors[0])


def test_warm_call_is_fast() -> None:
    codec = JsCodec((FIXTURES / "decoders" / "environment_sensor.js").read_text())
    payload = bytes.fromhex("0906640e10")
    started = time.perf_counter()
    for _ in range(1000):
        codec.decode_uplink(payload, 1)
    assert (time.perf_counter() - started) / 1000 < 0.002  # generous: about 20 µs on a laptop


def test_catastrophic_regex_and_deep_json_are_per_call_errors() -> None:
    regex = JsCodec("function decodeUplink() { return {data: /(a+)+b/.test('a'.repeat(40))}; }", time_limit_ms=50)
    with pytest.raises(CodecError) as info:
        regex.decode_uplink(b"", 1)
    assert info.value.kind == "timeout"
    nested = JsCodec("function decodeUplink() { var o = []; for (var i = 0; i < 100000; i++) o = [o]; return {data: o}; }")
    with pytest.raises(CodecError) as info:
        nested.decode_uplink(b"", 1)
    assert info.value.kind == "stack"


def test_a_script_error_mentioning_memory_is_just_an_exception() -> None:
    codec = JsCodec("function decodeUplink() { throw new Error('payload too long, out of memory'); }")
    with pytest.raises(CodecError, match="threw Error: payload too long") as info:
        codec.decode_uplink(b"", 1)
    assert info.value.kind == "exception" and codec.recompiles == 0
