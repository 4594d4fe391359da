"""``flowengine codec test``: try a TS013 JavaScript codec from the command line.

    flowengine codec test DECODER.js --fport 2 --hex 00e7641f40
    flowengine codec test DECODER.js --examples vendor/device.yaml

The first form prints the ``decodeUplink`` result (``{data, warnings, errors}``) as JSON. The second
runs examples in the shape of The Things Network device repository::

    uplinkDecoder:
      examples:
        - description: Temperature and humidity
          input: {fPort: 2, bytes: [0x00, 0xE7, 0x64]}
          output: {data: {temperature: 2.31, humidity: 50}, warnings: [], errors: []}
    downlinkEncoder:
      examples:
        - input: {data: {interval: 60}}
          output: {bytes: [1, 0, 60], fPort: 3, warnings: [], errors: []}
    downlinkDecoder:
      examples: [...]

(a plain list of examples, or ``examples:`` at the top, means uplink examples). Each result is
compared exactly with the expected output, numbers within 1e-9, a missing ``warnings``/``errors``
counting as empty; one PASS/FAIL line per example, then a summary. Exit status: 0 when everything
passed (or decoded without errors), 1 otherwise, 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from flowengine.jscodec import CodecError, JsCodec
from flowengine.uplink import UplinkError, payload_bytes

TOLERANCE = 1e-9
SECTIONS = (("uplinkDecoder", "decodeUplink"), ("downlinkDecoder", "decodeDownlink"), ("downlinkEncoder", "encodeDownlink"))


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``codec test`` to an argparse subparsers object; the parsed namespace's ``func`` (also set
    as ``command``, which :mod:`flowengine.cli` calls) runs it and returns the exit status."""
    codec: argparse.ArgumentParser = subparsers.add_parser("codec", help="work with payload codecs", description="Work with payload codecs.")
    commands = codec.add_subparsers(dest="codec_command", required=True)
    test = commands.add_parser(
        "test",
        help="run a TS013 JavaScript codec on a payload or on device-repository examples",
        description="Run a TS013 JavaScript codec on one payload (--hex/--base64) or on the examples of a YAML file.",
    )
    test.add_argument("script", metavar="DECODER.js", help="the codec script")
    test.add_argument("--fport", type=int, default=1, help="LoRaWAN port of the payload (default 1)")
    source = test.add_mutually_exclusive_group(required=True)
    source.add_argument("--hex", help="the payload as hex")
    source.add_argument("--base64", help="the payload as base64")
    source.add_argument("--examples", metavar="FILE.yaml", help="examples in the TTN device repository format")
    test.add_argument("--downlink", action="store_true", help="call decodeDownlink instead of decodeUplink")
    test.add_argument("--timeout-ms", type=float, default=100, help="time limit per call (default 100)")
    test.set_defaults(func=run, command=run)  # flowengine.cli dispatches on ``command``
    return codec


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Carry out ``codec test`` for parsed ``args``; returns the exit status."""
    out = out or sys.stdout
    try:
        source = Path(args.script).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.script}: {exc}", file=out)
        return 2
    try:
        codec = JsCodec(source, time_limit_ms=args.timeout_ms, name=Path(args.script).name)
    except CodecError as exc:
        print(f"error: {exc}", file=out)
        return 2
    if args.examples:
        return run_examples(codec, Path(args.examples), out)
    try:
        data = payload_bytes(args.hex, "hex", "--hex") if args.hex is not None \
            else payload_bytes(args.base64, "base64", "--base64")
    except UplinkError as exc:
        print(f"error: {exc}", file=out)
        return 2
    function = "decodeDownlink" if args.downlink else "decodeUplink"
    try:
        result = call(codec, function, {"fPort": args.fport, "bytes": list(data)})
    except CodecError as exc:
        print(f"error: {exc}", file=out)
        return 1
    print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return 1 if result["errors"] else 0


def call(codec: JsCodec, function: str, example_input: dict[str, Any]) -> dict[str, Any]:
    """Call ``function`` with an example's ``input``; returns the TS013 output shape. A codec that
    returned ``errors`` gives them in the output (as the device repository expects) rather than raising."""
    try:
        if function == "encodeDownlink":
            encoded = codec.encode_downlink(example_input.get("data"), example_input.get("fPort"))
            return {"bytes": encoded.bytes, "fPort": encoded.fPort, "warnings": encoded.warnings, "errors": []}
        raw = example_input.get("bytes", [])
        data = payload_bytes(raw, "hex", "input.bytes")
        if function == "decodeDownlink":
            result = codec.decode_downlink(data, example_input.get("fPort"))
        else:
            result = codec.decode_uplink(data, example_input.get("fPort"), example_input.get("recvTime"))
        return {"data": result.data, "warnings": result.warnings, "errors": []}
    except CodecError as exc:
        if exc.kind != "errors":
            raise
        return {"warnings": exc.warnings, "errors": exc.errors}


def load_examples(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(function, example) pairs from a device-repository style YAML file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(document, list):
        document = {"uplinkDecoder": {"examples": document}}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping with uplinkDecoder/downlinkEncoder/downlinkDecoder or a list")
    if "examples" in document and "uplinkDecoder" not in document:
        document = {"uplinkDecoder": {"examples": document["examples"]}}
    found: list[tuple[str, dict[str, Any]]] = []
    for section, function in SECTIONS:
        part = document.get(section)
        if part is None:
            continue
        examples = part.get("examples") if isinstance(part, dict) else part
        if not isinstance(examples, list):
            raise ValueError(f"{path}: {section}.examples must be a list")
        for index, example in enumerate(examples):
            if not isinstance(example, dict) or not isinstance(example.get("input"), dict) or "output" not in example:
                raise ValueError(f"{path}: {section}.examples[{index}] needs input (a mapping) and output")
            found.append((function, example))
    if not found:
        raise ValueError(f"{path}: no examples found")
    return found


def run_examples(codec: JsCodec, path: Path, out: TextIO) -> int:
    """Run every example of ``path``, print PASS/FAIL lines and a summary; 0 when all passed."""
    try:
        examples = load_examples(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=out)
        return 2
    failed = 0
    for number, (function, example) in enumerate(examples, start=1):
        label = f"{function} #{number}" + (f" ({example['description']})" if example.get("description") else "")
        try:
            actual: Any = call(codec, function, example["input"])
        except (CodecError, UplinkError) as exc:
            failed += 1
            print(f"FAIL {label}: {exc}", file=out)
            continue
        differences = compare(normalise_output(example["output"]), actual)
        if differences:
            failed += 1
            print(f"FAIL {label}", file=out)
            for line in differences[:20]:
                print(f"     {line}", file=out)
        else:
            print(f"PASS {label}", file=out)
    passed = len(examples) - failed
    print(f"{passed} passed, {failed} failed", file=out)
    return 1 if failed else 0


def normalise_output(expected: Any) -> Any:
    """An expected output with absent ``warnings``/``errors`` as empty lists (and no ``data`` when it errs)."""
    if not isinstance(expected, dict):
        return expected
    result = dict(expected)
    result.setdefault("warnings", [])
    result.setdefault("errors", [])
    if result["warnings"] is None:
        result["warnings"] = []
    if result["errors"] is None:
        result["errors"] = []
    return result


def compare(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Differences between ``expected`` and ``actual``: exact, except numbers within 1e-9."""
    at = where or "output"
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key in expected:
            if key not in actual:
                problems.append(f"{_join(where, key)}: missing (expected {_show(expected[key])})")
            else:
                problems += compare(expected[key], actual[key], _join(where, key))
        for key in actual:
            if key not in expected:
                problems.append(f"{_join(where, key)}: unexpected {_show(actual[key])}")
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{at}: expected {len(expected)} items, got {len(actual)}: {_show(actual)}"]
        problems = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            problems += compare(left, right, f"{where}[{index}]")
        return problems
    if _number(expected) and _number(actual):
        if math.isclose(expected, actual, rel_tol=0.0, abs_tol=TOLERANCE) or expected == actual:
            return []
        return [f"{at}: expected {_show(expected)}, got {_show(actual)}"]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{at}: expected {_show(expected)}, got {_show(actual)}"]
    return []


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:80] + "..."


def main(argv: list[str] | None = None) -> int:
    """``python -m flowengine.codec_cli codec test ...`` (the same as ``flowengine codec test ...``)."""
    parser = argparse.ArgumentParser(prog="flowengine")
    subparsers = parser.add_subparsers(dest="command_name", required=True)
    register(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
