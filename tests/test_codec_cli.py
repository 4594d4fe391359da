"""``flowengine codec test``: one payload, device-repository examples, failures and bad input."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

from flowengine import codec_cli

FIXTURES = Path(__file__).parent / "fixtures" / "codecs"
ENV_SENSOR = FIXTURES / "decoders" / "environment_sensor.js"


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="flowengine")
    codec_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def test_decodes_one_payload_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flowengine.codec_cli", "codec", "test", str(ENV_SENSOR), "--fport", "1", "--hex", "0906640e10"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"data": {"temperature": 23.1, "humidity": 50, "battery": 3.6}, "warnings": [], "errors": []}


def test_base64_and_errors() -> None:
    status, out = run("codec", "test", str(ENV_SENSOR), "--fport", "1", "--base64", "CQZkDhA=")
    assert status == 0 and json.loads(out)["data"]["temperature"] == 23.1
    status, out = run("codec", "test", str(ENV_SENSOR), "--fport", "7", "--hex", "00")
    assert status == 1 and json.loads(out)["errors"] == ["unknown FPort 7"]


def test_downlink_decoder() -> None:
    status, out = run("codec", "test", str(FIXTURES / "decoders" / "thermostat.js"), "--downlink", "--fport", "10", "--hex", "512b")
    assert status == 0 and json.loads(out)["data"] == {"setpoint": 21.5}


def test_examples_pass() -> None:
    script = FIXTURES / "decoders" / "smart_plug.js"
    status, out = run("codec", "test", str(script), "--examples", str(script.with_suffix(".yaml")))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "PASS decodeUplink #1 (Relay on, 230 V, 0.5 A, 1234.567 kWh)"
    assert sum(line.startswith("PASS") for line in lines) == 6
    assert lines[-1] == "6 passed, 0 failed"


def test_examples_fail_with_the_difference(tmp_path: Path) -> None:
    examples = tmp_path / "wrong.yaml"
    examples.write_text(
        "uplinkDecoder:\n"
        "  examples:\n"
        "    - description: close enough\n"
        "      input: {fPort: 1, bytes: [0x09, 0x06, 0x64, 0x0E, 0x10]}\n"
        "      output: {data: {temperature: 23.1000000000001, humidity: 50, battery: 3.6}}\n"
        "    - description: wrong\n"
        "      input: {fPort: 1, bytes: [0x09, 0x06, 0x64, 0x0E, 0x10]}\n"
        "      output: {data: {temperature: 23.2, humidity: 50, battery: 3.6, extra: 1}, warnings: [x]}\n"
    )
    status, out = run("codec", "test", str(ENV_SENSOR), "--examples", str(examples))
    assert status == 1
    assert "PASS decodeUplink #1 (close enough)" in out
    assert "FAIL decodeUplink #2 (wrong)" in out
    assert "data.temperature: expected 23.2, got 23.1" in out
    assert "data.extra: missing (expected 1)" in out
    assert "warnings: expected 1 items, got 0" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_exact_comparison_rules() -> None:
    assert codec_cli.compare({"a": 1}, {"a": 1.0000000001}) == []
    assert codec_cli.compare({"a": True}, {"a": 1}) == ["a: expected true, got 1"]
    assert codec_cli.compare({"a": [1, 2]}, {"a": [1, 2], "b": None}) == ["b: unexpected null"]
    assert codec_cli.compare({"a": "1"}, {"a": 1}) == ['a: expected "1", got 1']


def test_plain_list_of_examples(tmp_path: Path) -> None:
    examples = tmp_path / "list.yaml"
    examples.write_text("- input: {fPort: 2, bytes: '0258010a'}\n  output: {data: {interval: 600, firmware: '1.10'}}\n")
    status, out = run("codec", "test", str(ENV_SENSOR), "--examples", str(examples))
    assert status == 0, out


def test_unusable_input(tmp_path: Path) -> None:
    status, out = run("codec", "test", str(tmp_path / "missing.js"), "--hex", "00")
    assert status == 2 and "cannot read" in out
    status, out = run("codec", "test", str(FIXTURES / "hostile" / "syntax_error.js"), "--hex", "00")
    assert status == 2 and "line 4 column" in out
    status, out = run("codec", "test", str(ENV_SENSOR), "--hex", "zz")
    assert status == 2 and "--hex: not hex" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("uplinkDecoder:\n  examples:\n    - output: {}\n")
    status, out = run("codec", "test", str(ENV_SENSOR), "--examples", str(bad))
    assert status == 2 and "needs input" in out


def test_a_looping_codec_is_reported_not_hung() -> None:
    status, out = run("codec", "test", str(FIXTURES / "hostile" / "infinite_loop.js"), "--fport", "1", "--hex", "00",
                      "--timeout-ms", "20")
    assert status == 1 and "exceeded the time limit of 20 ms" in out


def test_wired_into_the_flowengine_command(capsys: object) -> None:
    from flowengine import cli

    status = cli.main(["codec", "test", str(ENV_SENSOR), "--fport", "2", "--hex", "0258010a"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert status == 0 and json.loads(out)["data"] == {"interval": 600, "firmware": "1.10"}
