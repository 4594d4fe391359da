"""Benchmark: payload codecs, decodes per second.

    python bench/codecs.py            # about 10 s
    python bench/codecs.py --quick    # about 3 s

1. **codec-js, warm**: ``JsCodec.decode_uplink`` on an already compiled TS013 codec (QuickJS),
   for three of the test codecs (simple big-endian fields; TLV with a loop; float32 via DataView),
   plus ``encodeDownlink``. Also the one-off cost of compiling a codec (what a deploy pays).
2. **Cayenne LPP**: ``lpp.decode`` of the specification's two examples and of a 6-value payload,
   and ``lpp.encode``.
3. **codec-binary**: the declarative decoder of ``nodes/codec_binary.py`` on a 5-field layout.
4. **Pipeline**: uplinks through the runtime, inject -> uplink-normalise -> codec-js -> dedup,
   messages per second end to end (one asyncio loop, bounded queues).

Each figure is the best of three timed runs of N calls (N adapts to about 0.3 s per run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flowengine import lpp  # noqa: E402
from flowengine.jscodec import JsCodec  # noqa: E402
from nodes.codec_binary import Layout  # noqa: E402

DECODERS = REPO / "tests" / "fixtures" / "codecs" / "decoders"


def rate(call: Callable[[], Any], seconds: float) -> tuple[float, float]:
    """(calls per second, microseconds per call): best of three runs of about ``seconds`` each."""
    call()
    count = 1
    while True:
        started = time.perf_counter()
        for _ in range(count):
            call()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 10:
            break
        count *= 4
    count = max(1, int(count * seconds / elapsed))
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            call()
        runs.append(time.perf_counter() - started)
    best = min(runs)
    return count / best, best / count * 1e6


def pipeline_rate(messages: int) -> float:
    from flowengine.testing import flow_document, running

    script = (DECODERS / "environment_sensor.js").read_text()
    document = flow_document(
        {"id": "in", "type": "inject", "wires": [["norm"]]},
        {"id": "norm", "type": "uplink-normalise", "wires": [["js"]]},
        {"id": "js", "type": "codec-js", "config": {"script": script}, "wires": [["dedup"]]},
        {"id": "dedup", "type": "dedup", "config": {"maxKeys": 10000}},
    )

    async def run() -> float:
        with tempfile.TemporaryDirectory() as data:
            async with running(document, data) as (runtime, _):
                started = time.perf_counter()
                for n in range(messages):
                    await runtime.inject("in", {"devEui": f"{n % 100:016x}", "fPort": 1, "fCnt": n // 100,
                                                "payload": "0906640e10", "receivedAt": "2026-01-01T00:00:00Z"})
                assert await runtime.drained(60)
                return messages / (time.perf_counter() - started)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    seconds = 0.1 if args.quick else 0.3

    rows: list[tuple[str, float, float]] = []
    env = JsCodec((DECODERS / "environment_sensor.js").read_text())
    co2 = JsCodec((DECODERS / "co2_sensor.js").read_text())
    vib = JsCodec((DECODERS / "vibration_sensor.js").read_text())
    plug = JsCodec((DECODERS / "smart_plug.js").read_text())
    env_bytes = bytes.fromhex("0906640e10")
    co2_bytes = bytes.fromhex("010200d202012d03020384040200640501ff")
    vib_bytes = bytes.fromhex("3e8000003f000000000000000a3c")
    rows.append(("codec-js decodeUplink, 5-byte fields (warm)", *rate(lambda: env.decode_uplink(env_bytes, 1), seconds)))
    rows.append(("codec-js decodeUplink, 18-byte TLV (warm)", *rate(lambda: co2.decode_uplink(co2_bytes, 1), seconds)))
    rows.append(("codec-js decodeUplink, float32 DataView (warm)", *rate(lambda: vib.decode_uplink(vib_bytes, 4), seconds)))
    rows.append(("codec-js decodeUplink + recvTime (warm)",
                 *rate(lambda: env.decode_uplink(env_bytes, 1, "2026-01-01T00:00:00+00:00"), seconds)))
    rows.append(("codec-js encodeDownlink (warm)", *rate(lambda: plug.encode_downlink({"interval": 600}), seconds)))
    source = (DECODERS / "smart_plug.js").read_text()
    rows.append(("codec-js compile (cold, once per deploy)", *rate(lambda: JsCodec(source), seconds)))

    spec1 = bytes.fromhex("03670110056700ff")
    spec2 = bytes.fromhex("018806765ff2960a0003e8")
    values = {"temperature_3": 27.2, "temperature_5": 25.5, "relative_humidity_7": 48.5,
              "barometric_pressure_2": 1013.1, "analog_in_4": -1.0, "gps_1": {"latitude": 42.3519, "longitude": -87.9094, "altitude": 10.0}}
    six = lpp.encode(values)
    rows.append(("LPP decode, 2 temperatures (spec example)", *rate(lambda: lpp.decode(spec1), seconds)))
    rows.append(("LPP decode, GPS (spec example)", *rate(lambda: lpp.decode(spec2), seconds)))
    rows.append((f"LPP decode, {len(values)} values / {len(six)} bytes", *rate(lambda: lpp.decode(six), seconds)))
    rows.append((f"LPP encode, {len(values)} values", *rate(lambda: lpp.encode(values), seconds)))

    layout = Layout([
        {"name": "temperature", "offset": 0, "type": "i16", "scale": 0.01},
        {"name": "humidity", "offset": 2, "type": "u8", "scale": 0.5},
        {"name": "battery", "offset": 3, "type": "u16", "endian": "little", "scale": 0.001},
        {"name": "open", "offset": 5, "type": "bits", "bit": 0},
        {"name": "mode", "offset": 5, "type": "bits", "bit": 4, "bits": 3},
    ])
    binary = bytes.fromhex("00e764100e31")
    rows.append(("codec-binary decode, 5 fields", *rate(lambda: layout.decode(binary), seconds)))

    messages = 2000 if args.quick else 10000
    pipeline_name = f"pipeline normalise->codec-js->dedup, {messages} msgs"
    width = max(len(pipeline_name), *(len(r[0]) for r in rows))
    print(f"{'benchmark':<{width}}  {'calls/s':>10}  {'µs/call':>8}")
    print("-" * (width + 22))
    for name, per_second, micros in rows:
        print(f"{name:<{width}}  {per_second:>10,.0f}  {micros:>8.1f}")

    runs = [pipeline_rate(messages) for _ in range(1 if args.quick else 3)]
    print("-" * (width + 22))
    print(f"{pipeline_name:<{width}}  {max(runs):>10,.0f}  "
          f"{1e6 / max(runs):>8.1f}")
    if len(runs) > 1:
        print(f"(pipeline runs: {', '.join(f'{r:,.0f}' for r in runs)} msg/s; median {statistics.median(runs):,.0f})")


if __name__ == "__main__":
    main()
